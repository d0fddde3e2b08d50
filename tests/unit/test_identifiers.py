"""Identifier normalisation: many spellings in, one canonical form out, clear refusals."""

import pytest

from fleetwarden.domain import identifiers as ids
from fleetwarden.errors import InputError


@pytest.mark.parametrize(
    "raw",
    ["AA:BB:CC:00:11:22", "aa-bb-cc-00-11-22", "aabb.cc00.1122", "AABBCC001122", " aa:bb:cc:00:11:22 "],
)
def test_mac_spellings_normalise_to_one_form(raw: str) -> None:
    assert ids.normalise_mac(raw) == "aa:bb:cc:00:11:22"


@pytest.mark.parametrize("raw", ["zz:bb:cc:00:11:22", "aa:bb:cc", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", ""])
def test_bad_macs_are_refused_with_the_value(raw: str) -> None:
    with pytest.raises(InputError, match="MAC"):
        ids.normalise_mac(raw)


def test_ip_addresses_are_canonical() -> None:
    assert ids.normalise_ip(" 127.20.1.5 ") == "127.20.1.5"
    assert ids.normalise_ip("2001:DB8:0:0::1") == "2001:db8::1"
    with pytest.raises(InputError, match="IP"):
        ids.normalise_ip("300.1.1.1")


def test_imei_needs_fifteen_digits_and_luhn() -> None:
    assert ids.normalise_imei("490154203237518") == "490154203237518"
    with pytest.raises(InputError, match="IMEI"):
        ids.normalise_imei("490154203237519")
    with pytest.raises(InputError, match="IMEI"):
        ids.normalise_imei("49015420323751")


def test_iccid_starts_89_and_passes_luhn() -> None:
    good = "8944500102198304826"
    assert ids.luhn_ok(good)
    assert ids.normalise_iccid(good) == good
    with pytest.raises(InputError, match="ICCID"):
        ids.normalise_iccid("1944500102198304826")


def test_vin_is_uppercased_and_refuses_i_o_q() -> None:
    assert ids.normalise_vin("1m8gdm9axkp042788") == "1M8GDM9AXKP042788"
    assert ids.vin_check_digit("1M8GDM9AXKP042788") == "X"
    with pytest.raises(InputError, match="VIN"):
        ids.normalise_vin("1M8GDM9AXKP04278O")


def test_serial_refuses_spaces_and_controls() -> None:
    assert ids.normalise_serial(" DS-2CD2143G2-I20231105 ") == "DS-2CD2143G2-I20231105"
    for bad in ["has space", "bell\x07", "x" * 129]:
        with pytest.raises(InputError, match="serial"):
            ids.normalise_serial(bad)


def test_hostnames_and_cert_fingerprints() -> None:
    assert ids.normalise_hostname("HQ-CAM-0001.example.") == "hq-cam-0001.example"
    with pytest.raises(InputError):
        ids.normalise_hostname("-bad-.example")
    fp = "AB:" * 31 + "AB"
    assert ids.normalise_cert_sha256(fp) == "ab" * 32


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(InputError) as err:
        ids.normalise_mac("x" * 5000)
    assert len(str(err.value)) < 100
