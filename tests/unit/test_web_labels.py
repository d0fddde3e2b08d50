"""Words the dashboard puts around the register's values: vocabulary labels, the article
before a device type, and a model named with its vendor once."""

from __future__ import annotations

import pytest

from fleetwarden.domain.vocab import DeviceType
from fleetwarden.entrypoints.web.labels import (
    label,
    term,
    vendor_model,
    vendor_once,
    with_article,
)


def test_labels_and_terms() -> None:
    assert label("cctv_camera") == "CCTV camera" and label("in_service") == "In service"
    assert term("intruder_alarm_panel") == "intruder alarm panel"
    assert term("iot_sim") == "IoT SIM" and term("nvr") == "NVR"
    # values outside the vocabulary (levels, zones, counts, device text) are left alone
    for other in ("OFFICIAL", "iot-fire", "2", "high", "my_own_thing"):
        assert term(other) == other
    assert all(term(t.value) for t in DeviceType)


@pytest.mark.parametrize(("value", "phrase"), [
    ("intruder_alarm_panel", "an intruder alarm panel"),
    ("access_controller", "an access controller"),
    ("nvr", "an NVR"),
    ("iot_sim", "an IoT SIM"),
    ("cctv_camera", "a CCTV camera"),
    ("plc", "a PLC"),
    ("pdu_ups", "a PDU UPS"),
    ("voip_phone", "a VoIP phone"),
    ("door_lock", "a door lock"),
])
def test_the_article_fits_the_sound(value: str, phrase: str) -> None:
    assert with_article(term(value)) == phrase


def test_a_vendor_is_named_once() -> None:
    assert vendor_model("Axon", "Axon Body 3") == "Axon Body 3"
    assert vendor_model("Traka", "traka Touch Pro key cabinet") == "traka Touch Pro key cabinet"
    assert vendor_model("Axis", "P3245-LVE") == "Axis P3245-LVE"
    assert vendor_model("Axis", "Axiscam 2") == "Axis Axiscam 2"  # a word, not a prefix
    assert vendor_model(None, "PXC4") == "PXC4" and vendor_model("Siemens", None) == "Siemens"
    assert vendor_once("Traka Traka Touch Pro key cabinet") == "Traka Touch Pro key cabinet"
    assert vendor_once("Axis Communications Axis Communications Q1615") == (
        "Axis Communications Q1615")
    assert vendor_once("Axis Communications P3245-LVE") == "Axis Communications P3245-LVE"
    assert vendor_once(None) == "" and vendor_once("") == ""
