"""Human labels for the register's vocabulary on dashboard pages: ``cctv_camera`` ->
``CCTV camera``, ``in_service`` -> ``In service``, the article that goes before one
("an intruder alarm panel", "an NVR", "a CCTV camera"), and a model with its vendor
named once ("Axon Body 3", not "Axon Axon Body 3").

Must not: label free text (a device's own words are shown as they are, untrusted), or
change what a filter or a link carries (those keep the stored value).
"""

from __future__ import annotations

from fleetwarden.domain.lifecycle import LifecycleState
from fleetwarden.domain.vocab import DeviceType

_ACRONYMS = {"cctv": "CCTV", "nvr": "NVR", "bms": "BMS", "iot": "IoT", "sim": "SIM",
             "pdu": "PDU", "ups": "UPS", "voip": "VoIP", "plc": "PLC"}
_VOCABULARY = frozenset({t.value for t in DeviceType} | {s.value for s in LifecycleState})
_VOWEL_SOUND_LETTERS = frozenset("AEFHILMNORSX")
"""Letters whose name starts with a vowel sound: an acronym starting with one takes
"an" (an NVR, an MRI), with another "a" (a CCTV camera, a PLC)."""


def label(value: str) -> str:
    """``cctv_camera`` -> ``CCTV camera``; ``in_service`` -> ``In service``."""
    words = value.split("_")
    shown = [_ACRONYMS.get(w, w) for w in words]
    if shown[0] == words[0]:
        shown[0] = shown[0][:1].upper() + shown[0][1:]
    return " ".join(shown)


def term(value: object) -> str:
    """A device type or lifecycle state as words in a sentence (``intruder alarm
    panel``, ``NVR``); anything else unchanged."""
    text = str(value)
    if text not in _VOCABULARY:
        return text
    words = label(text).split(" ")
    if text.split("_", 1)[0] not in _ACRONYMS:  # lower case inside a sentence
        words[0] = words[0].lower()
    return " ".join(words)


def with_article(phrase: str) -> str:
    """``intruder alarm panel`` -> ``an intruder alarm panel``; ``NVR`` -> ``an NVR``."""
    first = phrase.split(" ", 1)[0]
    if not first:
        return phrase
    acronym = len(first) > 1 and first.isupper()
    vowel = (first[0].upper() in _VOWEL_SOUND_LETTERS if acronym
             else first[0].lower() in "aeiou")
    return f"{'an' if vowel else 'a'} {phrase}"


def vendor_model(vendor: str | None, model: str | None) -> str:
    """``Axis``, ``P3245-LVE`` -> ``Axis P3245-LVE``; ``Axon``, ``Axon Body 3`` ->
    ``Axon Body 3`` (a model name that starts with its vendor's)."""
    v, m = (vendor or "").strip(), (model or "").strip()
    if v and m and (m.casefold() == v.casefold()
                    or m.casefold().startswith(v.casefold() + " ")):
        return m
    return " ".join(x for x in (v, m) if x)


def vendor_once(joined: str | None) -> str:
    """``Traka Traka Touch Pro`` -> ``Traka Touch Pro``: "vendor model" already joined
    (as the findings report has it), its leading words said once when repeated."""
    words = (joined or "").split(" ")
    for n in range(len(words) // 2, 0, -1):
        if [w.casefold() for w in words[:n]] == [w.casefold() for w in words[n:2 * n]]:
            return " ".join(words[n:])
    return joined or ""
