"""The tamper-evident audit log: hashing, sealing, redaction and chain verification.

Every change to a tenant's data is recorded as an :class:`AuditEvent` whose ``hash``
covers its content and the previous event's hash, so editing, deleting or reordering
stored events breaks the chain. Periodic signed :class:`Checkpoint` records (signed
with a key kept outside the database) and the stored :class:`ChainHead` make deleting
the newest events detectable too. Secrets are redacted *before* hashing, so the log
never holds them and redaction never invalidates a hash.

This module is pure: it takes values and returns values. It must not do I/O, talk to
a database, read the clock or hold keys; callers pass timestamps and a signature
checker in. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fleetwarden.errors import InputError

__all__ = [
    "GENESIS_HASH",
    "REDACTED",
    "AuditEvent",
    "BrokenLink",
    "ChainHead",
    "ChainReport",
    "Checkpoint",
    "canonical_json",
    "checkpoint_due",
    "compute_hash",
    "format_timestamp",
    "is_secret_key",
    "redact",
    "redact_text",
    "seal",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
"""The ``prev_hash`` of every tenant's first event."""

REDACTED = "[REDACTED]"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


# --------------------------------------------------------------------------- hashing


def _check_json(value: object, depth: int = 0) -> None:
    """Refuse anything ``json`` would silently coerce (non-str keys, NaN, datetimes).

    A hash must cover exactly what is stored and read back, so ``{1: "a"}`` (which
    json writes as ``{"1": "a"}``) is refused rather than accepted ambiguously.
    """
    if depth > 200:
        raise ValueError("value nested too deeply for the audit log")
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("NaN and infinities cannot be stored in the audit log")
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"audit values need string keys, got {type(k).__name__}")
            _check_json(v, depth + 1)
        return
    if isinstance(value, list | tuple):
        for v in value:
            _check_json(v, depth + 1)
        return
    raise TypeError(f"{type(value).__name__} is not a JSON value; pass ISO-8601 strings for times")


def canonical_json(value: Any) -> bytes:
    """Deterministic UTF-8 JSON: sorted keys, no whitespace, no NaN.

    The bytes must be identical wherever the value is rebuilt (after a database round
    trip, on another machine), because hashes and signatures are computed over them.
    Raises ``TypeError``/``ValueError`` for anything that is not plain JSON.
    """
    _check_json(value)
    text = json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    # Lone surrogates raise UnicodeEncodeError, a ValueError: refuse, do not mangle.
    return text.encode("utf-8")


def compute_hash(payload: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``payload``."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def format_timestamp(moment: datetime) -> str:
    """``2026-11-23T10:00:00.123456Z``: UTC, always microseconds, so strings sort and
    hash the same however the time was produced. Naive datetimes are refused because
    their zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError("audit timestamps need a timezone-aware datetime")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="microseconds") + "Z"


# ------------------------------------------------------------------------- redaction

# Key names: split into words on separators, digits and camelCase, then match words.
_KEY_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_KEY_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
# Long, unambiguous words: a word *containing* one is secret ("dbPassword", "authtoken").
_SECRET_SUBSTRINGS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "cookie",
    "apikey",
    "privatekey",
    "community",
)
# Words that contain one of the above but name no secret.
_NOT_SECRET_WORDS = frozenset(
    {
        "secretary",
        "secretaries",
        "secretariat",
        "tokenize",
        "tokenizer",
        "tokenizers",
        "tokenized",
        "tokenise",
        "tokeniser",
        "tokenised",
    }
)
# Short words that are common inside ordinary words ("shipping", "author",
# "possession"): they must be the whole word, with a few known spellings.
_SECRET_WHOLE_WORD = re.compile(
    r"""^(?:
        (?:sim|user|admin|device)?pins?(?:code|codes|number)?
      | (?:wpa\d*)?psks?
      | [a-z]*pwd
      | (?:o|basic|digest|proxy|http)?auth
        (?:n|z|s|orization|orisation|entication|token|key|header|code|data|info)?
      | (?:j|php|user|login|auth)?sess(?:ion)?(?:s|id|key|token|cookie|data)?
    )$""",
    re.VERBOSE,
)


def _key_words(name: str) -> list[str]:
    words: list[str] = []
    for chunk in _KEY_SEPARATORS.split(name):
        words.extend(w.lower() for w in _KEY_WORDS.findall(chunk))
    return words


def _word_is_secret(word: str) -> bool:
    if word in _NOT_SECRET_WORDS:
        return False
    if _SECRET_WHOLE_WORD.match(word):
        return True
    return any(s in word for s in _SECRET_SUBSTRINGS)


@lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """True when a dict key's name suggests its value is a secret.

    Matching is by word, not raw substring, so ``sim_pin``/``pinCode``/``authorization``
    are secret while ``shipping``/``author``/``possession`` are not. Adjacent words are
    also joined, so ``api_key`` and ``Private-Key`` match ``apikey``/``privatekey``.
    """
    words = _key_words(name)
    if any(_word_is_secret(w) for w in words):
        return True
    return any(
        (w1 + w2) not in _NOT_SECRET_WORDS and any(s in w1 + w2 for s in _SECRET_SUBSTRINGS)
        for w1, w2 in zip(words, words[1:], strict=False)
    )


_PEM_PRIVATE_KEY = re.compile(
    # A truncated block (no END line) is redacted to the end of the text.
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
    re.DOTALL,
)
_URL_USERINFO = re.compile(
    # Greedy password up to the last "@" before the host, so "p@ss" is fully hidden.
    # The look-behind (not \b) keeps the scan linear on text like "a.a.a.a...".
    r"(?P<prefix>(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/?#@\[\]]*)"
    r":(?P<secret>[^\s/?#]+)@"
)
_BEARER = re.compile(r"\b(?P<scheme>[Bb]earer|BEARER)(?P<sp>\s+)(?P<token>[A-Za-z0-9\-._~+/]+=*)")
_BASIC_HEADER = re.compile(r"(?i)(?P<prefix>\bauthorization\s*:\s*basic\s+)[A-Za-z0-9+/]+=*")
_JWT = re.compile(r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_FW_TOKEN = re.compile(r"(?<![A-Za-z0-9])fw_[A-Za-z0-9_\-]{20,}")
_AWS_KEY_ID = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_ARGON2 = re.compile(r"\$argon2(?:id|i|d)\$[A-Za-z0-9+/=,.$\-]+")
_JSON_PAIR = re.compile(r'"(?P<key>[^"\\\n]{1,100})"(?P<sep>\s*:\s*)"(?P<value>(?:[^"\\\n]|\\.)*)"')
_KEY_VALUE = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z_][A-Za-z0-9_.\-]{0,99})(?P<sep>\s*=\s*)"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^\s&;,'\"]+)"
)
# Cheap pre-filter: most strings (names, serials, versions) contain none of these.
_TRIGGER = re.compile(r"PRIVATE KEY|://|earer|EARER|fw_|eyJ|AKIA|ASIA|\$argon2|=|\":|uthoriz")


def _looks_like_credential(token: str) -> bool:
    """Tell a bearer token from prose ("Bearer tokens are used"): tokens are long and
    random, so they contain digits or symbols or are at least 16 characters."""
    if len(token) >= 16:
        return True
    return len(token) >= 8 and any(c.isdigit() or c in "-_~+/=" for c in token)


def _bearer_sub(m: re.Match[str]) -> str:
    token = m["token"]
    trail = ""
    while token.endswith("."):  # full stop ending a sentence, not part of the token
        token, trail = token[:-1], trail + "."
    if not _looks_like_credential(token):
        return m[0]
    return f"{m['scheme']}{m['sp']}{REDACTED}{trail}"


def _json_pair_sub(m: re.Match[str]) -> str:
    if not is_secret_key(m["key"]):
        return m[0]
    return f'"{m["key"]}"{m["sep"]}"{REDACTED}"'


def _key_value_sub(m: re.Match[str]) -> str:
    if not is_secret_key(m["key"]):
        return m[0]
    return f"{m['key']}{m['sep']}{REDACTED}"


def redact_text(text: str) -> str:
    """Replace secret-looking parts of free text with ``[REDACTED]``.

    Covers PEM private keys, URL passwords, bearer tokens, basic-auth headers, JWTs,
    fleetwarden API tokens, AWS access key ids, argon2 hashes and ``key=value`` /
    ``"key": "value"`` pairs whose key looks secret. Idempotent.
    """
    if not _TRIGGER.search(text):
        return text
    text = _PEM_PRIVATE_KEY.sub(REDACTED, text)
    text = _URL_USERINFO.sub(rf"\g<prefix>:{REDACTED}@", text)
    text = _BEARER.sub(_bearer_sub, text)
    text = _BASIC_HEADER.sub(rf"\g<prefix>{REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _FW_TOKEN.sub(REDACTED, text)
    text = _AWS_KEY_ID.sub(REDACTED, text)
    text = _ARGON2.sub(REDACTED, text)
    text = _JSON_PAIR.sub(_json_pair_sub, text)
    return _KEY_VALUE.sub(_key_value_sub, text)


def redact(value: Any) -> Any:
    """Deep copy of ``value`` with secrets replaced by ``[REDACTED]``.

    Values under secret-looking keys are replaced whole, except ``None`` and booleans,
    which hold no secret and record whether one is set. Every string elsewhere
    (including dict keys) goes through :func:`redact_text`. Other scalars are kept.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = redact_text(k) if isinstance(k, str) else k
            if v is not None and not isinstance(v, bool) and is_secret_key(str(k)):
                out[key] = REDACTED
            else:
                out[key] = redact(v)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, tuple):
        return tuple(redact(v) for v in value)
    return value


# ---------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One sealed entry of a tenant's audit chain."""

    tenant_id: int
    seq: int
    """1-based position in the tenant's chain; contiguous, no gaps."""
    at: str
    """UTC time, ``2026-11-23T10:00:00.123456Z`` (see :func:`format_timestamp`)."""
    actor: str
    """Who acted: a user name, an API token's name or ``system:<job>``."""
    action: str
    """Dotted verb, e.g. ``device.create``."""
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    """Redacted state before the change; ``None`` for a creation."""
    after: dict[str, Any] | None
    """Redacted state after the change; ``None`` for a deletion."""
    reason: str | None
    """Redacted free-text justification given by the actor."""
    prev_hash: str
    """``hash`` of event ``seq - 1``, or :data:`GENESIS_HASH` for ``seq == 1``."""
    hash: str
    """:func:`compute_hash` of :meth:`payload`."""

    def payload(self) -> dict[str, Any]:
        """Every field except ``hash``: exactly what the hash covers."""
        return {
            "tenant_id": self.tenant_id,
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "prev_hash": self.prev_hash,
        }


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InputError(f"audit event {name} must be a non-empty string")


def seal(
    tenant_id: int,
    seq: int,
    at: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str | None,
    prev_hash: str,
) -> AuditEvent:
    """Build the next event: redact ``before``/``after``/``reason``, then hash.

    Redacting first means no secret reaches storage and the stored content is what
    the hash covers. Raises ``InputError`` for malformed fields and ``TypeError`` /
    ``ValueError`` when ``before``/``after`` are not plain JSON.
    """
    if isinstance(tenant_id, bool) or not isinstance(tenant_id, int) or tenant_id < 1:
        raise InputError("audit event tenant_id must be a positive integer")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InputError("audit event seq must be a positive integer")
    if not isinstance(at, str) or not _TIMESTAMP.match(at):
        raise InputError("audit event time must look like 2026-11-23T10:00:00.123456Z")
    try:
        datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise InputError(f"audit event time {at!r} is not a real date and time") from None
    for name, text in (
        ("actor", actor),
        ("action", action),
        ("object_type", object_type),
        ("object_id", object_id),
    ):
        _require_text(name, text)
    for name, state in (("before", before), ("after", after)):
        if state is not None and not isinstance(state, dict):
            raise InputError(f"audit event {name} must be a dict or None")
    if reason is not None and not isinstance(reason, str):
        raise InputError("audit event reason must be a string or None")
    if not isinstance(prev_hash, str) or not _HEX64.match(prev_hash):
        raise InputError("audit event prev_hash must be 64 lowercase hex characters")
    if (seq == 1) != (prev_hash == GENESIS_HASH):
        raise InputError("only event 1 chains to the genesis hash, and it always does")

    fields: dict[str, Any] = {
        "tenant_id": tenant_id,
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "before": redact(before),
        "after": redact(after),
        "reason": redact_text(reason) if reason is not None else None,
        "prev_hash": prev_hash,
    }
    return AuditEvent(**fields, hash=compute_hash(fields))


# ------------------------------------------------------------------ anchors and heads


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement "tenant T's chain had hash H at seq N".

    The signing key lives outside the database, so someone who can rewrite the
    database cannot produce a valid checkpoint for rewritten or truncated history.
    """

    tenant_id: int
    seq: int
    hash: str
    """The ``hash`` of event ``seq``."""
    at: str
    """When the checkpoint was signed (same format as events)."""
    key_id: str
    """Which key signed it: first 16 hex chars of SHA-256 of the raw public key."""
    signature: str
    """Base64 signature over :meth:`message`."""

    def message(self) -> bytes:
        """The signed bytes: canonical JSON of every field except ``signature``."""
        return canonical_json(
            {
                "tenant_id": self.tenant_id,
                "seq": self.seq,
                "hash": self.hash,
                "at": self.at,
                "key_id": self.key_id,
            }
        )


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The stored pointer to a tenant's newest event, updated with each append.

    Without it, deleting the newest events (since the last checkpoint) would leave a
    chain that still verifies.
    """

    tenant_id: int
    seq: int
    """Seq of the newest event; 0 when the tenant has no events."""
    hash: str
    """Hash of the newest event; :data:`GENESIS_HASH` when there are none."""


@dataclass(frozen=True)
class BrokenLink:
    """Where and why verification failed."""

    seq: int
    """First event seq where the chain breaks; for a missing tail, the first missing seq."""
    reason: str
    """One plain-English line naming the seq and the likely tampering."""


@dataclass(frozen=True)
class ChainReport:
    """Outcome of :func:`verify_chain`."""

    tenant_id: int
    ok: bool
    events_checked: int
    """Events read, including the one at which a break was found."""
    checkpoints_checked: int
    """Checkpoints examined, including one that failed."""
    last_seq: int
    """Seq of the last event that verified (0 if none)."""
    last_hash: str
    """Hash of that event (:data:`GENESIS_HASH` if none)."""
    first_break: BrokenLink | None


def checkpoint_due(seq: int, interval: int) -> bool:
    """True when event ``seq`` should be followed by a signed checkpoint."""
    if interval < 1:
        raise InputError("checkpoint interval must be at least 1")
    return seq % interval == 0


# ---------------------------------------------------------------------- verification


def verify_chain(
    tenant_id: int,
    events: Iterable[AuditEvent],
    checkpoints: Iterable[Checkpoint],
    head: ChainHead | None,
    verify_signature: Callable[[Checkpoint], bool],
) -> ChainReport:
    """Check a tenant's whole audit chain and report the first break in seq order.

    ``events`` must be in stored seq order and is consumed once, so memory does not
    grow with the number of events (only checkpoints are held, by seq). Checking stops
    at the first break because everything after it is untrustworthy anyway.
    ``verify_signature`` checks a checkpoint's signature against the trusted key.
    """
    by_seq: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints:
        by_seq.setdefault(cp.seq, []).append(cp)

    events_checked = 0
    checkpoints_checked = 0
    last_seq = 0
    last_hash = GENESIS_HASH

    def report(broken: BrokenLink | None) -> ChainReport:
        return ChainReport(
            tenant_id=tenant_id,
            ok=broken is None,
            events_checked=events_checked,
            checkpoints_checked=checkpoints_checked,
            last_seq=last_seq,
            last_hash=last_hash,
            first_break=broken,
        )

    for event in events:
        events_checked += 1
        expected = last_seq + 1
        broken = _check_event(tenant_id, event, expected, last_hash)
        if broken is not None:
            return report(broken)
        for cp in by_seq.pop(event.seq, ()):
            checkpoints_checked += 1
            broken = _check_checkpoint(tenant_id, cp, event, verify_signature)
            if broken is not None:
                return report(broken)
        last_seq, last_hash = event.seq, event.hash

    # No event is wrong in itself; what remains is evidence that the tail is missing.
    candidates: list[BrokenLink] = []
    for seq in sorted(by_seq):
        for cp in by_seq[seq]:
            checkpoints_checked += 1
            candidates.append(_dangling_checkpoint(tenant_id, cp, last_seq, verify_signature))
    if head is not None:
        broken = _check_head(tenant_id, head, last_seq, last_hash)
        if broken is not None:
            candidates.append(broken)
    if candidates:
        # min() keeps the first of equal seqs: signed checkpoints before the head.
        return report(min(candidates, key=lambda b: b.seq))
    return report(None)


def _check_event(
    tenant_id: int, event: AuditEvent, expected: int, prev_hash: str
) -> BrokenLink | None:
    if event.tenant_id != tenant_id:
        return BrokenLink(
            expected,
            f"event {expected}: found an event of tenant {event.tenant_id} (its seq "
            f"{event.seq}) in tenant {tenant_id}'s chain (another tenant's event mixed in)",
        )
    if event.seq != expected:
        if expected == 1:
            return BrokenLink(
                1,
                f"event 1 missing: chain starts at {event.seq} (deleted or reordered)",
            )
        if event.seq > expected:
            return BrokenLink(
                expected,
                f"event {expected} missing: found {event.seq} after {expected - 1} "
                "(deleted or reordered)",
            )
        return BrokenLink(
            expected,
            f"event {expected} expected but found {event.seq} after {expected - 1} "
            "(duplicated or reordered)",
        )
    try:
        recomputed = compute_hash(event.payload())
    except (TypeError, ValueError):
        recomputed = None
    if recomputed != event.hash:
        return BrokenLink(event.seq, f"event {event.seq}: content does not match its hash (edited)")
    if event.prev_hash != prev_hash:
        if expected == 1:
            return BrokenLink(1, "event 1: prev_hash is not the genesis hash (rewritten)")
        return BrokenLink(
            event.seq,
            f"event {event.seq}: prev_hash does not match event {event.seq - 1}'s hash "
            "(an earlier event was rewritten, deleted or reordered)",
        )
    return None


def _check_checkpoint(
    tenant_id: int,
    cp: Checkpoint,
    event: AuditEvent,
    verify_signature: Callable[[Checkpoint], bool],
) -> BrokenLink | None:
    if cp.tenant_id != tenant_id:
        return BrokenLink(
            cp.seq,
            f"checkpoint at seq {cp.seq} belongs to tenant {cp.tenant_id}, not {tenant_id}",
        )
    if not verify_signature(cp):
        return BrokenLink(cp.seq, f"checkpoint at seq {cp.seq} signature invalid")
    if cp.hash != event.hash:
        return BrokenLink(
            cp.seq,
            f"checkpoint at seq {cp.seq} does not match event {event.seq}'s hash "
            "(history rewritten after it was signed)",
        )
    return None


def _dangling_checkpoint(
    tenant_id: int,
    cp: Checkpoint,
    last_seq: int,
    verify_signature: Callable[[Checkpoint], bool],
) -> BrokenLink:
    """A checkpoint no event reached: beyond the end, or pointing at no seq at all."""
    if cp.tenant_id != tenant_id:
        return BrokenLink(
            cp.seq,
            f"checkpoint at seq {cp.seq} belongs to tenant {cp.tenant_id}, not {tenant_id}",
        )
    if not verify_signature(cp):
        return BrokenLink(cp.seq, f"checkpoint at seq {cp.seq} signature invalid")
    if cp.seq < 1:
        return BrokenLink(cp.seq, f"checkpoint at seq {cp.seq} refers to no event")
    return BrokenLink(
        last_seq + 1,
        f"checkpoint at seq {cp.seq} but chain ends at {last_seq} (events deleted from the end)",
    )


def _check_head(
    tenant_id: int, head: ChainHead, last_seq: int, last_hash: str
) -> BrokenLink | None:
    if head.tenant_id != tenant_id:
        return BrokenLink(
            last_seq + 1,
            f"head pointer belongs to tenant {head.tenant_id}, not {tenant_id}",
        )
    if head.seq > last_seq:
        return BrokenLink(
            last_seq + 1,
            f"head says seq {head.seq} but chain ends at {last_seq} (events deleted from the end)",
        )
    if head.seq < last_seq:
        return BrokenLink(
            head.seq + 1,
            f"head says seq {head.seq} but chain ends at {last_seq} "
            "(events appended without updating the head)",
        )
    if head.hash != last_hash:
        return BrokenLink(
            max(head.seq, 1),
            f"head hash does not match event {head.seq}'s hash (last event or head rewritten)",
        )
    return None
