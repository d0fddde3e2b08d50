"""The device lifecycle state machine and its guard registry (R2).

Transitions are data (``TRANSITIONS``); guards are small functions registered by
name for a target state, so later features (credential revocation before disposal,
data erasure evidence) add rules without touching this module. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class LifecycleState(StrEnum):
    PLANNED = "planned"
    PROCURED = "procured"
    COMMISSIONING = "commissioning"
    IN_SERVICE = "in_service"
    MAINTENANCE = "maintenance"
    QUARANTINED = "quarantined"
    DECOMMISSIONING = "decommissioning"
    DISPOSED = "disposed"


S = LifecycleState

#: States in which a device is, or has been, live on a network.
ACTIVE_STATES = frozenset({S.COMMISSIONING, S.IN_SERVICE, S.MAINTENANCE})

#: Allowed moves. Quarantine is reachable from every active state; leaving
#: quarantine goes back to maintenance (to be fixed) or on to decommissioning.
TRANSITIONS: Mapping[LifecycleState, frozenset[LifecycleState]] = {
    S.PLANNED: frozenset({S.PROCURED, S.DISPOSED}),
    S.PROCURED: frozenset({S.COMMISSIONING, S.DECOMMISSIONING}),
    S.COMMISSIONING: frozenset({S.IN_SERVICE, S.QUARANTINED, S.DECOMMISSIONING}),
    S.IN_SERVICE: frozenset({S.MAINTENANCE, S.QUARANTINED, S.DECOMMISSIONING}),
    S.MAINTENANCE: frozenset({S.IN_SERVICE, S.QUARANTINED, S.DECOMMISSIONING}),
    S.QUARANTINED: frozenset({S.MAINTENANCE, S.DECOMMISSIONING}),
    S.DECOMMISSIONING: frozenset({S.DISPOSED}),
    S.DISPOSED: frozenset(),
}

#: States from which a device may be deleted outright (it never went live).
DELETABLE_STATES = frozenset({S.PLANNED, S.PROCURED})


@dataclass(frozen=True, slots=True)
class TransitionContext:
    """What a guard may look at. Guards get values, never sessions."""

    device_id: int
    current: LifecycleState
    target: LifecycleState
    reason: str
    facts: Mapping[str, object] = field(default_factory=dict)
    """Facts gathered by the service for guards (e.g. ``credentials_revoked``)."""


@dataclass(frozen=True, slots=True)
class GuardResult:
    ok: bool
    reason: str = ""


Guard = Callable[[TransitionContext], GuardResult]


@dataclass(frozen=True, slots=True)
class TransitionDecision:
    allowed: bool
    reasons: tuple[str, ...]
    """Why it was refused (empty when allowed)."""


class GuardRegistry:
    """Guards keyed by target state; explicit registration, no import-time magic."""

    def __init__(self) -> None:
        self._guards: dict[LifecycleState, list[tuple[str, Guard]]] = {}

    def register(self, target: LifecycleState, name: str, guard: Guard) -> None:
        entries = self._guards.setdefault(target, [])
        if any(n == name for n, _ in entries):
            raise ValueError(f"guard {name!r} already registered for {target}")
        entries.append((name, guard))

    def for_target(self, target: LifecycleState) -> tuple[tuple[str, Guard], ...]:
        return tuple(self._guards.get(target, ()))

    def names(self) -> dict[str, list[str]]:
        return {str(t): [n for n, _ in g] for t, g in self._guards.items()}


def parse_state(value: str) -> LifecycleState:
    """The state named by ``value``, or a ``ValueError`` listing the valid names."""
    try:
        return LifecycleState(value.strip().lower())
    except ValueError:
        valid = ", ".join(s.value for s in LifecycleState)
        raise ValueError(f"unknown lifecycle state {value!r}; valid: {valid}") from None


def decide(ctx: TransitionContext, guards: GuardRegistry) -> TransitionDecision:
    """Apply the state machine, then every guard for the target state."""
    if ctx.current == ctx.target:
        return TransitionDecision(False, (f"device is already {ctx.target.value}",))
    allowed = TRANSITIONS[ctx.current]
    if ctx.target not in allowed:
        options = ", ".join(sorted(s.value for s in allowed)) or "none (final state)"
        return TransitionDecision(
            False,
            (f"cannot go from {ctx.current.value} to {ctx.target.value}; allowed: {options}",),
        )
    if not ctx.reason.strip():
        return TransitionDecision(False, ("a reason is required for every transition",))
    refusals = []
    for name, guard in guards.for_target(ctx.target):
        result = guard(ctx)
        if not result.ok:
            refusals.append(f"{name}: {result.reason}")
    return TransitionDecision(not refusals, tuple(refusals))


def needs_change_approval(current: LifecycleState) -> bool:
    """Changes to live devices are the ones a tenant may put under change control."""
    return current in (S.IN_SERVICE, S.MAINTENANCE)
