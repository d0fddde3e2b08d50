"""The audit chain notices edits, deletions and reordering done directly in the
database, on SQLite and PostgreSQL, and names the first broken link."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from fleetwarden.domain.records import RecordKind
from fleetwarden.services import audit, registry
from tests.integration.helpers import Env, make_env


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    e = make_env(database_url)
    for i in range(12):
        registry.create(e.platform, e.admin, RecordKind.SITE, {"name": f"site-{i}"})
    assert audit.verify(e.platform, e.admin).ok
    yield e
    e.app.engine.dispose()


def _sql(env: Env, statement: str, **params: object) -> None:
    with env.app.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.execute(text(statement), params)


def _break(env: Env) -> tuple[int, str]:
    report = audit.verify(env.platform, env.admin)
    assert not report.ok and report.first_break is not None
    return report.first_break.seq, report.first_break.reason


def test_intact_chain_reports_counts(env: Env) -> None:
    report = audit.verify(env.platform, env.admin)
    assert report.events_checked == 15 and report.last_seq == 15


def test_edited_row_is_detected(env: Env) -> None:
    _sql(env, "UPDATE audit_events SET actor = 'someone-else' WHERE seq = 7")
    seq, reason = _break(env)
    assert seq == 7 and "edited" in reason


def test_edited_and_rehashed_row_breaks_the_next_link(env: Env) -> None:
    from fleetwarden.domain.audit import compute_hash

    with env.app.engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM audit_events WHERE seq = 7")).mappings().one()
    events = list(audit.export(env.platform, env.admin))
    forged = events[6].payload() | {"actor": "forger"}
    _sql(env, "UPDATE audit_events SET actor = 'forger', hash = :h WHERE id = :id",
         h=compute_hash(forged), id=row["id"])
    seq, reason = _break(env)
    assert seq == 8 and "prev_hash" in reason


def test_deleted_row_is_detected(env: Env) -> None:
    _sql(env, "DELETE FROM audit_events WHERE seq = 5")
    seq, _ = _break(env)
    assert seq == 5


def test_reordered_rows_are_detected(env: Env) -> None:
    _sql(env, "UPDATE audit_events SET seq = -1 WHERE seq = 4")
    _sql(env, "UPDATE audit_events SET seq = 4 WHERE seq = 5")
    _sql(env, "UPDATE audit_events SET seq = 5 WHERE seq = -1")
    seq, _ = _break(env)
    assert seq == 4


def test_truncated_tail_is_detected_by_the_head(env: Env) -> None:
    _sql(env, "DELETE FROM audit_events WHERE seq > 12")
    seq, reason = _break(env)
    assert seq == 13 and "head" in reason


def test_truncated_tail_and_rewound_head_is_caught_by_a_signed_checkpoint(env: Env) -> None:
    assert audit.checkpoint(env.platform, env.admin) == 15
    _sql(env, "DELETE FROM audit_events WHERE seq > 12")
    _sql(env, "UPDATE audit_heads SET seq = 12, hash = (SELECT hash FROM audit_events "
              "WHERE seq = 12)")
    seq, reason = _break(env)
    assert "checkpoint" in reason


def test_forged_checkpoint_signature_is_detected(env: Env) -> None:
    audit.checkpoint(env.platform, env.admin)
    _sql(env, "UPDATE audit_checkpoints SET signature = 'AAAA' WHERE seq = 15")
    _, reason = _break(env)
    assert "signature" in reason


def test_secrets_never_reach_the_log(env: Env) -> None:
    registry.create(env.platform, env.admin, RecordKind.SUPPLIER, {
        "name": "Leaky Ltd",
        "notes": "portal https://ops:hunter2@leaky.example/ password=hunter2 "
                 "token fw_0123456789ab_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
    })
    dumped = " ".join(str(e.after) for e in audit.export(env.platform, env.admin))
    assert "hunter2" not in dumped and "abcdefghijklmnopqrstuvwxyz" not in dumped
    assert "[REDACTED]" in dumped
    assert audit.verify(env.platform, env.admin).ok
