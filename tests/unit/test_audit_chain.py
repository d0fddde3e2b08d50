"""The audit chain: canonical hashing, sealing and every kind of tampering verify_chain
must catch. Uses a real Ed25519 signer for checkpoints (no files needed)."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fleetwarden.adapters.crypto.signing import Ed25519Signer
from fleetwarden.domain.audit import (
    GENESIS_HASH,
    REDACTED,
    AuditEvent,
    BrokenLink,
    ChainHead,
    ChainReport,
    Checkpoint,
    canonical_json,
    checkpoint_due,
    compute_hash,
    format_timestamp,
    seal,
    verify_chain,
)
from fleetwarden.errors import InputError

T0 = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


def build_chain(n: int, tenant_id: int = 1) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        ev = seal(
            tenant_id=tenant_id,
            seq=seq,
            at=format_timestamp(T0 + timedelta(seconds=seq)),
            actor="alice",
            action="device.update",
            object_type="device",
            object_id=str(1000 + seq),
            before={"name": f"cam-{seq}", "firmware": "1.0"},
            after={"name": f"cam-{seq}", "firmware": "1.1"},
            reason=f"rollout step {seq}",
            prev_hash=prev,
        )
        events.append(ev)
        prev = ev.hash
    return events


def head_of(events: list[AuditEvent], tenant_id: int = 1) -> ChainHead:
    return ChainHead(tenant_id=tenant_id, seq=events[-1].seq, hash=events[-1].hash)


@pytest.fixture(scope="module")
def signer() -> Ed25519Signer:
    return Ed25519Signer.generate()


@pytest.fixture(scope="module")
def chain() -> list[AuditEvent]:
    return build_chain(50)


def checkpoints_for(
    signer: Ed25519Signer, events: list[AuditEvent], interval: int = 10
) -> list[Checkpoint]:
    return [
        signer.sign_checkpoint(e.tenant_id, e.seq, e.hash, e.at)
        for e in events
        if checkpoint_due(e.seq, interval)
    ]


def verify(
    events: list[AuditEvent],
    signer: Ed25519Signer,
    checkpoints: list[Checkpoint] | None = None,
    head: ChainHead | None = None,
    tenant_id: int = 1,
) -> ChainReport:
    return verify_chain(tenant_id, events, checkpoints or [], head, signer.verify_checkpoint)


def assert_break(report: ChainReport, seq: int, *words: str) -> BrokenLink:
    assert not report.ok
    assert report.first_break is not None, report
    assert report.first_break.seq == seq, report.first_break
    for w in words:
        assert w in report.first_break.reason, report.first_break.reason
    assert "\n" not in report.first_break.reason
    return report.first_break


# ------------------------------------------------------------------- canonical JSON


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1, 2, {"d": None, "c": "é"}]}) == (
        '{"a":[1,2,{"c":"é","d":null}],"b":1}'.encode()
    )


def test_canonical_json_independent_of_insertion_order() -> None:
    assert canonical_json({"x": 1, "y": 2}) == canonical_json({"y": 2, "x": 1})


def test_canonical_json_survives_a_storage_round_trip(chain: list[AuditEvent]) -> None:
    payload = chain[3].payload()
    assert compute_hash(json.loads(json.dumps(payload))) == chain[3].hash


@pytest.mark.parametrize(
    "bad",
    [
        {"at": datetime(2026, 1, 1, tzinfo=UTC)},
        {"x": math.nan},
        {"x": math.inf},
        {1: "int key"},
        {"x": {1, 2}},
        {"x": b"bytes"},
        {"x": object()},
    ],
)
def test_canonical_json_refuses_non_json(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        canonical_json(bad)


def test_canonical_json_refuses_lone_surrogate() -> None:
    with pytest.raises(ValueError):
        canonical_json({"x": "\ud800"})


def test_compute_hash_is_sha256_hex() -> None:
    h = compute_hash({"a": 1})
    assert len(h) == 64 and int(h, 16) >= 0
    assert h == compute_hash({"a": 1}) != compute_hash({"a": 2})


# ------------------------------------------------------------------------ timestamps


def test_format_timestamp_utc_with_microseconds_and_z() -> None:
    assert format_timestamp(T0) == "2026-11-23T10:00:00.123456Z"
    assert format_timestamp(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000000Z"


def test_format_timestamp_converts_to_utc() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_timestamp(datetime(2026, 11, 23, 11, 0, tzinfo=cet)) == (
        "2026-11-23T10:00:00.000000Z"
    )


def test_format_timestamp_refuses_naive() -> None:
    with pytest.raises(InputError):
        format_timestamp(datetime(2026, 11, 23, 10, 0))


# ----------------------------------------------------------------------------- seal


def test_seal_links_and_hashes(chain: list[AuditEvent]) -> None:
    assert chain[0].seq == 1 and chain[0].prev_hash == GENESIS_HASH
    for prev, ev in zip(chain, chain[1:], strict=False):
        assert ev.prev_hash == prev.hash
        assert ev.seq == prev.seq + 1
    for ev in chain:
        assert ev.hash == compute_hash(ev.payload())


def test_payload_has_every_field_but_hash(chain: list[AuditEvent]) -> None:
    fields = {f.name for f in dataclasses.fields(AuditEvent)}
    assert set(chain[0].payload()) == fields - {"hash"}


def test_event_is_frozen(chain: list[AuditEvent]) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        chain[0].actor = "mallory"  # type: ignore[misc]


def test_seal_redacts_before_hashing() -> None:
    ev = seal(
        1,
        1,
        "2026-11-23T10:00:00.000000Z",
        "alice",
        "credential.rotate",
        "device",
        "42",
        {"password": "old-secret", "name": "cam"},
        {"password": "new-secret", "name": "cam", "url": "rtsp://admin:pw123@10.0.0.5/live"},
        "rotated, old was password=old-secret",
        GENESIS_HASH,
    )
    assert ev.before == {"password": REDACTED, "name": "cam"}
    assert ev.after is not None
    assert ev.after["password"] == REDACTED
    assert ev.after["url"] == f"rtsp://admin:{REDACTED}@10.0.0.5/live"
    assert ev.reason == f"rotated, old was password={REDACTED}"
    assert "secret" not in canonical_json(ev.payload()).decode()
    assert ev.hash == compute_hash(ev.payload())


def test_seal_does_not_mutate_caller_dicts() -> None:
    after = {"token": "abc", "nested": {"secret": "x"}}
    seal(1, 1, "2026-11-23T10:00:00.000000Z", "a", "x.y", "t", "1", None, after, None, GENESIS_HASH)
    assert after == {"token": "abc", "nested": {"secret": "x"}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tenant_id": 0}, "tenant_id"),
        ({"seq": 0}, "seq"),
        ({"at": "2026-11-23 10:00:00"}, "time"),
        ({"at": "2026-02-30T10:00:00.000000Z"}, "real date"),
        ({"actor": ""}, "actor"),
        ({"object_id": 42}, "object_id"),
        ({"before": ["not", "a", "dict"]}, "before"),
        ({"prev_hash": "abc"}, "prev_hash"),
        ({"seq": 2}, "genesis"),
    ],
)
def test_seal_validates(change: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "tenant_id": 1,
        "seq": 1,
        "at": "2026-11-23T10:00:00.000000Z",
        "actor": "alice",
        "action": "device.create",
        "object_type": "device",
        "object_id": "1",
        "before": None,
        "after": {"name": "x"},
        "reason": None,
        "prev_hash": GENESIS_HASH,
    }
    args.update(change)
    with pytest.raises(InputError, match=message):
        seal(**args)  # type: ignore[arg-type]


def test_seal_refuses_non_json_state() -> None:
    with pytest.raises(TypeError):
        seal(
            1,
            1,
            "2026-11-23T10:00:00.000000Z",
            "a",
            "x.y",
            "t",
            "1",
            None,
            {"when": datetime(2026, 1, 1, tzinfo=UTC)},
            None,
            GENESIS_HASH,
        )


def test_checkpoint_due() -> None:
    assert [s for s in range(1, 31) if checkpoint_due(s, 10)] == [10, 20, 30]
    assert checkpoint_due(7, 1)
    with pytest.raises(InputError):
        checkpoint_due(5, 0)


def test_checkpoint_message_excludes_signature(signer: Ed25519Signer) -> None:
    cp = signer.sign_checkpoint(1, 10, "a" * 64, "2026-11-23T10:00:00.000000Z")
    assert json.loads(cp.message()) == {
        "tenant_id": 1,
        "seq": 10,
        "hash": "a" * 64,
        "at": "2026-11-23T10:00:00.000000Z",
        "key_id": signer.key_id,
    }
    assert dataclasses.replace(cp, signature="x").message() == cp.message()


# --------------------------------------------------------------------- verification


def test_intact_chain_verifies(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    cps = checkpoints_for(signer, chain)
    report = verify(chain, signer, cps, head_of(chain))
    assert report == ChainReport(
        tenant_id=1,
        ok=True,
        events_checked=50,
        checkpoints_checked=5,
        last_seq=50,
        last_hash=chain[-1].hash,
        first_break=None,
    )


def test_empty_chain_without_head_is_ok(signer: Ed25519Signer) -> None:
    report = verify([], signer)
    assert report.ok and report.events_checked == 0
    assert report.last_seq == 0 and report.last_hash == GENESIS_HASH


def test_empty_chain_with_empty_head_is_ok(signer: Ed25519Signer) -> None:
    assert verify([], signer, head=ChainHead(1, 0, GENESIS_HASH)).ok


def test_verify_streams_a_generator_once(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    consumed: list[int] = []

    def gen() -> Iterator[AuditEvent]:
        for e in chain:
            consumed.append(e.seq)
            yield e

    report = verify_chain(
        1, gen(), iter(checkpoints_for(signer, chain)), head_of(chain), signer.verify_checkpoint
    )
    assert report.ok and consumed == list(range(1, 51))


def test_edited_field_breaks_at_that_event(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    events = list(chain)
    events[9] = dataclasses.replace(events[9], actor="mallory")
    report = verify(events, signer, checkpoints_for(signer, chain), head_of(chain))
    assert_break(report, 10, "event 10", "edited")
    assert report.events_checked == 10
    assert report.last_seq == 9 and report.last_hash == chain[8].hash


@pytest.mark.parametrize(
    "change",
    [
        {"after": {"name": "cam-10", "firmware": "6.6.6"}},
        {"before": None},
        {"reason": "nothing to see"},
        {"at": "2026-11-23T09:00:00.000000Z"},
        {"object_id": "9999"},
        {"action": "device.delete"},
    ],
)
def test_any_edited_content_is_caught(
    chain: list[AuditEvent], signer: Ed25519Signer, change: dict[str, object]
) -> None:
    events = list(chain)
    events[9] = dataclasses.replace(events[9], **change)  # type: ignore[arg-type]
    assert_break(verify(events, signer), 10, "edited")


def test_edited_nested_dict_in_place_is_caught(signer: Ed25519Signer) -> None:
    events = build_chain(5)
    assert events[2].after is not None
    events[2].after["firmware"] = "evil"  # frozen dataclass, mutable dict
    assert_break(verify(events, signer), 3, "edited")


def test_changed_stored_hash_is_caught(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    events = list(chain)
    events[9] = dataclasses.replace(events[9], hash="f" * 64)
    assert_break(verify(events, signer), 10, "event 10", "edited")


def test_edited_and_rehashed_breaks_at_next(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    events = list(chain)
    forged = dataclasses.replace(events[9], actor="mallory")
    events[9] = dataclasses.replace(forged, hash=compute_hash(forged.payload()))
    report = verify(events, signer, checkpoints_for(signer, chain, interval=7), head_of(chain))
    assert_break(report, 11, "event 11", "prev_hash", "event 10")
    assert report.events_checked == 11
    assert report.last_seq == 10


def test_edited_and_rehashed_at_a_checkpoint_breaks_there(
    chain: list[AuditEvent], signer: Ed25519Signer
) -> None:
    events = list(chain)
    forged = dataclasses.replace(events[9], actor="mallory")
    events[9] = dataclasses.replace(forged, hash=compute_hash(forged.payload()))
    report = verify(events, signer, checkpoints_for(signer, chain), head_of(chain))
    assert_break(report, 10, "checkpoint at seq 10", "does not match")


def test_rewritten_history_rehashed_to_the_end_is_caught_by_checkpoint(
    chain: list[AuditEvent], signer: Ed25519Signer
) -> None:
    # An attacker with database access rewrites event 13 and re-chains everything
    # after it, updating the head too. Only the signed checkpoint at 20 gives it away.
    events = list(chain[:12])
    prev = events[-1].hash
    for e in chain[12:]:
        changed = dataclasses.replace(
            e, prev_hash=prev, actor="mallory" if e.seq == 13 else e.actor
        )
        changed = dataclasses.replace(changed, hash=compute_hash(changed.payload()))
        events.append(changed)
        prev = changed.hash
    assert verify(events, signer, head=head_of(events)).ok  # no anchor: undetectable
    report = verify(events, signer, checkpoints_for(signer, chain), head_of(events))
    assert_break(report, 20, "checkpoint at seq 20", "hash")
    assert report.checkpoints_checked == 2


def test_deleted_event_is_caught(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    events = chain[:9] + chain[10:]
    report = verify(events, signer, checkpoints_for(signer, chain), head_of(chain))
    link = assert_break(report, 10, "event 10 missing", "found 11 after 9")
    assert "deleted" in link.reason
    assert report.last_seq == 9


def test_deleted_and_renumbered_is_caught(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    # Renumbering event 11 as 10 changes its content, so its hash no longer matches.
    events = chain[:9] + [dataclasses.replace(e, seq=e.seq - 1) for e in chain[10:]]
    assert_break(verify(events, signer), 10, "edited")


def test_swapped_events_are_caught(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    events = list(chain)
    events[9], events[10] = events[10], events[9]
    assert_break(verify(events, signer), 10, "event 10 missing", "found 11 after 9")


def test_swapped_content_keeping_seq_numbers_is_caught(
    chain: list[AuditEvent], signer: Ed25519Signer
) -> None:
    events = list(chain)
    a, b = events[9], events[10]
    events[9] = dataclasses.replace(b, seq=10)
    events[10] = dataclasses.replace(a, seq=11)
    assert_break(verify(events, signer), 10, "edited")


def test_duplicated_event_is_caught(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    events = chain[:10] + [chain[4]] + chain[10:]
    assert_break(verify(events, signer), 11, "found 5", "duplicated or reordered")


def test_first_event_must_be_seq_one(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    assert_break(verify(chain[1:], signer), 1, "event 1 missing", "starts at 2")


def test_first_event_must_chain_to_genesis(signer: Ed25519Signer) -> None:
    first = build_chain(1)[0]
    forged = dataclasses.replace(first, prev_hash="1" * 64)
    forged = dataclasses.replace(forged, hash=compute_hash(forged.payload()))
    assert_break(verify([forged], signer), 1, "genesis")


def test_other_tenants_event_is_caught(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    foreign = build_chain(12, tenant_id=2)[11]  # a genuine event of tenant 2, seq 12
    events = chain[:11] + [foreign] + chain[12:]
    report = verify(events, signer)
    assert_break(report, 12, "tenant 2", "another tenant")


def test_whole_chain_of_other_tenant_is_refused(signer: Ed25519Signer) -> None:
    other = build_chain(3, tenant_id=2)
    assert_break(verify(other, signer, tenant_id=1), 1, "tenant 2")
    assert verify(other, signer, tenant_id=2).ok


def test_deleted_tail_caught_by_head(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    events = chain[:47]
    assert verify(events, signer).ok  # without an anchor a truncated chain looks fine
    report = verify(events, signer, head=head_of(chain))
    link = assert_break(report, 48, "head says seq 50", "ends at 47", "deleted from the end")
    assert link.seq == 48
    assert report.events_checked == 47 and report.last_seq == 47


def test_deleted_tail_past_signed_checkpoint(
    chain: list[AuditEvent], signer: Ed25519Signer
) -> None:
    # The attacker also rewinds the head pointer; the signed checkpoint at 40 remains.
    events = chain[:37]
    report = verify(events, signer, checkpoints_for(signer, chain), head_of(events))
    assert_break(report, 38, "checkpoint at seq 40", "ends at 37", "deleted from the end")
    assert report.checkpoints_checked == 5  # 10, 20, 30 passed; 40 and 50 dangling


def test_appended_without_head_update(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    report = verify(chain, signer, head=head_of(chain[:45]))
    assert_break(report, 46, "head says seq 45", "ends at 50", "appended")


def test_head_hash_disagreeing_with_last_event(
    chain: list[AuditEvent], signer: Ed25519Signer
) -> None:
    report = verify(chain, signer, head=ChainHead(1, 50, "e" * 64))
    assert_break(report, 50, "head hash", "event 50")


def test_head_of_other_tenant(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    assert_break(verify(chain, signer, head=head_of(chain, tenant_id=2)), 51, "tenant 2")


def test_head_on_empty_chain_means_everything_deleted(
    chain: list[AuditEvent], signer: Ed25519Signer
) -> None:
    report = verify([], signer, head=head_of(chain))
    assert_break(report, 1, "head says seq 50", "ends at 0")


def test_forged_checkpoint_signature(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    cps = checkpoints_for(signer, chain)
    sig = bytearray(cps[2].signature.encode())
    sig[5] = ord("A") if sig[5] != ord("A") else ord("B")
    cps[2] = dataclasses.replace(cps[2], signature=sig.decode())
    report = verify(chain, signer, cps, head_of(chain))
    assert_break(report, 30, "checkpoint at seq 30 signature invalid")
    assert report.events_checked == 30 and report.checkpoints_checked == 3


def test_checkpoint_from_another_key(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    other = Ed25519Signer.generate()
    cps = checkpoints_for(signer, chain)
    cps.append(other.sign_checkpoint(1, 25, chain[24].hash, chain[24].at))
    assert_break(verify(chain, signer, cps), 25, "checkpoint at seq 25 signature invalid")


def test_checkpoint_with_edited_hash_is_caught(
    chain: list[AuditEvent], signer: Ed25519Signer
) -> None:
    cps = checkpoints_for(signer, chain)
    cps[0] = dataclasses.replace(cps[0], hash="0" * 64)  # signature no longer covers it
    assert_break(verify(chain, signer, cps), 10, "signature invalid")


def test_validly_signed_checkpoint_for_wrong_hash(
    chain: list[AuditEvent], signer: Ed25519Signer
) -> None:
    cps = [signer.sign_checkpoint(1, 10, chain[10].hash, chain[9].at)]
    assert_break(verify(chain, signer, cps), 10, "checkpoint at seq 10", "does not match")


def test_checkpoint_of_other_tenant(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    cps = [signer.sign_checkpoint(2, 10, chain[9].hash, chain[9].at)]
    assert_break(verify(chain, signer, cps), 10, "tenant 2")


def test_forged_checkpoint_beyond_the_end(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    cps = checkpoints_for(signer, chain)
    cps.append(dataclasses.replace(cps[0], seq=500))
    assert_break(verify(chain, signer, cps, head_of(chain)), 500, "seq 500 signature invalid")


def test_first_break_in_seq_order_wins(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    events = list(chain[:40])
    events[5] = dataclasses.replace(events[5], reason="edited")  # break at 6
    # Also a tail deletion (head says 50) and a bad checkpoint at 30: 6 comes first.
    cps = checkpoints_for(signer, chain)
    cps[2] = dataclasses.replace(cps[2], signature="AAAA")
    report = verify(events, signer, cps, head_of(chain))
    assert_break(report, 6, "event 6", "edited")
    assert report.events_checked == 6 and report.checkpoints_checked == 0


def test_verification_stops_at_first_break(chain: list[AuditEvent], signer: Ed25519Signer) -> None:
    consumed = 0

    def gen() -> Iterator[AuditEvent]:
        nonlocal consumed
        for i, e in enumerate(chain):
            consumed += 1
            yield dataclasses.replace(e, actor="x") if i == 4 else e

    report = verify_chain(1, gen(), [], None, signer.verify_checkpoint)
    assert_break(report, 5, "edited")
    assert consumed == 5


def test_unhashable_stored_content_reports_instead_of_crashing(
    chain: list[AuditEvent], signer: Ed25519Signer
) -> None:
    events = list(chain[:5])
    events[2] = dataclasses.replace(events[2], after={"x": math.nan})
    assert_break(verify(events, signer), 3, "edited")


def test_large_chain_verifies(signer: Ed25519Signer) -> None:
    events = build_chain(2000)
    cps = checkpoints_for(signer, events, interval=500)
    report = verify(events, signer, cps, head_of(events))
    assert report.ok and report.events_checked == 2000 and report.checkpoints_checked == 4
