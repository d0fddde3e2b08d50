"""The lifecycle state machine: allowed paths, refusals with reasons, guard registry."""

import pytest

from fleetwarden.domain.lifecycle import (
    TRANSITIONS,
    GuardRegistry,
    GuardResult,
    TransitionContext,
    decide,
    needs_change_approval,
    parse_state,
)
from fleetwarden.domain.lifecycle import (
    LifecycleState as S,
)


def ctx(cur: S, tgt: S, reason: str = "because", **facts: object) -> TransitionContext:
    return TransitionContext(1, cur, tgt, reason, facts)


def test_the_whole_happy_path_is_allowed() -> None:
    path = [S.PLANNED, S.PROCURED, S.COMMISSIONING, S.IN_SERVICE, S.MAINTENANCE, S.IN_SERVICE,
            S.QUARANTINED, S.DECOMMISSIONING, S.DISPOSED]
    for cur, tgt in zip(path, path[1:], strict=False):
        assert decide(ctx(cur, tgt), GuardRegistry()).allowed, (cur, tgt)


@pytest.mark.parametrize("active", [S.COMMISSIONING, S.IN_SERVICE, S.MAINTENANCE])
def test_every_active_state_can_be_quarantined(active: S) -> None:
    assert decide(ctx(active, S.QUARANTINED), GuardRegistry()).allowed


def test_illegal_transition_says_what_is_allowed() -> None:
    d = decide(ctx(S.PLANNED, S.IN_SERVICE), GuardRegistry())
    assert not d.allowed
    assert "planned to in_service" in d.reasons[0] and "procured" in d.reasons[0]


def test_disposed_is_final() -> None:
    assert TRANSITIONS[S.DISPOSED] == frozenset()
    d = decide(ctx(S.DISPOSED, S.IN_SERVICE), GuardRegistry())
    assert not d.allowed and "final state" in d.reasons[0]


def test_same_state_and_empty_reason_are_refused() -> None:
    assert not decide(ctx(S.IN_SERVICE, S.IN_SERVICE), GuardRegistry()).allowed
    d = decide(ctx(S.IN_SERVICE, S.MAINTENANCE, reason="  "), GuardRegistry())
    assert not d.allowed and "reason" in d.reasons[0]


def test_guards_run_for_their_target_and_report_by_name() -> None:
    guards = GuardRegistry()
    guards.register(
        S.DISPOSED, "credentials-revoked",
        lambda c: GuardResult(bool(c.facts.get("credentials_revoked")), "credentials still valid"),
    )
    refused = decide(ctx(S.DECOMMISSIONING, S.DISPOSED), guards)
    assert not refused.allowed
    assert refused.reasons == ("credentials-revoked: credentials still valid",)
    assert decide(ctx(S.DECOMMISSIONING, S.DISPOSED, credentials_revoked=True), guards).allowed
    # a guard for another target does not interfere
    assert decide(ctx(S.IN_SERVICE, S.MAINTENANCE), guards).allowed


def test_guard_names_are_unique_per_target() -> None:
    guards = GuardRegistry()
    guards.register(S.DISPOSED, "g", lambda c: GuardResult(True))
    with pytest.raises(ValueError):
        guards.register(S.DISPOSED, "g", lambda c: GuardResult(True))
    assert guards.names() == {"disposed": ["g"]}


def test_parse_state_lists_valid_names() -> None:
    assert parse_state(" In_Service ") is S.IN_SERVICE
    with pytest.raises(ValueError, match="valid: planned"):
        parse_state("retired")


def test_change_control_covers_live_states_only() -> None:
    assert needs_change_approval(S.IN_SERVICE) and needs_change_approval(S.MAINTENANCE)
    assert not needs_change_approval(S.PLANNED)
