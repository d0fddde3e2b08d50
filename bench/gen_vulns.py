"""Vulnerability test data of real shape for the matching benchmark (issue 5).

    .venv/bin/python bench/gen_vulns.py OUTDIR [--cves 300000] [--images 500]
        [--components 60] [--devices 1000000] [--seed 7] [--jobs N] [--stats N]

Writes into OUTDIR, deterministically for a seed (whatever ``--jobs``):

* ``nvd.json.gz``: an NVD CVE API 2.0 feed of ``--cves`` records. Configurations are
  mixed roughly as in the real NVD: ~70 % an OR of application/OS criteria (ranges or
  exact versions), ~20 % IoT firmware (AND of ``o:VENDOR:MODEL_firmware`` and the
  ``vulnerable: false`` hardware), ~10 % "running on/with" (application AND platform)
  or several configurations. Popular embedded components (Linux kernel, OpenSSL,
  BusyBox, Dropbear, ...) carry many CVEs over real release histories (LTS branches,
  OpenSSL letter releases); most CVEs hit a long tail of products no image has.
  CVSS scores are the ``cvss`` library's for the vector.
* ``kev.json``: a CISA KEV catalogue naming ~0.4 % of the CVEs (1,200 of 300,000),
  biased to popular and IoT products.
* ``epss.csv.gz``: EPSS scores, one row per CVE (most < 0.01, a few > 0.5).
* ``sboms/image_NNNN.cdx.json``: one CycloneDX 1.5 SBOM per firmware image, each with
  ``--components`` components in all: the image's own ``o:VENDOR:MODEL_firmware``
  component (type firmware), the popular components with the versions current when
  the firmware was built (minus the vendor's SDK lag: old versions are common), the
  vendor's own daemons (purl, no CPE) and a fill of other open-source libraries.
* ``images.csv``: ``image,vendor,model,device_type,firmware,sbom,hardware_cpe``
  (~100 models x ~5 firmware versions for 500 images).
* ``records.json``: what must exist before the devices are imported:
  ``{"sites": [{name, code}], "segments": [{name, zone, site}], "models": [{vendor,
  model, device_type}]}`` (``fleetwarden sites add -s name=...``, ``segments add -s
  name=... -s zone=... -s site=...``, ``models add -s vendor=... -s model=... -s
  device_type=...``).
* ``devices.csv``: ``--devices`` rows in the ``fleetwarden devices import`` format,
  spread over the images Zipf-like (vendor, model, firmware_version name the image);
  unique names, serials, MACs and 127.0.0.0/8 addresses.
* ``nvd-delta.json``: 1,000 records (scaled down for small runs): ~600 existing CVEs
  modified (new ranges, scores, later ``lastModified``) and ~400 new ones, many on
  popular components.

The NVD records are generated in chunks of fixed size, each from its own seeded
generator, so ``--jobs`` worker processes give the same bytes as one. ``--stats N``
afterwards reads the feed and N SBOMs with the project's readers and prints how many
CVEs each image matches (``VulnIndex``); ``match_stats()`` does the same from Python.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import math
import os
import random
import sys
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4

NOW = 2026.85
"""Generation "now" as a fractional year (mid-November 2026)."""
_EPOCH = date(1999, 1, 1)
_LAST_DAY = date(2026, 11, 19)
FEED_TIMESTAMP = "2026-11-20T03:00:00.000"
EPSS_HEADER = "#model_version:v2025.03.14,score_date:2026-11-20T00:00:00+0000"
CHUNK = 5000
"""NVD records per chunk (fixed: the output does not depend on the number of jobs)."""
DELTA_MODIFIED = 600
DELTA_NEW = 400
KEV_SHARE = 0.004
DEVICE_COLUMNS = ("name", "device_type", "vendor", "model", "serial", "mac_addresses",
                  "ip_addresses", "hostname", "firmware_version", "site", "segment",
                  "lifecycle_state", "criticality")
IMAGE_COLUMNS = ("image", "vendor", "model", "device_type", "firmware", "sbom",
                 "hardware_cpe")
_ANY7 = ":*:*:*:*:*:*:*"
_NA_TAIL = ":-:*:*:*:*:*:*:*"


# ============================================================================ versions


def _letter(k: int) -> str:
    """OpenSSL letter releases: 1 -> a ... 26 -> z, 27 -> za, 34 -> zh."""
    return chr(96 + k) if k <= 26 else "z" + chr(96 + k - 26)


@dataclass(frozen=True, slots=True)
class Branch:
    versions: tuple[str, ...]
    times: tuple[float, ...]
    eol: float
    """Fractional year after which no fix lands in this branch."""
    next_version: str
    """The release after the last one listed (a fix not shipped yet)."""


def _branch(versions: Sequence[str], y0: float, y1: float, eol: float | None = None,
            next_version: str | None = None) -> Branch:
    n = len(versions)
    end = min(y1, NOW - 0.05)
    times = tuple(y0 + (end - y0) * i / max(1, n - 1) for i in range(n))
    return Branch(tuple(versions), times, eol if eol is not None else y1,
                  next_version or versions[-1] + ".1")


def _dotted(base: str, n: int, zero: str = ".0") -> list[str]:
    return [base + zero] + [f"{base}.{k}" for k in range(1, n + 1)]


def _kernel(label: str, y0: float, eol: float, n: int) -> Branch:
    return _branch(_dotted(label, n, zero=""), y0, eol, next_version=f"{label}.{n + 1}")


def _openssl_letters(base: str, y0: float, eol: float, n: int) -> Branch:
    return _branch([base] + [base + _letter(k) for k in range(1, n + 1)], y0, eol,
                   next_version=base + _letter(n + 1))


def _series(spec: Sequence[tuple[int, int, int, int]]) -> list[str]:
    """(major, first minor, last minor, patches): patches 0 gives ``major.minor``."""
    out: list[str] = []
    for major, lo, hi, patches in spec:
        for minor in range(lo, hi + 1):
            if patches == 0:
                out.append(f"{major}.{minor}")
            else:
                out.extend(f"{major}.{minor}.{p}" for p in range(patches))
    return out


# ============================================================================ products


@dataclass(slots=True)
class Product:
    """A component with a release history; CVEs are placed on that history."""

    key: str
    part: str
    vendor: str
    product: str
    name: str
    ctype: str
    supplier: str
    branches: tuple[Branch, ...]
    cves: float
    """CVEs at full scale (300,000 records)."""
    age: float
    """Mean age of a bug when fixed, in years: small means old versions are hit less."""
    recent: float = 0.7
    """Exponent on the fix-time draw: < 1 puts more CVEs in recent years."""
    kev: float = 0.05
    display: tuple[str, str] = ("", "")
    """KEV vendorProject and product."""
    deb: str | None = None
    year_weights: tuple[tuple[int, float], ...] = ()
    flat: tuple[str, ...] = ()
    offsets: tuple[int, ...] = ()
    multi: bool = False

    def __post_init__(self) -> None:
        flat: list[str] = []
        offsets = []
        for b in self.branches:
            offsets.append(len(flat))
            flat.extend(b.versions)
        self.flat = tuple(flat)
        self.offsets = tuple(offsets)
        self.multi = len(self.branches) > 1
        if not self.display[0]:
            self.display = (self.vendor.replace("_", " ").title(),
                            self.product.replace("_", " ").title())

    @property
    def y0(self) -> float:
        return self.branches[0].times[0]

    def cpe(self, version: str) -> str:
        return f"cpe:2.3:{self.part}:{self.vendor}:{self.product}:{version}{_ANY7}"


_KERNEL_YEARS = ((2010, 120), (2011, 90), (2012, 110), (2013, 190), (2014, 130),
                 (2015, 80), (2016, 215), (2017, 450), (2018, 180), (2019, 290),
                 (2020, 130), (2021, 160), (2022, 300), (2023, 270), (2024, 3300),
                 (2025, 3800), (2026, 2600))


def _popular() -> list[Product]:
    p: list[Product] = []

    def add(key: str, part: str, vendor: str, product: str, name: str, ctype: str,
            supplier: str, branches: Sequence[Branch], cves: float, age: float,
            **kw: Any) -> None:
        p.append(Product(key, part, vendor, product, name, ctype, supplier, tuple(branches),
                         cves, age, **kw))

    add("linux_kernel", "o", "linux", "linux_kernel", "linux", "operating-system",
        "The Linux Foundation", [
            _kernel("3.2", 2012.0, 2018.4, 102), _kernel("3.4", 2012.4, 2016.8, 113),
            _kernel("3.10", 2013.5, 2017.9, 108), _kernel("3.14", 2014.2, 2016.7, 79),
            _kernel("3.16", 2014.6, 2020.5, 85), _kernel("3.18", 2014.9, 2017.1, 140),
            _kernel("4.1", 2015.5, 2018.4, 52), _kernel("4.4", 2016.0, 2022.1, 302),
            _kernel("4.9", 2016.9, 2023.0, 337), _kernel("4.14", 2017.9, 2024.0, 336),
            _kernel("4.19", 2018.8, 2024.9, 324), _kernel("5.4", 2019.9, 2025.9, 294),
            _kernel("5.10", 2020.95, 2026.95, 240), _kernel("5.15", 2021.85, 2026.95, 180),
            _kernel("6.1", 2022.95, 2027.95, 150), _kernel("6.6", 2023.8, 2027.95, 100),
            _kernel("6.12", 2024.9, 2028.9, 50)],
        3000, 1.3, kev=0.004, display=("Linux", "Kernel"), deb="linux",
        year_weights=_KERNEL_YEARS)
    add("openssl", "a", "openssl", "openssl", "openssl", "library",
        "OpenSSL Software Foundation", [
            _openssl_letters("0.9.8", 2005.5, 2015.95, 34),
            _openssl_letters("1.0.0", 2010.25, 2015.95, 20),
            _openssl_letters("1.0.1", 2012.2, 2016.95, 21),
            _openssl_letters("1.0.2", 2015.05, 2023.95, 37),
            _openssl_letters("1.1.0", 2016.65, 2019.7, 12),
            _openssl_letters("1.1.1", 2018.7, 2023.7, 23),
            _branch(_dotted("3.0", 15), 2021.7, 2026.7, next_version="3.0.16"),
            _branch(_dotted("3.1", 7), 2023.2, 2025.2, next_version="3.1.8"),
            _branch(_dotted("3.2", 3), 2023.9, 2025.9, next_version="3.2.4"),
            _branch(_dotted("3.3", 2), 2024.3, 2026.3, next_version="3.3.3"),
            _branch(_dotted("3.4", 1), 2024.8, 2026.8, next_version="3.4.2"),
            _branch(_dotted("3.5", 1), 2025.3, 2030.0, next_version="3.5.2")],
        250, 2.5, display=("OpenSSL", "OpenSSL"), deb="openssl")
    busybox = [f"1.{m}.{k}" for m in range(13, 38) for k in range((m * 7) % 4 + 1)]
    add("busybox", "a", "busybox", "busybox", "busybox", "application", "BusyBox",
        [_branch(busybox, 2009.0, 2024.8, eol=NOW + 1)], 60, 4.0,
        display=("BusyBox", "BusyBox"), deb="busybox")
    dropbear = ["2011.54", "2012.55", "2013.56", "2013.58", "2013.59", "2013.60", "2013.62",
                "2014.63", "2014.65", "2014.66", "2015.67", "2015.68", "2015.71", "2016.72",
                "2016.73", "2016.74", "2017.75", "2018.76", "2019.77", "2019.78", "2020.79",
                "2020.80", "2020.81", "2022.82", "2022.83", "2024.84", "2024.85", "2024.86"]
    add("dropbear", "a", "dropbear_ssh_project", "dropbear_ssh", "dropbear", "application",
        "Matt Johnston", [_branch(dropbear, 2011.2, 2024.9, eol=NOW + 1,
                                  next_version="2025.87")], 25, 4.0,
        display=("Dropbear SSH", "Dropbear SSH"), deb="dropbear")
    add("lighttpd", "a", "lighttpd", "lighttpd", "lighttpd", "application", "lighttpd",
        [_branch([f"1.4.{k}" for k in range(20, 77)], 2008.8, 2024.4, eol=NOW + 1)],
        30, 4.0, deb="lighttpd")
    curl = [v for m in range(19, 89) for v in ([f"7.{m}.0"] + ([f"7.{m}.1"] if m % 3 == 0
                                                                else []))]
    curl += [v for m in range(0, 12) for v in ([f"8.{m}.0"] + ([f"8.{m}.1"] if m % 2 == 0
                                                               else []))]
    add("curl", "a", "haxx", "curl", "curl", "library", "curl project",
        [_branch(curl, 2008.7, 2024.9, eol=NOW + 1)], 160, 2.5,
        display=("Haxx", "curl"), deb="curl")
    zlib = _branch(["1.2.3", "1.2.5", "1.2.6", "1.2.7", "1.2.8", "1.2.11", "1.2.12", "1.2.13",
                    "1.3", "1.3.1"], 2005.5, 2024.1, eol=NOW + 1, next_version="1.3.2")
    zlib = Branch(zlib.versions, (2005.5, 2010.3, 2012.1, 2012.4, 2013.3, 2017.0, 2022.2,
                                  2022.8, 2023.6, 2024.1), NOW + 1, "1.3.2")
    add("zlib", "a", "zlib", "zlib", "zlib", "library", "zlib", [zlib], 12, 6.0, deb="zlib")
    libxml2 = ["2.7.8", "2.8.0"] + _series([(2, 9, 9, 15), (2, 10, 10, 5), (2, 11, 11, 10),
                                            (2, 12, 12, 10), (2, 13, 13, 6)])
    add("libxml2", "a", "xmlsoft", "libxml2", "libxml2", "library", "GNOME",
        [_branch(libxml2, 2010.9, 2024.9, eol=NOW + 1)], 110, 3.0, deb="libxml2")
    add("sqlite", "a", "sqlite", "sqlite", "sqlite", "library", "SQLite",
        [_branch(_series([(3, 7, 46, 3)]), 2010.0, 2024.9, eol=NOW + 1)], 150, 2.5,
        deb="sqlite3")
    openssh = [f"{a}.{b}p1" for a, lo, hi in ((5, 9, 9), (6, 0, 9), (7, 0, 9), (8, 0, 9),
                                              (9, 0, 8)) for b in range(lo, hi + 1)]
    add("openssh", "a", "openbsd", "openssh", "openssh", "application", "OpenBSD",
        [_branch(openssh, 2011.7, 2024.5, eol=NOW + 1, next_version="9.9p1")], 120, 3.0,
        display=("OpenBSD", "OpenSSH"), deb="openssh")
    add("dnsmasq", "a", "thekelleys", "dnsmasq", "dnsmasq", "application", "Simon Kelley",
        [_branch([f"2.{k}" for k in range(45, 91)], 2008.5, 2024.1, eol=NOW + 1)], 40, 5.0,
        deb="dnsmasq")
    uclibc = ["0.9.28", "0.9.29", "0.9.30", "0.9.30.1", "0.9.30.2", "0.9.30.3", "0.9.31",
              "0.9.31.1", "0.9.32", "0.9.32.1", "0.9.33", "0.9.33.1", "0.9.33.2"]
    add("uclibc", "a", "uclibc", "uclibc", "uclibc", "library", "uClibc",
        [_branch(uclibc, 2005.7, 2012.4)], 15, 6.0, recent=1.0)
    add("uclibc-ng", "a", "uclibc-ng_project", "uclibc-ng", "uclibc-ng", "library",
        "uclibc-ng", [_branch(_series([(1, 0, 0, 51)]), 2015.0, 2024.9, eol=NOW + 1)],
        10, 5.0)
    add("glibc", "a", "gnu", "glibc", "glibc", "library", "GNU",
        [_branch([f"2.{k}" for k in range(11, 41)], 2009.8, 2024.6, eol=NOW + 1)], 150, 3.0,
        display=("GNU", "glibc"), deb="glibc")
    libupnp = _series([(1, 6, 6, 26)])[6:] + _series([(1, 8, 8, 8), (1, 12, 12, 2),
                                                      (1, 14, 14, 20)])
    add("libupnp", "a", "libupnp_project", "libupnp", "libupnp", "library", "pupnp",
        [_branch(libupnp, 2008.6, 2024.6, eol=NOW + 1)], 20, 5.0, deb="libupnp")
    add("mosquitto", "a", "eclipse", "mosquitto", "mosquitto", "application", "Eclipse",
        [_branch(_series([(1, 4, 4, 16), (1, 5, 5, 12), (1, 6, 6, 16), (2, 0, 0, 21)]),
                 2015.2, 2024.9, eol=NOW + 1)], 30, 3.0, deb="mosquitto")
    add("boa", "a", "boa", "boa", "boa", "application", "Boa",
        [Branch(("0.94.13", "0.94.14rc21"), (2002.7, 2005.2), 2005.2, "0.94.14")], 10, 20.0,
        recent=0.6)
    add("thttpd", "a", "acme", "thttpd", "thttpd", "application", "ACME Labs",
        [Branch(("2.25b", "2.26", "2.27", "2.28", "2.29"), (2003.8, 2014.0, 2015.0, 2016.0,
                                                             2018.5), 2018.5, "2.30")],
        10, 8.0, recent=0.8)
    ntp = [Branch(tuple(["4.2.6"] + [f"4.2.6p{k}" for k in range(1, 6)]),
                  tuple(2010.0 + 0.35 * k for k in range(6)), 2014.9, "4.2.6p6"),
           Branch(tuple(["4.2.8"] + [f"4.2.8p{k}" for k in range(1, 19)]),
                  tuple(2014.95 + 0.5 * k for k in range(19)), NOW + 1, "4.2.8p19")]
    add("ntp", "a", "ntp", "ntp", "ntp", "application", "Network Time Foundation", ntp,
        100, 4.0, display=("NTP", "NTP"), deb="ntp")
    add("openvpn", "a", "openvpn", "openvpn", "openvpn", "application", "OpenVPN",
        [_branch(_series([(2, 3, 3, 19), (2, 4, 4, 13), (2, 5, 5, 11), (2, 6, 6, 13)]),
                 2013.0, 2024.7, eol=NOW + 1)], 40, 4.0, deb="openvpn")
    add("wpa_supplicant", "a", "w1.fi", "wpa_supplicant", "wpa_supplicant", "application",
        "w1.fi", [_branch(["0.7.3", "1.0", "1.1"] + [f"2.{k}" for k in range(0, 12)],
                          2010.8, 2024.6, eol=NOW + 1)], 40, 5.0, deb="wpa")
    add("expat", "a", "libexpat_project", "libexpat", "expat", "library", "libexpat",
        [_branch(["2.0.1", "2.1.0", "2.1.1"] + _series([(2, 2, 2, 11)]) + ["2.3.0"]
                 + _series([(2, 4, 4, 10)]) + ["2.5.0"] + _series([(2, 6, 6, 5)]),
                 2007.5, 2024.9, eol=NOW + 1)], 50, 5.0, deb="expat")
    add("libpng", "a", "libpng", "libpng", "libpng", "library", "libpng",
        [_branch([f"1.2.{k}" for k in range(50, 60)] + [f"1.6.{k}" for k in range(0, 45)],
                 2012.0, 2024.8, eol=NOW + 1)], 60, 5.0, deb="libpng1.6")
    add("libjpeg-turbo", "a", "libjpeg-turbo", "libjpeg-turbo", "libjpeg-turbo", "library",
        "libjpeg-turbo", [_branch(["1.3.0", "1.3.1", "1.4.0", "1.4.1", "1.4.2"]
                                  + _series([(1, 5, 5, 4), (2, 0, 0, 9), (2, 1, 1, 6),
                                             (3, 0, 0, 5)]), 2013.2, 2024.8, eol=NOW + 1)],
        20, 4.0, deb="libjpeg-turbo")
    add("pcre", "a", "pcre", "pcre", "pcre", "library", "PCRE",
        [_branch([f"8.{k}" for k in range(10, 46)], 2010.5, 2021.6)], 50, 4.0, deb="pcre3")
    add("pcre2", "a", "pcre", "pcre2", "pcre2", "library", "PCRE",
        [_branch([f"10.{k}" for k in range(20, 45)], 2015.7, 2024.6, eol=NOW + 1)], 15, 4.0,
        deb="pcre2")
    add("mbedtls", "a", "arm", "mbed_tls", "mbedtls", "library", "Arm / TrustedFirmware",
        [_branch(_series([(2, 1, 28, 1)]) + [f"2.28.{k}" for k in range(1, 10)]
                 + _series([(3, 0, 6, 1)]) + ["3.6.1", "3.6.2"], 2015.8, 2024.8,
                 eol=NOW + 1)], 50, 4.0, display=("Arm", "Mbed TLS"), deb="mbedtls")
    add("wolfssl", "a", "wolfssl", "wolfssl", "wolfssl", "library", "wolfSSL",
        [_branch(_series([(3, 9, 15, 1), (4, 0, 8, 1), (5, 0, 7, 1)]), 2016.3, 2024.8,
                 eol=NOW + 1)], 90, 3.0)
    uboot = [f"{y}.{m:02d}" for y in range(2013, 2025) for m in (1, 4, 7, 10)]
    add("u-boot", "a", "denx", "u-boot", "u-boot", "application", "DENX",
        [_branch(uboot, 2013.0, 2024.8, eol=NOW + 1)], 30, 4.0, display=("DENX", "U-Boot"),
        deb="u-boot")
    add("lwip", "a", "lwip_project", "lwip", "lwip", "library", "lwIP",
        [_branch(["1.3.0", "1.3.1", "1.3.2", "1.4.0", "1.4.1", "2.0.0", "2.0.1", "2.0.2",
                  "2.0.3", "2.1.0", "2.1.1", "2.1.2", "2.1.3", "2.2.0"], 2008.2, 2023.9,
                 eol=NOW + 1)], 10, 6.0)
    add("freertos", "a", "amazon", "freertos", "freertos", "operating-system", "Amazon",
        [_branch(_series([(10, 0, 6, 3)]), 2017.9, 2024.2, eol=NOW + 1)], 20, 4.0,
        display=("Amazon", "FreeRTOS"))
    add("zephyr", "a", "zephyrproject", "zephyr", "zephyr", "operating-system",
        "Zephyr Project", [_branch(["1.14.0"] + _series([(2, 0, 7, 1), (3, 0, 7, 1)]),
                                   2019.3, 2024.7, eol=NOW + 1)], 100, 2.5)
    return p


# (vendor, product, component name, type, CVEs at full scale, first year, version spec)
_SECONDARY_SPECS: tuple[tuple[str, str, str, str, float, float, Any], ...] = (
    ("json-c", "json-c", "json-c", "library", 6, 2012, [(0, 10, 17, 2)]),
    ("libevent_project", "libevent", "libevent", "library", 8, 2010, [(2, 0, 1, 20)]),
    ("netfilter", "iptables", "iptables", "application", 5, 2010, [(1, 4, 8, 12)]),
    ("iproute2_project", "iproute2", "iproute2", "application", 3, 2012, [(5, 0, 19, 1)]),
    ("e2fsprogs_project", "e2fsprogs", "e2fsprogs", "application", 6, 2010,
     [(1, 42, 47, 10)]),
    ("kernel", "util-linux", "util-linux", "application", 12, 2012, [(2, 20, 40, 3)]),
    ("libffi_project", "libffi", "libffi", "library", 3, 2010, [(3, 0, 4, 4)]),
    ("gnu", "ncurses", "ncurses", "library", 20, 2008, [(5, 7, 9, 0), (6, 0, 5, 0)]),
    ("gnu", "readline", "readline", "library", 2, 2010, [(6, 2, 3, 0), (8, 0, 2, 0)]),
    ("libcap_project", "libcap", "libcap", "library", 3, 2010, [(2, 25, 70, 0)]),
    ("gnupg", "libgcrypt", "libgcrypt", "library", 20, 2010, [(1, 5, 10, 6)]),
    ("gnu", "gnutls", "gnutls", "library", 60, 2010, [(3, 3, 8, 12)]),
    ("nettle_project", "nettle", "nettle", "library", 8, 2012, [(3, 1, 10, 2)]),
    ("gmplib", "gmp", "gmp", "library", 3, 2010, [(6, 0, 3, 2)]),
    ("libtirpc_project", "libtirpc", "libtirpc", "library", 4, 2012, [(1, 0, 3, 4)]),
    ("avahi", "avahi", "avahi", "application", 15, 2010, [(0, 6, 8, 3)]),
    ("samba", "samba", "samba", "application", 120, 2010, [(4, 0, 21, 8)]),
    ("libusb", "libusb", "libusb", "library", 2, 2012, [(1, 0, 0, 27)]),
    ("alsa-project", "alsa-lib", "alsa-lib", "library", 2, 2010, [(1, 0, 2, 30)]),
    ("ffmpeg", "ffmpeg", "ffmpeg", "library", 300, 2010,
     [(2, 8, 8, 22), (3, 0, 4, 6), (4, 0, 4, 6), (5, 0, 1, 6), (6, 0, 1, 3), (7, 0, 1, 2)]),
    ("gstreamer_project", "gstreamer", "gstreamer", "library", 40, 2012, [(1, 2, 24, 3)]),
    ("libwebsockets", "libwebsockets", "libwebsockets", "library", 10, 2014, [(4, 0, 3, 3)]),
    ("civetweb_project", "civetweb", "civetweb", "application", 8, 2014, [(1, 8, 16, 0)]),
    ("embedthis", "goahead", "goahead", "application", 20, 2012,
     [(3, 6, 6, 6), (4, 0, 1, 3), (5, 0, 2, 3)]),
    ("acme", "mini_httpd", "mini_httpd", "application", 6, 2010, [(1, 19, 30, 0)]),
    ("libssh", "libssh", "libssh", "library", 30, 2012, [(0, 6, 11, 6)]),
    ("libssh2", "libssh2", "libssh2", "library", 15, 2010, [(1, 4, 11, 4)]),
    ("c-ares", "c-ares", "c-ares", "library", 15, 2010, [(1, 10, 34, 2)]),
    ("nghttp2", "nghttp2", "nghttp2", "library", 8, 2014, [(1, 10, 64, 0)]),
    ("gnu", "libidn2", "libidn2", "library", 4, 2016, [(2, 0, 3, 4)]),
    ("jansson_project", "jansson", "jansson", "library", 3, 2012, [(2, 5, 14, 0)]),
    ("cjson_project", "cjson", "cjson", "library", 8, 2016, [(1, 6, 7, 18)]),
    ("protobuf-c_project", "protobuf-c", "protobuf-c", "library", 4, 2014, [(1, 2, 5, 2)]),
    ("lua", "lua", "lua", "application", 15, 2012, [(5, 1, 4, 7)]),
    ("w1.fi", "hostapd", "hostapd", "application", 40, 2012, [(2, 0, 11, 0)]),
    ("bzip", "bzip2", "bzip2", "library", 5, 2010, [(1, 0, 0, 9)]),
    ("tukaani", "xz", "xz", "library", 5, 2010, [(5, 0, 6, 9)]),
    ("lz4_project", "lz4", "lz4", "library", 3, 2014, [(1, 7, 10, 6)]),
    ("libarchive", "libarchive", "libarchive", "library", 60, 2012, [(3, 1, 7, 6)]),
    ("freetype", "freetype", "freetype", "library", 80, 2010, [(2, 4, 13, 5)]),
    ("libtiff", "libtiff", "libtiff", "library", 150, 2010, [(4, 0, 7, 11)]),
    ("giflib_project", "giflib", "giflib", "library", 15, 2010, [(5, 0, 2, 5)]),
    ("webmproject", "libwebp", "libwebp", "library", 15, 2012, [(0, 4, 6, 4), (1, 0, 4, 4)]),
    ("gnome", "glib", "glib", "library", 30, 2010, [(2, 40, 82, 6)]),
    ("freedesktop", "dbus", "dbus", "application", 20, 2010, [(1, 10, 15, 20)]),
    ("systemd_project", "systemd", "systemd", "application", 60, 2012,
     tuple(str(k) for k in range(200, 257))),
    ("openldap", "openldap", "openldap", "application", 40, 2010,
     [(2, 4, 4, 59), (2, 5, 6, 18)]),
    ("mit", "kerberos_5", "krb5", "library", 60, 2010, [(1, 10, 21, 6)]),
    ("net-snmp", "net-snmp", "net-snmp", "application", 25, 2010, [(5, 7, 9, 4)]),
    ("point-to-point_protocol_project", "point-to-point_protocol", "ppp", "application", 8,
     2010, [(2, 4, 5, 10)]),
    ("strongswan", "strongswan", "strongswan", "application", 40, 2012, [(5, 0, 9, 10)]),
    ("tcpdump", "tcpdump", "tcpdump", "application", 150, 2010, [(4, 1, 10, 4)]),
    ("tcpdump", "libpcap", "libpcap", "library", 15, 2010, [(1, 1, 10, 5)]),
    ("isc", "bind", "bind", "application", 150, 2010, [(9, 9, 20, 20)]),
    ("isc", "dhcp", "isc-dhcp", "application", 30, 2010, [(4, 1, 4, 4)]),
    ("roy_marples", "dhcpcd", "dhcpcd", "application", 8, 2012, [(9, 0, 4, 10)]),
    ("tuxfamily", "chrony", "chrony", "application", 8, 2012, [(3, 0, 5, 0), (4, 0, 6, 0)]),
    ("samba", "rsync", "rsync", "application", 15, 2010, [(3, 1, 3, 4)]),
    ("beasts", "vsftpd", "vsftpd", "application", 5, 2008, [(3, 0, 0, 6)]),
    ("proftpd", "proftpd", "proftpd", "application", 40, 2010, [(1, 3, 8, 8)]),
    ("f5", "nginx", "nginx", "application", 40, 2010, [(1, 10, 27, 4)]),
    ("apache", "http_server", "apache2", "application", 200, 2010, [(2, 4, 4, 63)]),
    ("php", "php", "php", "application", 300, 2012,
     [(7, 0, 4, 34), (8, 0, 3, 30)]),
    ("python", "python", "python3", "application", 80, 2012, [(3, 5, 13, 10)]),
    ("perl", "perl", "perl", "application", 30, 2010, [(5, 20, 40, 4)]),
    ("libmodbus", "libmodbus", "libmodbus", "library", 5, 2014, [(3, 0, 1, 7)]),
    ("open62541", "open62541", "open62541", "library", 12, 2018, [(1, 0, 4, 6)]),
    ("libcoap", "libcoap", "libcoap", "library", 10, 2016, [(4, 1, 3, 4)]),
    ("zeromq", "libzmq", "libzmq", "library", 8, 2014, [(4, 0, 3, 5)]),
    ("libyaml_project", "libyaml", "libyaml", "library", 5, 2012, [(0, 1, 2, 8)]),
    ("iniparser_project", "iniparser", "iniparser", "library", 3, 2014, [(4, 0, 2, 3)]),
    ("sudo_project", "sudo", "sudo", "application", 50, 2010, [(1, 8, 9, 32)]),
    ("shadow_project", "shadow", "shadow", "application", 8, 2012, [(4, 1, 16, 5)]),
    ("linux-pam", "linux-pam", "pam", "library", 12, 2010, [(1, 1, 6, 10)]),
    ("libseccomp_project", "libseccomp", "libseccomp", "library", 3, 2014, [(2, 1, 5, 6)]),
    ("libexif_project", "libexif", "libexif", "library", 20, 2010, [(0, 6, 6, 25)]),
    ("libgd", "libgd", "libgd", "library", 40, 2010, [(2, 1, 3, 4)]),
    ("gnu", "bash", "bash", "application", 20, 2010, [(4, 0, 4, 40), (5, 0, 2, 20)]),
    ("gnu", "coreutils", "coreutils", "application", 10, 2010, [(8, 20, 32, 0), (9, 0, 5, 0)]),
    ("gnu", "tar", "tar", "application", 10, 2010, [(1, 26, 35, 0)]),
    ("gnu", "wget", "wget", "application", 25, 2010, [(1, 14, 21, 4)]),
    ("haproxy", "haproxy", "haproxy", "application", 30, 2012, [(2, 0, 9, 20)]),
    ("cesanta", "mongoose", "mongoose", "library", 30, 2014, [(6, 0, 18, 0), (7, 0, 14, 0)]),
    ("cyrus", "cyrus-sasl", "cyrus-sasl", "library", 6, 2010, [(2, 1, 1, 28)]),
    ("xmlsoft", "libxslt", "libxslt", "library", 20, 2010, [(1, 1, 1, 39)]),
)


def _secondary() -> list[Product]:
    out = []
    for vendor, product, name, ctype, cves, y0, spec in _SECONDARY_SPECS:
        versions = list(spec) if isinstance(spec[0], str) else _series(spec)
        out.append(Product(name, "a", vendor, product, name, ctype, vendor.replace("_", " "),
                           (_branch(versions, y0, NOW - 0.2, eol=NOW + 1),), cves, 2.0,
                           kev=0.02, deb=name))
    return out


# ============================================================================ estate models

# (display vendor, CPE vendor, OUI or "", firmware style, CVE weight,
#  [(model, device type, profile)])
_ESTATE: tuple[tuple[str, str, str, str, float, tuple[tuple[str, str, str], ...]], ...] = (
    ("Hikvision", "hikvision", "c0:56:e3", "3", 6, (
        ("DS-2CD2042WD-I", "cctv_camera", "linux"), ("DS-2CD2142FWD-I", "cctv_camera", "linux"),
        ("DS-2CD2347G2-LU", "cctv_camera", "linux"), ("DS-2CD2T87G2-L", "cctv_camera", "linux"),
        ("DS-2DE4425IW-DE", "cctv_camera", "linux"), ("DS-2CD2385G1-I", "cctv_camera", "linux"),
        ("DS-7608NI-K2", "nvr", "linux"), ("DS-7616NI-I2", "nvr", "linux"),
        ("DS-9632NI-I8", "nvr", "linux"), ("DS-K1T341AMF", "access_controller", "linux"),
        ("DS-K2604T", "access_controller", "linux"))),
    ("Dahua", "dahuasecurity", "3c:ef:8c", "dahua", 6, (
        ("IPC-HDW2431T-AS-S2", "cctv_camera", "linux"),
        ("IPC-HFW2831S-S-S2", "cctv_camera", "linux"),
        ("IPC-HDBW5442R-ASE", "cctv_camera", "linux"),
        ("IPC-HFW5241E-Z12E", "cctv_camera", "linux"), ("SD49225XA-HNR", "cctv_camera", "linux"),
        ("NVR4216-16P-4KS2E", "nvr", "linux"), ("NVR5216-16P-4KS2E", "nvr", "linux"),
        ("XVR5108HS-I3", "nvr", "linux"), ("ASI7213Y-V3", "access_controller", "linux"))),
    ("Axis Communications", "axis", "ac:cc:8e", "3", 3, (
        ("M3065-V", "cctv_camera", "linux"), ("P3245-LVE", "cctv_camera", "linux"),
        ("Q6135-LE", "cctv_camera", "linux"), ("P1448-LE", "cctv_camera", "linux"),
        ("M1065-LW", "cctv_camera", "linux"), ("Q1656", "cctv_camera", "linux"),
        ("A1601", "access_controller", "linux"), ("A1001", "access_controller", "linux"),
        ("S3008", "nvr", "linux"))),
    ("Hanwha Vision", "hanwhavision", "", "3", 2, (
        ("XNV-6080R", "cctv_camera", "linux"), ("QNV-C8083R", "cctv_camera", "linux"),
        ("PNM-9085RQZ1", "cctv_camera", "linux"), ("XND-8081RV", "cctv_camera", "linux"),
        ("XRN-1620B2", "nvr", "linux"))),
    ("Bosch", "bosch", "", "4", 2, (
        ("NDE-5503-AL", "cctv_camera", "linux"), ("NBN-73023-BA", "cctv_camera", "linux"),
        ("DIVAR-IP-5000", "nvr", "linux"), ("B5512", "intruder_alarm_panel", "rtos"),
        ("B6512", "intruder_alarm_panel", "rtos"), ("FPA-5000", "fire_alarm_panel", "rtos"))),
    ("Honeywell", "honeywell", "", "3", 2, (
        ("H4W4PER3", "cctv_camera", "linux"), ("HEN16104", "nvr", "linux"),
        ("NFS2-3030", "fire_alarm_panel", "rtos"), ("VISTA-128BPT", "intruder_alarm_panel", "rtos"),
        ("WEB-8000", "bms_controller", "linux"), ("MPA2C3", "access_controller", "linux"))),
    ("HID Global", "hidglobal", "", "3", 1.5, (
        ("VertX-EVO-V1000", "access_controller", "linux"),
        ("Edge-EVO-EH400-K", "access_controller", "linux"),
        ("Aero-X1100A", "access_controller", "linux"), ("Signo-40", "sensor", "rtos"))),
    ("ASSA ABLOY", "assaabloy", "", "build", 1, (
        ("Aperio-AH30", "door_lock", "rtos"), ("IN120", "door_lock", "rtos"),
        ("Aperio-Hub-AH40", "gateway", "rtos"))),
    ("Gallagher", "gallagher", "", "4", 1, (
        ("Controller-6000", "access_controller", "linux"), ("T20-Reader", "sensor", "rtos"))),
    ("Paxton", "paxton", "", "3", 1, (
        ("Net2-Plus", "access_controller", "rtos"),
        ("Paxton10-Door-Controller", "access_controller", "linux"))),
    ("Motorola Solutions", "motorolasolutions", "", "build", 1, (
        ("V300", "body_worn_camera", "linux"), ("V500", "body_worn_camera", "linux"),
        ("V300-Dock", "body_worn_camera_dock", "linux"))),
    ("Axon", "axon", "", "3", 1, (
        ("Body-3", "body_worn_camera", "linux"), ("Body-4", "body_worn_camera", "linux"),
        ("Dock-Body-4", "body_worn_camera_dock", "linux"),
        ("Fleet-3", "vehicle_telematics", "linux"))),
    ("Teltonika", "teltonika", "00:1e:42", "4", 3, (
        ("RUT955", "router", "linux"), ("RUT241", "router", "linux"),
        ("TRB140", "gateway", "linux"), ("FMB920", "vehicle_telematics", "rtos"))),
    ("Sierra Wireless", "sierrawireless", "", "4", 2, (
        ("AirLink-MG90", "gateway", "linux"), ("AirLink-RV55", "router", "linux"))),
    ("Cisco", "cisco", "", "3", 6, (
        ("IP-Phone-8845", "voip_phone", "linux"), ("CP-7841", "voip_phone", "linux"),
        ("IE-3300", "switch", "linux"), ("IR1101", "router", "linux"))),
    ("Yealink", "yealink", "", "4", 2, (
        ("T54W", "voip_phone", "linux"), ("T46U", "voip_phone", "linux"))),
    ("HP", "hp", "", "build", 4, (
        ("LaserJet-Pro-M404", "printer", "linux"),
        ("LaserJet-Enterprise-M507", "printer", "linux"))),
    ("Lexmark", "lexmark", "", "3", 3, (("MS826", "printer", "linux"),
                                        ("CX725", "printer", "linux"))),
    ("APC", "apc", "", "3", 2, (("AP7900B", "pdu_ups", "linux"), ("AP9631", "pdu_ups", "linux"))),
    ("Siemens", "siemens", "00:1b:1b", "3", 5, (
        ("S7-1200", "plc", "rtos"), ("S7-1500", "plc", "rtos"),
        ("SCALANCE-XC208", "switch", "linux"), ("Desigo-PXC5", "bms_controller", "linux"))),
    ("Schneider Electric", "schneider-electric", "", "3", 5, (
        ("Modicon-M221", "plc", "rtos"), ("Modicon-M580", "plc", "rtos"))),
    ("Johnson Controls", "johnsoncontrols", "", "3", 2, (
        ("Metasys-NAE55", "bms_controller", "linux"), ("Metasys-SNE", "bms_controller", "linux"))),
    ("Tridium", "tridium", "", "4", 2, (("JACE-8000", "bms_controller", "linux"),)),
    ("Moxa", "moxa", "00:90:e8", "3", 4, (
        ("NPort-5110", "gateway", "rtos"), ("EDS-510E", "switch", "linux"),
        ("OnCell-G3150A", "router", "linux"))),
    ("Ubiquiti", "ui", "24:5a:4c", "3", 3, (
        ("UVC-G4-Bullet", "cctv_camera", "linux"), ("USW-24-POE", "switch", "linux"),
        ("UDM-Pro", "router", "linux"))),
    ("MikroTik", "mikrotik", "48:8f:5a", "3", 4, (
        ("hAP-ac2", "router", "linux"), ("CRS326-24G-2S", "switch", "linux"))),
    ("DJI", "dji", "", "4", 2, (("Matrice-300-RTK", "drone", "linux"),
                                ("Dock-2", "drone_dock", "linux"))),
    ("Itron", "itron", "", "3", 1, (("OpenWay-Riva", "smart_meter", "rtos"),)),
    ("Landis+Gyr", "landisgyr", "", "3", 1, (("E360", "smart_meter", "rtos"),)),
    ("Garmin", "garmin", "", "3", 1, (("Instinct-2", "wearable", "rtos"),)),
    ("Amazon", "amazon", "", "build", 1, (("Echo-Dot-5", "voice_assistant", "linux"),)),
    ("Philips", "philips", "", "3", 1, (("IntelliVue-MX40", "health_monitor", "linux"),)),
    ("Jenoptik", "jenoptik", "", "3", 1, (("VECTOR-SR", "enforcement_device", "linux"),)),
    ("Milesight", "milesight", "", "3", 1, (("EM300-TH", "sensor", "rtos"),
                                            ("UG65", "gateway", "linux"))),
    ("Shelly", "shelly", "", "3", 1, (("Plus-1PM", "actuator", "rtos"),)),
    ("CalAmp", "calamp", "", "3", 1, (("LMU-3030", "vehicle_telematics", "rtos"),)),
)

_ZONE_OF = {
    "cctv_camera": "iot-cctv", "nvr": "iot-cctv", "access_controller": "iot-access",
    "door_lock": "iot-access", "fire_alarm_panel": "iot-fire",
    "intruder_alarm_panel": "iot-building", "bms_controller": "iot-building",
    "pdu_ups": "iot-building", "sensor": "iot-building", "actuator": "iot-building",
    "smart_meter": "iot-building", "wearable": "iot-wearable",
    "body_worn_camera": "iot-wearable", "body_worn_camera_dock": "iot-wearable",
    "vehicle_telematics": "iot-vehicle", "drone": "iot-vehicle", "drone_dock": "iot-vehicle",
    "router": "management", "switch": "management", "gateway": "iot-general",
    "printer": "corporate", "voip_phone": "corporate", "plc": "ot",
    "health_monitor": "iot-general", "voice_assistant": "iot-general",
    "enforcement_device": "iot-vehicle",
}
_CRITICALITY = ("low", "medium", "high", "critical")
_BASE_CRIT = {"plc": 3, "fire_alarm_panel": 3, "health_monitor": 3, "access_controller": 2,
              "door_lock": 2, "router": 2, "switch": 2, "bms_controller": 2, "nvr": 2,
              "intruder_alarm_panel": 2, "gateway": 2, "printer": 0, "voip_phone": 0,
              "voice_assistant": 0}
_SHORT = {"cctv_camera": "cam", "nvr": "nvr", "access_controller": "acc", "door_lock": "lock",
          "fire_alarm_panel": "fire", "intruder_alarm_panel": "ias", "bms_controller": "bms",
          "body_worn_camera": "bwc", "body_worn_camera_dock": "dock", "router": "rtr",
          "switch": "sw", "gateway": "gw", "printer": "prn", "voip_phone": "tel",
          "pdu_ups": "pdu", "plc": "plc", "sensor": "sens", "actuator": "act",
          "smart_meter": "mtr", "wearable": "wear", "vehicle_telematics": "tele",
          "drone": "uav", "drone_dock": "uavd", "health_monitor": "med",
          "voice_assistant": "va", "enforcement_device": "enf"}
_TOWNS = ("Northgate", "Brackenford", "Eastmere", "Hollowbrook", "Kingsreach", "Ashby Vale",
          "Westholm", "Redcliffe", "Stanmoor", "Larkhill", "Oakham Cross", "Pennington",
          "Marlow Fen", "Thornbury", "Harrowgate", "Fairhaven", "Coldridge", "Elmstead",
          "Greywater", "Southwick", "Millbrook", "Dunmore", "Whitby Edge", "Ravensholt")
_SITE_KINDS = ("Police Station", "Custody Suite", "Operations Centre", "Vehicle Depot",
               "Headquarters", "Training Centre")


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in text.lower())


@dataclass(slots=True)
class EstateModel:
    vendor: str
    cpe_vendor: str
    model: str
    device_type: str
    profile: str
    oui: str
    weight: float
    index: int
    slug: str = ""
    fw_versions: tuple[str, ...] = ()
    fw_times: tuple[float, ...] = ()
    fw_next: str = ""
    lag: float = 2.0
    """SDK lag: how far behind upstream the vendor's components are, in years."""

    @property
    def fw_product(self) -> str:
        return f"{self.slug}_firmware"

    def fw_cpe(self, version: str) -> str:
        return f"cpe:2.3:o:{self.cpe_vendor}:{self.fw_product}:{version}{_ANY7}"

    @property
    def hw_cpe(self) -> str:
        return f"cpe:2.3:h:{self.cpe_vendor}:{self.slug}{_NA_TAIL}"


def _fw_format(style: str, parts: tuple[int, int, int], t: float) -> str:
    a, b, c = parts
    if style == "4":
        return f"{a}.{b}.{c // 10}.{c % 10 + 1}"
    if style == "build":
        year = int(t)
        day = int((t - year) * 360)
        return f"{a}.{b}.{c}_build{year % 100:02d}{day // 30 + 1:02d}{day % 30 + 1:02d}"
    if style == "dahua":
        return f"2.{800 + a * 20 + b}.0000000.{c}.r"
    return f"{a}.{b}.{c}"


def _estate_models(seed: int) -> list[EstateModel]:
    rng = random.Random(f"gen-vulns:models:{seed}")
    out: list[EstateModel] = []
    for vendor, cpe_vendor, oui, style, weight, models in _ESTATE:
        for model, dtype, profile in models:
            m = EstateModel(vendor, cpe_vendor, model, dtype, profile, oui, weight, len(out))
            m.slug = _slug(model)
            y0 = rng.uniform(2014.0, 2022.5)
            n = 14
            a, b, c = rng.randint(1, 7), rng.randint(0, 12), rng.randint(0, 20)
            versions, times = [], []
            t = y0
            for _ in range(n):
                versions.append(_fw_format(style, (a, b, c), t))
                times.append(min(t, NOW - 0.02))
                r = rng.random()
                if r < 0.06:
                    a, b, c = a + 1, 0, 0
                elif r < 0.3:
                    b, c = b + 1, 0
                else:
                    c += rng.randint(1, 12)
                t += rng.uniform(0.25, 0.6)
            # a timeline that ran past "now" is cut there: no release from the future
            keep = max(6, sum(1 for x in times if x < NOW - 0.02))
            m.fw_versions, m.fw_times = tuple(versions[:keep]), tuple(times[:keep])
            m.fw_next = versions[keep] if keep < len(versions) else versions[-1] + ".1"
            m.lag = rng.uniform(0.5, 3.5)
            out.append(m)
    return out


# ============================================================================ tail pools

_SYL = ("ac", "ne", "tri", "vox", "lum", "ara", "zen", "qua", "sol", "ter", "mo", "bi", "kor",
        "fin", "dex", "pra", "vel", "tor", "sys", "net", "ix", "on", "io", "ul", "ar", "cap",
        "ori", "sen", "tek", "lyn", "mar", "ped", "ros", "sig", "tal", "ver", "wen", "yo")
_SUFFIX = ("", "", "", "soft", "tech", "labs", "systems", "_project", "works", "hq")
_WORDS = ("web", "mail", "cms", "portal", "manager", "server", "gateway", "shop", "forum",
          "blog", "crm", "erp", "hr", "pay", "ticket", "chat", "file", "media", "cloud",
          "office", "school", "hotel", "hospital", "library", "inventory", "booking", "admin",
          "panel", "monitor", "backup", "sync", "viewer", "editor", "reader", "player",
          "scanner", "agent", "client", "suite", "builder", "form", "gallery", "wiki",
          "management_system", "store", "dashboard", "analytics", "directory", "events")
_IOT_TAIL_VENDORS = (("tp-link", ("archer_c", "tl-wr", "tl-sg", "tapo_c", "eap")),
                     ("dlink", ("dir-", "dcs-", "dns-", "dsl-", "dap-")),
                     ("netgear", ("r", "wnr", "rax", "gs", "xr")),
                     ("tenda", ("ac", "fh", "w", "tx", "g")),
                     ("totolink", ("a", "x", "n", "lr", "ca")),
                     ("zyxel", ("nas", "usg", "nbg", "vmg", "gs")),
                     ("linksys", ("ea", "wrt", "e", "re", "mr")),
                     ("asus", ("rt-ac", "rt-ax", "gt-ax", "dsl-ac", "4g-ac")),
                     ("trendnet", ("tew-", "tv-ip", "tpl-", "teg-", "tv-nvr")),
                     ("hikvision", ("ds-2cd1", "ds-2ce", "ds-7104", "ds-kv", "ids-2")),
                     ("dahuasecurity", ("ipc-hfw1", "ipc-hdw1", "dhi-", "vth", "xvr1")),
                     ("ui", ("edgerouter_", "unifi_ap_", "airmax_", "usg_", "uvc_g3_")),
                     ("mikrotik", ("rb", "ccr", "crs", "hex_s", "ltap")),
                     ("siemens", ("simatic_s7-300_", "scalance_x", "ruggedcom_rox_", "sipass_",
                                  "sentron_")),
                     ("schneider-electric", ("modicon_m3", "powerlogic_pm", "easergy_",
                                             "apc_smart-ups_", "spacelogic_")),
                     ("moxa", ("nport_6", "mgate_", "tap-", "awk-", "uc-")),
                     ("advantech", ("eki-", "wise-", "adam-", "uno-", "icr-")),
                     ("wavlink", ("wn5", "wl-wn", "wn57", "ac3", "wn53")),
                     ("edimax", ("br-", "ic-", "ew-", "gs-", "cv-")),
                     ("draytek", ("vigor", "vigor2", "vigorap", "vigorlte", "vigorswitch")),
                     ("qnap", ("ts-", "tvs-", "tbs-", "ts-x", "qhora-")),
                     ("synology", ("ds", "rs", "bc", "rt", "mr")),
                     ("h3c", ("magic_r", "gr-", "b5_", "er", "magic_b")),
                     ("ruijie", ("rg-ew", "rg-nbs", "rg-eg", "rg-ap", "rg-rap")))
_PLATFORMS = ((f"cpe:2.3:o:microsoft:windows:-{_ANY7}", "Windows"),
              (f"cpe:2.3:o:linux:linux_kernel:-{_ANY7}", "Linux"),
              (f"cpe:2.3:o:apple:macos:*{_ANY7}", "macOS"),
              (f"cpe:2.3:o:google:android:*{_ANY7}", "Android"),
              (f"cpe:2.3:o:apple:iphone_os:*{_ANY7}", "iOS"))
_DISTROS = (f"cpe:2.3:o:debian:debian_linux:9.0{_ANY7}",
            f"cpe:2.3:o:debian:debian_linux:10.0{_ANY7}",
            f"cpe:2.3:o:debian:debian_linux:11.0{_ANY7}",
            f"cpe:2.3:o:debian:debian_linux:12.0{_ANY7}",
            f"cpe:2.3:o:fedoraproject:fedora:38{_ANY7}",
            f"cpe:2.3:o:fedoraproject:fedora:39{_ANY7}",
            f"cpe:2.3:o:fedoraproject:fedora:40{_ANY7}",
            f"cpe:2.3:o:netapp:hci_compute_node_firmware:-{_ANY7}")
_TAIL_YEARS = ((1999, 900), (2000, 1000), (2001, 1600), (2002, 2100), (2003, 1500),
               (2004, 2400), (2005, 4900), (2006, 6600), (2007, 6500), (2008, 5600),
               (2009, 5700), (2010, 4600), (2011, 4100), (2012, 5300), (2013, 5200),
               (2014, 7900), (2015, 6500), (2016, 6400), (2017, 14600), (2018, 16500),
               (2019, 17300), (2020, 18300), (2021, 20100), (2022, 25000), (2023, 29000),
               (2024, 40000), (2025, 45000), (2026, 36000))


# ============================================================================ plan


@dataclass
class Plan:
    """Everything a chunk needs, built once from the seed (shared with worker processes)."""

    seed: int
    cves: int
    popular: list[Product]
    secondary: list[Product]
    models: list[EstateModel]
    by_vendor: dict[str, list[EstateModel]]
    targets: list[tuple[str, Any]]
    cum: list[float]
    tail_apps: list[tuple[str, str, bool, int]]
    """(vendor, product, is a WordPress plugin, major version)."""
    tail_cum: list[float]
    tail_iot: list[tuple[str, str]]
    kev_tail: float
    kev_named: float
    """Factor on the named products' KEV rates."""
    scale: float
    year_cum: list[float] = field(default_factory=list)


def _tail_pools(rng: random.Random) -> tuple[list[tuple[str, str, bool, int]], list[float],
                                             list[tuple[str, str]]]:
    vendors: list[str] = []
    seen: set[str] = set()
    while len(vendors) < 1500:
        name = "".join(rng.choice(_SYL) for _ in range(rng.choice((2, 2, 3)))) \
            + rng.choice(_SUFFIX)
        if name not in seen:
            seen.add(name)
            vendors.append(name)
    apps: list[tuple[str, str, bool, int]] = []
    pairs: set[tuple[str, str]] = set()
    while len(apps) < 4000:
        vendor = vendors[int(len(vendors) * rng.random() ** 1.6)]
        words = rng.sample(_WORDS, rng.choice((1, 2, 2, 3)))
        product = "_".join(words)
        wp = rng.random() < 0.3
        if wp:
            product = product.replace("_", "-")
        if (vendor, product) in pairs:
            continue
        pairs.add((vendor, product))
        apps.append((vendor, product, wp, rng.randint(0, 12)))
    # Zipf-like: a few tail products get dozens of CVEs, most one or two
    weights = [1.0 / (k + 1) ** 0.9 for k in range(len(apps))]
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    iot: list[tuple[str, str]] = []
    taken: set[tuple[str, str]] = set()
    while len(iot) < 1500:
        vendor, prefixes = rng.choice(_IOT_TAIL_VENDORS)
        suffix = rng.choice(("", "", "n", "v2", "x", "_pro"))
        model = f"{rng.choice(prefixes)}{rng.randint(10, 9999)}{suffix}"
        if (vendor, model) not in taken:
            taken.add((vendor, model))
            iot.append((vendor, model))
    return apps, cum, iot


def make_plan(cves: int, seed: int = 7) -> Plan:
    rng = random.Random(f"gen-vulns:plan:{seed}")
    popular, secondary = _popular(), _secondary()
    models = _estate_models(seed)
    by_vendor: dict[str, list[EstateModel]] = {}
    for m in models:
        by_vendor.setdefault(m.cpe_vendor, []).append(m)
    named = sum(p.cves for p in popular) + sum(p.cves for p in secondary) \
        + sum(2 * m.weight for m in models)
    # Known products keep their real-world CVE counts down to 30,000 records (so a
    # 30k run matches like a 300k one), and never take more than half the feed.
    scale = min(1.0, 0.5 * cves / named)
    targets: list[tuple[str, Any]] = []
    weights: list[float] = []
    for p in popular:
        targets.append(("pop", p))
        weights.append(p.cves * scale)
    for p in secondary:
        targets.append(("sec", p))
        weights.append(p.cves * scale)
    for m in models:
        targets.append(("est", m))
        weights.append(2 * m.weight * scale)
    rest = max(0.0, cves - sum(weights))
    for kind, share in (("tapp", 0.70), ("tiot", 0.20), ("trun", 0.10)):
        targets.append((kind, None))
        weights.append(rest * share)
    cum, total = [], 0.0
    for w in weights:
        total += w
        cum.append(total)
    apps, tail_cum, iot = _tail_pools(rng)
    kev_named = sum(w * (t[1].kev if t[0] in ("pop", "sec") else 0.05 if t[0] == "est"
                         else 0.0) for t, w in zip(targets, weights, strict=True))
    # named products get at most 60 % of the catalogue (small runs would overfill it)
    kev_named_factor = min(1.0, 0.6 * KEV_SHARE * cves / kev_named) if kev_named else 1.0
    kev_named *= kev_named_factor
    kev_tail = max(0.0, (KEV_SHARE * cves - kev_named) / rest) if rest else 0.0
    year_cum, acc = [], 0.0
    for _, w in _TAIL_YEARS:
        acc += w
        year_cum.append(acc)
    return Plan(seed, cves, popular, secondary, models, by_vendor, targets, cum, apps,
                tail_cum, iot, kev_tail, kev_named_factor, scale, year_cum)


# ============================================================================ CVSS


_V3_CACHE: dict[str, dict[str, Any]] = {}
_V4_CACHE: dict[str, dict[str, Any]] = {}
_V2_CACHE: dict[str, tuple[dict[str, Any], str, float, float]] = {}
_V3_NAMES = {"AV": ("attackVector", {"N": "NETWORK", "A": "ADJACENT_NETWORK", "L": "LOCAL",
                                     "P": "PHYSICAL"}),
             "AC": ("attackComplexity", {"L": "LOW", "H": "HIGH"}),
             "PR": ("privilegesRequired", {"N": "NONE", "L": "LOW", "H": "HIGH"}),
             "UI": ("userInteraction", {"N": "NONE", "R": "REQUIRED"}),
             "S": ("scope", {"U": "UNCHANGED", "C": "CHANGED"}),
             "C": ("confidentialityImpact", {"N": "NONE", "L": "LOW", "H": "HIGH"}),
             "I": ("integrityImpact", {"N": "NONE", "L": "LOW", "H": "HIGH"}),
             "A": ("availabilityImpact", {"N": "NONE", "L": "LOW", "H": "HIGH"})}


def _pick(rng: random.Random, options: str, weights: tuple[float, ...]) -> str:
    r = rng.random() * sum(weights)
    for option, w in zip(options, weights, strict=True):
        r -= w
        if r < 0:
            return option
    return options[-1]


def _severity(score: float) -> str:
    if score == 0:
        return "NONE"
    if score < 4:
        return "LOW"
    if score < 7:
        return "MEDIUM"
    if score < 9:
        return "HIGH"
    return "CRITICAL"


def _roundup(x: float) -> float:
    return math.ceil(round(x * 10, 5)) / 10


def _v31(rng: random.Random) -> dict[str, Any]:
    cia = [_pick(rng, "HLN", (0.55, 0.25, 0.2)) for _ in range(3)]
    if cia == ["N", "N", "N"]:
        cia[2] = "H"
    vector = (f"CVSS:3.1/AV:{_pick(rng, 'NALP', (0.72, 0.07, 0.18, 0.03))}"
              f"/AC:{_pick(rng, 'LH', (0.85, 0.15))}/PR:{_pick(rng, 'NLH', (0.55, 0.33, 0.12))}"
              f"/UI:{_pick(rng, 'NR', (0.75, 0.25))}/S:{_pick(rng, 'UC', (0.85, 0.15))}"
              f"/C:{cia[0]}/I:{cia[1]}/A:{cia[2]}")
    data = _V3_CACHE.get(vector)
    if data is None:
        c = CVSS3(vector)
        score = float(c.base_score)
        data = {"version": "3.1", "vectorString": vector, "baseScore": score,
                "baseSeverity": _severity(score)}
        for part in vector.split("/")[1:]:
            key, value = part.split(":")
            name, values = _V3_NAMES[key]
            data[name] = values[value]
        data = {"cvssData": data, "exploitabilityScore": _roundup(float(c.esc)),
                "impactScore": _roundup(max(0.0, float(c.isc)))}
        _V3_CACHE[vector] = data
    return data


def _v40(rng: random.Random) -> dict[str, Any]:
    vector = (f"CVSS:4.0/AV:{_pick(rng, 'NALP', (0.72, 0.07, 0.18, 0.03))}"
              f"/AC:{_pick(rng, 'LH', (0.85, 0.15))}/AT:{_pick(rng, 'NP', (0.85, 0.15))}"
              f"/PR:{_pick(rng, 'NLH', (0.55, 0.33, 0.12))}/UI:{_pick(rng, 'NPA', (0.7, 0.2, 0.1))}"
              f"/VC:{_pick(rng, 'HLN', (0.55, 0.25, 0.2))}/VI:{_pick(rng, 'HLN', (0.5, 0.3, 0.2))}"
              f"/VA:{_pick(rng, 'HLN', (0.5, 0.2, 0.3))}"
              f"/SC:{_pick(rng, 'NLH', (0.8, 0.15, 0.05))}"
              f"/SI:{_pick(rng, 'NLH', (0.8, 0.15, 0.05))}"
              f"/SA:{_pick(rng, 'NLH', (0.8, 0.15, 0.05))}")
    data = _V4_CACHE.get(vector)
    if data is None:
        c = CVSS4(vector)
        score = float(c.base_score)
        data = {"version": "4.0", "vectorString": vector, "baseScore": score,
                "baseSeverity": _severity(score)}
        _V4_CACHE[vector] = data
    return data


_V2_NAMES = (("accessVector", {"N": "NETWORK", "A": "ADJACENT_NETWORK", "L": "LOCAL"}),
             ("accessComplexity", {"L": "LOW", "M": "MEDIUM", "H": "HIGH"}),
             ("authentication", {"N": "NONE", "S": "SINGLE", "M": "MULTIPLE"}),
             ("confidentialityImpact", {"N": "NONE", "P": "PARTIAL", "C": "COMPLETE"}),
             ("integrityImpact", {"N": "NONE", "P": "PARTIAL", "C": "COMPLETE"}),
             ("availabilityImpact", {"N": "NONE", "P": "PARTIAL", "C": "COMPLETE"}))


def _v2(rng: random.Random) -> tuple[dict[str, Any], str, float, float]:
    cia = [_pick(rng, "PCN", (0.6, 0.2, 0.2)) for _ in range(3)]
    if cia == ["N", "N", "N"]:
        cia[0] = "P"
    vector = (f"AV:{_pick(rng, 'NLA', (0.8, 0.17, 0.03))}/AC:{_pick(rng, 'LMH', (0.6, 0.35, 0.05))}"
              f"/Au:{_pick(rng, 'NSM', (0.8, 0.19, 0.01))}/C:{cia[0]}/I:{cia[1]}/A:{cia[2]}")
    found = _V2_CACHE.get(vector)
    if found is None:
        c = CVSS2(vector)
        score = float(c.base_score)
        data: dict[str, Any] = {"version": "2.0", "vectorString": vector, "baseScore": score}
        for part, (name, values) in zip(vector.split("/"), _V2_NAMES, strict=True):
            data[name] = values[part.split(":")[1]]
        severity = "LOW" if score < 4 else "MEDIUM" if score < 7 else "HIGH"
        expl = round(20 * {"N": 1.0, "A": 0.646, "L": 0.395}[vector[3]]
                     * {"L": 0.71, "M": 0.61, "H": 0.35}[vector[8]]
                     * {"N": 0.704, "S": 0.56, "M": 0.45}[vector[13]], 1)
        impact = round(10.41 * (1 - math.prod(1 - {"N": 0.0, "P": 0.275, "C": 0.66}[x]
                                              for x in cia)), 1)
        found = _V2_CACHE[vector] = (data, severity, expl, impact)
    return found


# ============================================================================ records

_VULN_TYPES = (("Buffer overflow", "CWE-120"), ("Heap-based buffer overflow", "CWE-122"),
               ("Out-of-bounds write", "CWE-787"), ("Out-of-bounds read", "CWE-125"),
               ("Use-after-free", "CWE-416"), ("NULL pointer dereference", "CWE-476"),
               ("Integer overflow", "CWE-190"), ("OS command injection", "CWE-78"),
               ("Cross-site scripting", "CWE-79"), ("SQL injection", "CWE-89"),
               ("Path traversal", "CWE-22"), ("Improper authentication", "CWE-287"),
               ("Use of hard-coded credentials", "CWE-798"),
               ("Missing authentication for a critical function", "CWE-306"),
               ("Uncontrolled resource consumption", "CWE-400"),
               ("Improper input validation", "CWE-20"), ("Information exposure", "CWE-200"),
               ("Cross-site request forgery", "CWE-352"), ("Race condition", "CWE-362"),
               ("Improper certificate validation", "CWE-295"), ("Memory leak", "CWE-401"),
               ("Unrestricted file upload", "CWE-434"), ("Server-side request forgery", "CWE-918"),
               ("Incorrect authorization", "CWE-863"), ("Missing authorization", "CWE-862"),
               ("Cleartext transmission of sensitive information", "CWE-319"),
               ("Use of a broken cryptographic algorithm", "CWE-327"), ("Double free", "CWE-415"),
               ("Type confusion", "CWE-843"), ("Infinite loop", "CWE-835"))
_AREAS = ("the HTTP request parser", "the web management interface", "the CGI handler",
          "the configuration import", "the firmware update service", "the RTSP server",
          "the ONVIF service", "the TLS handshake", "the certificate parser", "the DNS resolver",
          "the DHCP client", "the UPnP service", "the MQTT broker", "the login page",
          "the diagnostic tool", "the SNMP agent", "the XML parser", "the backup function")
_ATTACKERS = ("remote attackers", "remote unauthenticated attackers",
              "authenticated users", "local users", "attackers on the adjacent network")
_IMPACTS = ("execute arbitrary code", "cause a denial of service", "obtain sensitive information",
            "escalate privileges", "bypass authentication", "inject arbitrary commands",
            "read arbitrary files", "modify the configuration")
_VECTORS = ("a crafted HTTP request", "a crafted packet", "a long parameter value",
            "a malicious firmware image", "a crafted certificate", "a specially crafted file",
            "shell metacharacters in a parameter", "a sequence of API calls")
_KERNEL_SUBSYS = ("net", "ext4", "btrfs", "usb", "drm/amdgpu", "wifi: mac80211", "bpf",
                  "netfilter: nf_tables", "mm", "io_uring", "scsi: lpfc", "nfsd", "Bluetooth",
                  "tty", "f2fs", "smb: client", "ALSA: hda", "media: uvcvideo", "ipv6",
                  "net/sched", "KVM: x86", "ice", "mlx5", "i2c", "crypto", "fs/ntfs3")
_KERNEL_ISSUES = ("fix use-after-free", "fix NULL pointer dereference",
                  "fix out-of-bounds read", "fix memory leak", "fix a race", "fix deadlock",
                  "avoid integer overflow", "check the length", "fix refcount leak",
                  "validate the index")
_KERNEL_FUNCS = ("_rcv", "_release", "_open", "_ioctl", "_xmit", "_probe", "_remove",
                 "_queue_work", "_get_next", "_parse_attr")
_KERNEL_CNA = "416baaa9-dc9f-4396-8d5f-8c081fb06d67"
_CNA = {"hikvision": "hsrc@hikvision.com", "dahuasecurity": "cybersecurity@dahuatech.com",
        "axis": "product-security@axis.com", "cisco": "psirt@cisco.com",
        "siemens": "productcert@siemens.com", "schneider-electric": "cybersecurity@se.com",
        "openssl": "openssl-security@openssl.org", "haxx": "2499f714-1537-4658-8207-48ae4bb9eae9",
        "hp": "hp-security-alert@hp.com", "moxa": "psirt@moxa.com", "bosch": "psirt@bosch.com",
        "honeywell": "psirt@honeywell.com", "zephyrproject": "vulnerabilities@zephyrproject.org",
        "wolfssl": "facts@wolfssl.com", "eclipse": "emo@eclipse.org", "ui": "support@hackerone.com",
        "mikrotik": "security@mikrotik.com"}
_REQUIRED_ACTION = ("Apply mitigations per vendor instructions, follow applicable BOD 22-01 "
                    "guidance for cloud services, or discontinue use of the product if "
                    "mitigations are unavailable.")


def _match_id(key: str) -> str:
    h = hashlib.md5(key.encode(), usedforsecurity=False).hexdigest().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _cm(criteria: str, bounds: dict[str, str] | None = None, *, vulnerable: bool = True
        ) -> dict[str, Any]:
    """One cpeMatch entry; its matchCriteriaId is stable for the same criteria and bounds,
    as the NVD's are."""
    m: dict[str, Any] = {"vulnerable": vulnerable, "criteria": criteria}
    key = criteria
    if bounds:
        m.update(bounds)
        key += "|" + "|".join(f"{k}={v}" for k, v in bounds.items())
    m["matchCriteriaId"] = _match_id(key)
    return m


def _or(matches: list[dict[str, Any]]) -> dict[str, Any]:
    return {"operator": "OR", "negate": False, "cpeMatch": matches}


_DATES: list[str] = []
_TIMES: list[str] = []


def _init_tables() -> None:
    if _DATES:
        return
    d = _EPOCH
    while d <= date(2028, 12, 31):
        _DATES.append(d.isoformat())
        d += timedelta(days=1)
    r = random.Random(1)
    for _ in range(997):
        _TIMES.append(f"T{r.randrange(24):02d}:{r.randrange(60):02d}:{r.randrange(60):02d}."
                      f"{r.randrange(1000):03d}")


_LAST_INDEX = (_LAST_DAY - _EPOCH).days
_KEV_START = (date(2021, 11, 3) - _EPOCH).days


def _day(t: float) -> int:
    return min(_LAST_INDEX, max(0, int((t - 1999.0) * 365.25)))


@dataclass(slots=True)
class Spec:
    """What a record was made from, kept for the delta's modified versions."""

    kind: str
    key: Any
    """Product key or model index (resolved against the plan: specs cross processes)."""
    record: dict[str, Any]


# ---------------------------------------------------------------- product CVEs


def _ranges(p: Product, t: float, rng: random.Random
            ) -> list[tuple[int, int, str | None, str, str | None]]:
    """Affected ranges of a bug fixed at ``t``: (lo, hi, start, end_excl, last_vulnerable).

    ``lo``/``hi`` index ``p.flat``; ``start`` is None when the range starts at the first
    release ever; ``last_vulnerable`` is None when the range ends at a branch's end.
    """
    intro = t - rng.expovariate(1.0 / p.age)
    branches = p.branches
    out: list[tuple[int, int, str | None, str, str | None]] = []
    if p.multi:
        live = [i for i, b in enumerate(branches) if b.times[0] <= t]
        if not live:
            live = [0]
        affected = [i for i in live if branches[i].times[0] >= intro]
        if not affected:  # a regression inside the newest branch at the time
            i = live[-1]
            b, off = branches[i], p.offsets[i]
            lo = bisect_left(b.times, intro)
            hi = max(lo + 1, bisect_right(b.times, t))
            lo = min(lo, len(b.versions) - 1)
            end = b.versions[hi] if hi < len(b.versions) else b.next_version
            last = b.versions[hi - 1] if hi <= len(b.versions) else None
            return [(off + lo, off + min(hi, len(b.versions)), b.versions[lo], end, last)]
        open_lo: int | None = None
        for i in affected:
            b, off = branches[i], p.offsets[i]
            if open_lo is None:
                open_lo = off
            if b.eol < t:  # end of life when fixed: the whole branch stays vulnerable
                continue
            f = bisect_right(b.times, t)
            if f == 0:
                f = 1
            end = b.versions[f] if f < len(b.versions) else b.next_version
            start = None if open_lo == 0 else p.flat[open_lo]
            out.append((open_lo, off + min(f, len(b.versions)), start, end,
                        b.versions[f - 1]))
            open_lo = None
        if open_lo is not None:
            b = branches[affected[-1]]
            hi = p.offsets[affected[-1]] + len(b.versions)
            out.append((open_lo, hi, None if open_lo == 0 else p.flat[open_lo],
                        b.next_version, b.versions[-1]))
        return out
    b = branches[0]
    n = len(b.versions)
    hi = bisect_right(b.times, t)
    if hi == 0:
        hi = 1
    lo = min(bisect_left(b.times, intro), hi - 1)
    if hi >= n and b.eol < t:  # dead project: every release up to the last one
        return [(lo, n, None if lo == 0 else b.versions[lo], b.next_version, b.versions[-1])]
    end = b.versions[hi] if hi < n else b.next_version
    return [(lo, min(hi, n), None if lo == 0 else b.versions[lo], end, b.versions[hi - 1])]


def _product_node(p: Product, t: float, rng: random.Random) -> tuple[dict[str, Any], str]:
    """One OR node for a CVE of ``p`` fixed at ``t``; also the fixed version's text."""
    ranges = _ranges(p, t, rng)
    fixed = ranges[-1][3]
    total = sum(hi - lo for lo, hi, *_ in ranges)
    any_cpe = p.cpe("*")
    matches: list[dict[str, Any]] = []
    if total <= 5 and rng.random() < 0.45:
        for lo, hi, *_ in ranges:
            matches.extend(_cm(p.cpe(v)) for v in p.flat[lo:hi])
    else:
        incl = rng.random() < 0.15
        for _lo, _hi, start, end, last in ranges:
            bounds: dict[str, str] = {}
            if start is not None:
                bounds["versionStartIncluding"] = start
            if incl and last is not None:
                bounds["versionEndIncluding"] = last
            else:
                bounds["versionEndExcluding"] = end
            matches.append(_cm(any_cpe, bounds))
    if p.key == "linux_kernel" and rng.random() < 0.15:
        # release candidates of the next mainline version, as the kernel CNA lists them
        base = p.branches[-1].versions[0]
        major, minor = base.split(".")
        nxt = f"{major}.{int(minor) + rng.randint(1, 3)}"
        for rc in range(1, rng.randint(2, 4)):
            matches.append(_cm(f"cpe:2.3:o:linux:linux_kernel:{nxt}:rc{rc}:*:*:*:*:*:*"))
    return _or(matches), fixed


def _product_configs(p: Product, t: float, rng: random.Random
                     ) -> tuple[list[dict[str, Any]], str]:
    node, fixed = _product_node(p, t, rng)
    r = rng.random()
    if r < 0.06 and p.part == "a":  # running on Linux
        platform = _or([_cm(f"cpe:2.3:o:linux:linux_kernel:*{_ANY7}", vulnerable=False)])
        return [{"operator": "AND", "nodes": [node, platform]}], fixed
    configs = [{"nodes": [node]}]
    if r < 0.18:  # the distributions that shipped it, as a second configuration
        distros = rng.sample(_DISTROS, rng.randint(1, 4))
        configs.append({"nodes": [_or([_cm(d) for d in distros])]})
    return configs, fixed


# ---------------------------------------------------------------- estate IoT CVEs


def _estate_config(m: EstateModel, t: float, rng: random.Random) -> tuple[dict[str, Any], str]:
    versions, n = m.fw_versions, len(m.fw_versions)
    f = max(1, bisect_right(m.fw_times, t))
    lo = 0 if rng.random() < 0.75 else rng.randrange(0, f)
    r = rng.random()
    any_cpe = m.fw_cpe("*")
    fixed = versions[f] if f < n else m.fw_next
    if r < 0.25:
        firmware = [_cm(m.fw_cpe(v)) for v in versions[max(lo, f - 3):f]]
    else:
        bounds: dict[str, str] = {}
        if lo:
            bounds["versionStartIncluding"] = versions[lo]
        if r < 0.45:
            bounds["versionEndIncluding"] = versions[f - 1]
        else:
            bounds["versionEndExcluding"] = fixed
        firmware = [_cm(any_cpe, bounds)]
    hardware = [_cm(m.hw_cpe, vulnerable=False)]
    return {"operator": "AND", "nodes": [_or(firmware), _or(hardware)]}, fixed


def _estate_configs(plan: Plan, m: EstateModel, t: float, rng: random.Random
                    ) -> tuple[list[dict[str, Any]], str]:
    siblings = [x for x in plan.by_vendor[m.cpe_vendor] if x.index != m.index]
    extra = rng.sample(siblings, min(len(siblings), rng.choice((0, 0, 0, 1, 2))))
    configs = []
    fixed = ""
    for i, model in enumerate([m, *extra]):
        config, f = _estate_config(model, t, rng)
        configs.append(config)
        if i == 0:
            fixed = f
    return configs, fixed


# ---------------------------------------------------------------- tail CVEs


def _rand_version(rng: random.Random, major: int) -> str:
    return f"{major}.{rng.randrange(20)}.{rng.randrange(30)}"


def _tail_app_node(plan: Plan, rng: random.Random) -> tuple[dict[str, Any], str, str, str]:
    i = bisect_left(plan.tail_cum, rng.random() * plan.tail_cum[-1])
    vendor, product, wp, major = plan.tail_apps[min(i, len(plan.tail_apps) - 1)]
    target_sw = "wordpress" if wp else "*"
    crit = f"cpe:2.3:a:{vendor}:{product}:*:*:*:*:*:{target_sw}:*:*"
    r = rng.random()
    if r < 0.12:
        matches = [_cm(f"cpe:2.3:a:{vendor}:{product}:{_rand_version(rng, major)}:*:*:*:*:"
                       f"{target_sw}:*:*") for _ in range(rng.randint(1, 4))]
        fixed = _rand_version(rng, major + 1)
    else:
        matches = []
        fixed = ""
        for _ in range(1 if r < 0.8 else rng.randint(2, 3)):
            a = rng.randint(max(0, major - 3), major)
            fixed = f"{a}.{rng.randrange(20)}.{rng.randrange(1, 30)}"
            bounds = {"versionEndExcluding": fixed}
            if rng.random() < 0.3:
                bounds = {"versionStartIncluding": f"{a}.0.0", **bounds}
            elif rng.random() < 0.2:
                bounds = {"versionEndIncluding": fixed}
            matches.append(_cm(crit, bounds))
    return _or(matches), fixed, vendor, product


def _tail_iot_configs(plan: Plan, rng: random.Random) -> tuple[list[dict[str, Any]], str, str,
                                                               str]:
    first = rng.randrange(len(plan.tail_iot))
    vendor = plan.tail_iot[first][0]
    models = [plan.tail_iot[first]]
    if rng.random() < 0.3:
        same = [x for x in plan.tail_iot[max(0, first - 60):first + 60]
                if x[0] == vendor and x != models[0]]
        models += rng.sample(same, min(len(same), rng.randint(1, 3)))
    configs = []
    fixed = ""
    for v, model in models:
        fw = f"cpe:2.3:o:{v}:{model}_firmware"
        if rng.random() < 0.4:
            firmware = [_cm(f"{fw}:{rng.randint(1, 4)}.{rng.randrange(10)}.{rng.randrange(60)}"
                            f"{_ANY7}") for _ in range(rng.randint(1, 3))]
            fixed = ""
        else:
            fixed = f"{rng.randint(1, 4)}.{rng.randrange(10)}.{rng.randrange(60)}"
            firmware = [_cm(f"{fw}:*{_ANY7}", {"versionEndExcluding": fixed})]
        hardware = [_cm(f"cpe:2.3:h:{v}:{model}{_NA_TAIL}", vulnerable=False)]
        configs.append({"operator": "AND", "nodes": [_or(firmware), _or(hardware)]})
    return configs, fixed, vendor, models[0][1]


# ---------------------------------------------------------------- assembling


def _tail_time(plan: Plan, rng: random.Random) -> float:
    i = bisect_left(plan.year_cum, rng.random() * plan.year_cum[-1])
    year = _TAIL_YEARS[min(i, len(_TAIL_YEARS) - 1)][0]
    return min(NOW - 0.01, year + rng.random())


def _product_time(p: Product, rng: random.Random) -> float:
    if p.year_weights:
        total = sum(w for _, w in p.year_weights)
        r = rng.random() * total
        for year, w in p.year_weights:
            r -= w
            if r < 0:
                return min(NOW - 0.01, year + rng.random())
    y0 = p.y0 + 0.2
    return y0 + (NOW - 0.01 - y0) * math.pow(rng.random(), p.recent)


def _description(rng: random.Random, kind: str, vendor: str, product: str, fixed: str,
                 vtype: str) -> str:
    if kind == "kernel":
        sub = rng.choice(_KERNEL_SUBSYS)
        func = sub.split(":")[0].split("/")[-1].strip().lower().replace(" ", "_") \
            + rng.choice(_KERNEL_FUNCS)
        return (f"In the Linux kernel, the following vulnerability has been resolved:\n\n"
                f"{sub}: {rng.choice(_KERNEL_ISSUES)} in {func}()\n\n"
                f"{func}() can be reached with a stale pointer after the device is removed; "
                f"take a reference before dropping the lock.")
    before = f" before {fixed}" if fixed else ""
    return (f"{vtype} in {rng.choice(_AREAS)} of {vendor} {product}{before} allows "
            f"{rng.choice(_ATTACKERS)} to {rng.choice(_IMPACTS)} via {rng.choice(_VECTORS)}.")


def _references(rng: random.Random, cve_id: str, vendor: str, product: str, kernel: bool,
                year: str) -> list[dict[str, Any]]:
    refs: list[dict[str, Any]] = []
    if kernel:
        for _ in range(rng.randint(2, 6)):
            refs.append({"url": f"https://git.kernel.org/stable/c/{rng.getrandbits(160):040x}",
                         "source": _KERNEL_CNA, "tags": ["Patch"]})
        return refs
    refs.append({"url": f"https://www.{vendor.replace('_', '-')}.example/security/{cve_id}",
                 "source": "cve@mitre.org", "tags": ["Vendor Advisory"]})
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        r = rng.random()
        if r < 0.4:
            refs.append({"url": f"https://github.com/{vendor}/{product}/commit/"
                                f"{rng.getrandbits(160):040x}",
                         "source": "cve@mitre.org", "tags": ["Patch"]})
        elif r < 0.7:
            refs.append({"url": f"https://lists.debian.org/debian-lts-announce/{year}/"
                                f"{rng.randint(1, 12):02d}/msg{rng.randrange(100):05d}.html",
                         "source": "cve@mitre.org",
                         "tags": ["Mailing List", "Third Party Advisory"]})
        else:
            refs.append({"url": f"https://security.example-research.org/advisories/"
                                f"{cve_id.lower()}", "source": "cve@mitre.org",
                         "tags": ["Exploit", "Third Party Advisory"]})
    return refs


def _metrics(rng: random.Random, year: int, cna: str) -> dict[str, Any]:
    r = rng.random()
    if r < 0.02:
        return {}
    metrics: dict[str, Any] = {}
    if year < 2016:
        data, severity, expl, impact = _v2(rng)
        metrics["cvssMetricV2"] = [{
            "source": "nvd@nist.gov", "type": "Primary", "cvssData": data,
            "baseSeverity": severity, "exploitabilityScore": expl, "impactScore": impact,
            "acInsufInfo": False, "obtainAllPrivilege": False, "obtainUserPrivilege": False,
            "obtainOtherPrivilege": False, "userInteractionRequired": False}]
        if rng.random() < 0.3:
            metrics["cvssMetricV31"] = [{"source": "nvd@nist.gov", "type": "Primary",
                                         **_v31(rng)}]
        return metrics
    if year >= 2023 and r < 0.14:
        metrics["cvssMetricV40"] = [{"source": cna, "type": "Secondary", "cvssData": _v40(rng)}]
        if r < 0.07:
            return metrics  # only the CNA's CVSS 4.0, not analysed by NVD yet
    metrics["cvssMetricV31"] = [{"source": "nvd@nist.gov", "type": "Primary", **_v31(rng)}]
    if rng.random() < 0.35 and cna != "cve@mitre.org":
        metrics["cvssMetricV31"].append({"source": cna, "type": "Secondary", **_v31(rng)})
    return metrics


def _score_of(metrics: dict[str, Any]) -> float:
    for key in ("cvssMetricV31", "cvssMetricV40", "cvssMetricV2"):
        if key in metrics:
            score: float = metrics[key][0]["cvssData"]["baseScore"]
            return score
    return 0.0


@dataclass(slots=True)
class ChunkOut:
    index: int
    nvd: bytes
    epss: str
    kev: list[dict[str, Any]]
    specs: list[Spec]
    """A sample of this chunk's records, for the delta."""
    max_number: dict[int, int]
    count: int


def _new_record(plan: Plan, rng: random.Random, kind: str, ref: Any, cve_id: str | None,
                counters: dict[int, int], chunk: int, chunks: int
                ) -> tuple[dict[str, Any], dict[str, Any] | None, float]:
    """One ``{"cve": ...}`` item; also its KEV entry (or None) and its KEV weight."""
    cna = "cve@mitre.org"
    if kind in ("pop", "sec"):
        p: Product = ref
        t = _product_time(p, rng)
        configs, fixed = _product_configs(p, t, rng)
        vendor, product = p.display
        cna = _KERNEL_CNA if p.key == "linux_kernel" else _CNA.get(p.vendor, cna)
        kev_p = p.kev * plan.kev_named
        desc_kind = "kernel" if p.key == "linux_kernel" else "app"
        cpe_vendor, cpe_product = p.vendor, p.product
    elif kind == "est":
        m: EstateModel = ref
        t = m.fw_times[0] + (NOW - 0.01 - m.fw_times[0]) * rng.random()
        configs, fixed = _estate_configs(plan, m, t, rng)
        vendor, product = m.vendor, f"{m.model} firmware"
        cna = _CNA.get(m.cpe_vendor, cna)
        kev_p = 0.05 * plan.kev_named
        desc_kind = "iot"
        cpe_vendor, cpe_product = m.cpe_vendor, m.slug
    elif kind == "tiot":
        t = _tail_time(plan, rng)
        configs, fixed, cpe_vendor, cpe_product = _tail_iot_configs(plan, rng)
        vendor, product = cpe_vendor.title(), cpe_product.upper() + " firmware"
        cna = _CNA.get(cpe_vendor, cna)
        kev_p = plan.kev_tail * 3
        desc_kind = "iot"
    else:
        t = _tail_time(plan, rng)
        node, fixed, cpe_vendor, cpe_product = _tail_app_node(plan, rng)
        vendor, product = cpe_vendor.replace("_", " ").title(), \
            cpe_product.replace("_", " ").replace("-", " ").title()
        if kind == "trun":
            platform_cpe, _ = rng.choice(_PLATFORMS)
            configs = [{"operator": "AND", "nodes": [
                node, _or([_cm(platform_cpe, vulnerable=False)])]}]
        else:
            configs = [{"nodes": [node]}]
        kev_p = plan.kev_tail * 0.5
        desc_kind = "app"
    published_day = _day(t)
    published = _DATES[published_day]
    year = int(published[:4])
    if cve_id is None:
        k = counters.get(year, 0)
        counters[year] = k + 1
        cve_id = f"CVE-{year}-{10000 + k * chunks + chunk}"
    modified_day = min(_LAST_INDEX, published_day + int(rng.expovariate(1 / 300.0)))
    vtype, cwe = rng.choice(_VULN_TYPES)
    rejected = rng.random() < 0.01
    cve: dict[str, Any] = {
        "id": cve_id, "sourceIdentifier": cna,
        "published": published + rng.choice(_TIMES),
        "lastModified": _DATES[modified_day] + rng.choice(_TIMES),
        "vulnStatus": "Rejected" if rejected else "Analyzed",
        "cveTags": [],
    }
    if rejected:
        cve["descriptions"] = [{"lang": "en", "value": "Rejected reason: This CVE ID has been "
                                "rejected or withdrawn by its CVE Numbering Authority."}]
        cve["metrics"] = {}
        cve["references"] = []
        return {"cve": cve}, None, 0.0
    desc = _description(rng, "kernel" if desc_kind == "kernel" else "app", vendor, product,
                        fixed, vtype)
    cve["descriptions"] = [{"lang": "en", "value": desc}]
    if rng.random() < 0.1:
        cve["descriptions"].append({"lang": "es", "value": f"{vtype} en {vendor} {product}."})
    metrics = _metrics(rng, year, cna)
    cve["metrics"] = metrics
    cve["weaknesses"] = [{"source": "nvd@nist.gov", "type": "Primary",
                          "description": [{"lang": "en", "value": cwe if rng.random() < 0.9
                                           else "NVD-CWE-noinfo"}]}]
    cve["configurations"] = configs
    cve["references"] = _references(rng, cve_id, cpe_vendor, cpe_product,
                                    desc_kind == "kernel", published[:4])
    score = _score_of(metrics)
    kev = None
    weight = kev_p * (1.4 if score >= 7 else 0.3)
    if rng.random() < weight:
        # the catalogue started in November 2021 with years of known exploitation
        added = min(_LAST_INDEX, max(published_day, _KEV_START)
                    + int(rng.expovariate(1 / 200.0)))
        kev = {"cveID": cve_id, "vendorProject": vendor, "product": product,
               "vulnerabilityName": f"{vendor} {product} {vtype} Vulnerability",
               "dateAdded": _DATES[added], "shortDescription": desc.split("\n")[0][:400],
               "requiredAction": _REQUIRED_ACTION, "dueDate": _DATES[added + 21],
               "knownRansomwareCampaignUse": "Known" if rng.random() < 0.12 else "Unknown",
               "notes": f"https://nvd.nist.gov/vuln/detail/{cve_id}", "cwes": [cwe]}
    return {"cve": cve}, kev, weight


_EPSS_LAMBDA = 0.485
_EPSS_FLOOR = 0.0002


def _epss_row(rng: random.Random, cve_id: str, in_kev: bool) -> str:
    if in_kev:
        score = rng.uniform(0.08, 0.975)
    else:
        score = min(0.975, _EPSS_FLOOR * math.exp(rng.expovariate(_EPSS_LAMBDA)))
    percentile = 1 - math.exp(-_EPSS_LAMBDA * math.log(max(score, _EPSS_FLOOR) / _EPSS_FLOOR))
    return f"{cve_id},{score:.5f},{max(percentile, 0.00001):.5f}\n"


def _gen_chunk(plan: Plan, c: int, chunks: int, count: int, sample: int) -> ChunkOut:
    _init_tables()
    rng = random.Random(f"gen-vulns:chunk:{plan.seed}:{c}")
    pick = random.Random(f"gen-vulns:delta-pick:{plan.seed}:{c}")
    counters: dict[int, int] = {}
    encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    parts: list[str] = []
    epss: list[str] = []
    kev: list[dict[str, Any]] = []
    known: list[Spec] = []
    other: list[Spec] = []
    seen_known = seen_other = 0
    targets, cum, total = plan.targets, plan.cum, plan.cum[-1]
    for _ in range(count):
        kind, ref = targets[min(bisect_left(cum, rng.random() * total), len(targets) - 1)]
        item, entry, _ = _new_record(plan, rng, kind, ref, None, counters, c, chunks)
        cve = item["cve"]
        parts.append(encode(item))
        if entry is not None:
            kev.append(entry)
        epss.append(_epss_row(rng, cve["id"], entry is not None))
        if cve["vulnStatus"] == "Rejected":
            continue
        # reservoir samples: records of known products, and any records
        key = ref.key if kind in ("pop", "sec") else ref.index if kind == "est" else None
        if kind in ("pop", "est"):
            seen_known += 1
            if len(known) < sample:
                known.append(Spec(kind, key, item))
            elif (j := pick.randrange(seen_known)) < sample:
                known[j] = Spec(kind, key, item)
        else:
            seen_other += 1
            if len(other) < sample:
                other.append(Spec(kind, key, item))
            elif (j := pick.randrange(seen_other)) < sample:
                other[j] = Spec(kind, key, item)
    data = ",\n".join(parts).encode()
    top = {y: 10000 + (k - 1) * chunks + c for y, k in counters.items()}
    return ChunkOut(c, data, "".join(epss), kev, known + other, top, count)


# ------------------------------------------------------------------- worker plumbing

_WORKER_PLAN: Plan | None = None


def _worker(args: tuple[int, int, int, int]) -> ChunkOut:
    assert _WORKER_PLAN is not None
    c, chunks, count, sample = args
    out = _gen_chunk(_WORKER_PLAN, c, chunks, count, sample)
    # compress in the worker: the parent only concatenates (gzip members)
    out.nvd = gzip.compress(out.nvd, compresslevel=1, mtime=0)
    return out


def _chunks(plan: Plan, jobs: int) -> Iterator[ChunkOut]:
    global _WORKER_PLAN
    n = plan.cves
    chunks = max(1, math.ceil(n / CHUNK))
    sample = max(2, math.ceil(DELTA_MODIFIED / chunks))
    work = [(c, chunks, min(CHUNK, n - c * CHUNK), sample) for c in range(chunks)]
    _WORKER_PLAN = plan
    if jobs <= 1 or chunks == 1:
        for w in work:
            yield _worker(w)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(jobs) as pool:
        yield from pool.imap(_worker, work, chunksize=1)


# ============================================================================ NVD, KEV, EPSS


def _feed_head(total: int) -> bytes:
    head = {"resultsPerPage": total, "startIndex": 0, "totalResults": total,
            "format": "NVD_CVE", "version": "2.0", "timestamp": FEED_TIMESTAMP}
    return json.dumps(head)[:-1].encode() + b', "vulnerabilities": [\n'


def write_feeds(out: Path, plan: Plan, jobs: int = 1) -> dict[str, Any]:
    """nvd.json.gz, epss.csv.gz, kev.json and nvd-delta.json; returns counts."""
    _init_tables()
    n = plan.cves
    kev: list[dict[str, Any]] = []
    specs: list[Spec] = []
    tops: dict[int, int] = {}
    # mtime 0 and no file name in the gzip headers: the same seed gives the same bytes
    with (out / "nvd.json.gz").open("wb") as nvd, \
            (out / "epss.csv.gz").open("wb") as epss_raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=epss_raw, mtime=0) as epss_gz, \
            io.TextIOWrapper(epss_gz, encoding="ascii", newline="") as epss:
        epss.write(EPSS_HEADER + "\ncve,epss,percentile\n")
        nvd.write(gzip.compress(_feed_head(n), compresslevel=1, mtime=0))
        first = True
        for chunk in _chunks(plan, jobs):
            if chunk.count == 0:
                continue
            if not first:
                nvd.write(gzip.compress(b",\n", compresslevel=1, mtime=0))
            first = False
            nvd.write(chunk.nvd)
            epss.write(chunk.epss)
            kev.extend(chunk.kev)
            specs.extend(chunk.specs)
            for year, top in chunk.max_number.items():
                tops[year] = max(tops.get(year, 0), top)
        nvd.write(gzip.compress(b"\n]}\n", compresslevel=1, mtime=0))
    kev.sort(key=lambda e: (e["dateAdded"], e["cveID"]))
    catalogue = {"title": "CISA Catalog of Known Exploited Vulnerabilities",
                 "catalogVersion": "2026.11.19", "dateReleased": "2026-11-19T17:00:00.0000Z",
                 "count": len(kev), "vulnerabilities": kev}
    (out / "kev.json").write_text(json.dumps(catalogue, indent=2) + "\n", encoding="utf-8")
    delta = _write_delta(out / "nvd-delta.json", plan, specs, tops)
    return {"cves": n, "kev": len(kev), "epss": n, **delta}


def _write_delta(path: Path, plan: Plan, specs: list[Spec], tops: dict[int, int]
                 ) -> dict[str, int]:
    rng = random.Random(f"gen-vulns:delta:{plan.seed}")
    scale = min(1.0, plan.cves / 30000)
    n_mod = min(len(specs), round(DELTA_MODIFIED * scale) or 1)
    n_new = max(1, round(DELTA_NEW * scale))
    known = [s for s in specs if s.kind in ("pop", "est")]
    other = [s for s in specs if s.kind not in ("pop", "est")]
    half = min(len(known), n_mod // 2)
    chosen = rng.sample(known, half) + rng.sample(other, min(len(other), n_mod - half))
    items: list[dict[str, Any]] = []
    encode = json.JSONEncoder(separators=(",", ":")).encode
    for spec in chosen:
        items.append(_modified(plan, rng, spec))
    counters: dict[int, int] = {}
    new_targets = [t for t in plan.targets if t[0] in ("pop", "est")]
    for k in range(n_new):
        if rng.random() < 0.5 and new_targets:
            kind, ref = rng.choice(new_targets)
        else:
            kind, ref = rng.choice((("tapp", None), ("tapp", None), ("tiot", None),
                                    ("trun", None)))
        year = 2026
        number = tops.get(year, 10000) + 1 + k
        item, _, _ = _new_record(plan, rng, kind, ref, f"CVE-{year}-{number}", counters, 0, 1)
        cve = item["cve"]
        cve["published"] = cve["lastModified"] = f"2026-11-{20 + k % 3:02d}" + rng.choice(_TIMES)
        if cve["vulnStatus"] == "Rejected":
            cve["vulnStatus"] = "Received"
        items.append(item)
    rng.shuffle(items)
    total = len(items)
    with path.open("w", encoding="utf-8") as fh:
        head = {"resultsPerPage": total, "startIndex": 0, "totalResults": total,
                "format": "NVD_CVE", "version": "2.0", "timestamp": "2026-11-22T03:00:00.000"}
        fh.write(json.dumps(head)[:-1] + ', "vulnerabilities": [\n')
        fh.write(",\n".join(encode(i) for i in items))
        fh.write("\n]}\n")
    return {"delta_modified": len(chosen), "delta_new": n_new}


def _modified(plan: Plan, rng: random.Random, spec: Spec) -> dict[str, Any]:
    """The record again as NVD re-analysed it: new ranges, maybe a new score, newer date."""
    old = spec.record["cve"]
    cve = dict(old)
    cve["lastModified"] = f"2026-11-{20 + rng.randrange(3):02d}" + rng.choice(_TIMES)
    kind = spec.kind
    if kind in ("pop", "sec"):
        ref = next(p for p in (*plan.popular, *plan.secondary) if p.key == spec.key)
        t = min(NOW - 0.01, _product_time(ref, rng))
        cve["configurations"], _ = _product_configs(ref, t, rng)
    elif kind == "est":
        ref = plan.models[spec.key]
        t = ref.fw_times[0] + (NOW - 0.01 - ref.fw_times[0]) * rng.random()
        cve["configurations"], _ = _estate_configs(plan, ref, t, rng)
    elif kind == "tiot":
        cve["configurations"] = _tail_iot_configs(plan, rng)[0]
    else:
        node = _tail_app_node(plan, rng)[0]
        cve["configurations"] = [{"nodes": [node]}]
    if rng.random() < 0.5:
        cve["metrics"] = _metrics(rng, int(old["published"][:4]), old["sourceIdentifier"])
    return {"cve": cve}


# ============================================================================ estate output


@dataclass(slots=True)
class Image:
    name: str
    model: EstateModel
    firmware: str
    fw_time: float
    components: list[dict[str, Any]]


def _version_at(p: Product, t: float, older_branch: bool) -> str:
    live = [i for i, b in enumerate(p.branches) if b.times[0] <= t] or [0]
    i = live[-1]
    if older_branch and len(live) > 1:
        i = live[-2]
    b = p.branches[i]
    return b.versions[max(0, bisect_right(b.times, t) - 1)]


_LINUX_CORE = ("linux_kernel", "busybox", "u-boot", "zlib", "openssl")
_LINUX_OPTIONAL = (("dropbear", 0.6), ("openssh", 0.3), ("lighttpd", 0.35), ("boa", 0.12),
                   ("thttpd", 0.08), ("curl", 0.7), ("libxml2", 0.5), ("sqlite", 0.6),
                   ("dnsmasq", 0.4), ("libupnp", 0.35), ("mosquitto", 0.3), ("ntp", 0.5),
                   ("openvpn", 0.2), ("wpa_supplicant", 0.3), ("expat", 0.6), ("libpng", 0.5),
                   ("libjpeg-turbo", 0.5), ("pcre", 0.4), ("pcre2", 0.2), ("mbedtls", 0.2),
                   ("wolfssl", 0.1), ("lwip", 0.05))
_RTOS_OPTIONAL = (("lwip", 0.9), ("mbedtls", 0.7), ("wolfssl", 0.3), ("zlib", 0.4),
                  ("expat", 0.3), ("curl", 0.2), ("sqlite", 0.2), ("u-boot", 0.3))
_DAEMONS = ("webserver", "onvif_server", "rtsp_server", "p2p_client", "cloud_agent",
            "media_server", "upgrade_agent", "config_manager", "event_daemon", "watchdog",
            "sdk_core", "hal", "ptz_ctrl", "alarm_server", "device_discovery", "log_daemon",
            "cert_manager", "time_sync", "storage_manager", "user_manager")
_TYPE_BOOST = {"router": {"dnsmasq": 0.95, "openvpn": 0.8, "wpa_supplicant": 0.4},
               "gateway": {"dnsmasq": 0.8, "openvpn": 0.6, "mosquitto": 0.7},
               "cctv_camera": {"libupnp": 0.6, "libjpeg-turbo": 0.85},
               "nvr": {"libupnp": 0.6, "sqlite": 0.9}}


def _model_components(plan: Plan, m: EstateModel, count: int
                      ) -> list[tuple[str, Any, float, bool]]:
    """(kind, ref, lag jitter, older branch) per component slot, in SBOM order."""
    rng = random.Random(f"gen-vulns:bom:{plan.seed}:{m.index}")
    pop = {p.key: p for p in plan.popular}
    keys: list[str] = []
    if m.profile == "linux":
        keys.extend(_LINUX_CORE)
        libc = "uclibc" if m.fw_times[0] < 2015.5 and rng.random() < 0.6 else \
            "uclibc-ng" if rng.random() < 0.3 else "glibc"
        keys.append(libc)
        boost = _TYPE_BOOST.get(m.device_type, {})
        for key, prob in _LINUX_OPTIONAL:
            if rng.random() < boost.get(key, prob):
                keys.append(key)
    else:
        keys.append("zephyr" if rng.random() < 0.4 else "freertos")
        for key, prob in _RTOS_OPTIONAL:
            if rng.random() < prob:
                keys.append(key)
    slots: list[tuple[str, Any, float, bool]] = [
        ("pop", pop[k], rng.uniform(0, 1.5), rng.random() < 0.3) for k in keys]
    for daemon in rng.sample(_DAEMONS, 10):
        slots.append(("own", daemon, 0.0, False))
    # the fill favours small libraries: few cameras ship PHP or FFmpeg (weighted
    # sampling without replacement, Efraimidis-Spirakis keys)
    ranked = sorted(plan.secondary, key=lambda p: -rng.random() ** (p.cves ** 0.75))
    fill = ranked[:max(0, count - len(slots))]
    slots.extend(("sec", p, rng.uniform(0, 2.5), False) for p in fill)
    return slots[:count]


def _purl(rng: random.Random, p: Product, version: str) -> str | None:
    r = rng.random()
    if r < 0.5:
        return f"pkg:generic/{p.name}@{version}"
    if r < 0.7 and p.deb:
        return f"pkg:deb/debian/{p.deb}@{version}-{rng.randint(1, 9)}?arch=armhf"
    return None


def make_images(plan: Plan, n_images: int, n_components: int) -> list[Image]:
    rng = random.Random(f"gen-vulns:images:{plan.seed}")
    n_models = max(1, min(len(plan.models), math.ceil(n_images / 5)))
    models = rng.sample(plan.models, n_models)
    per_model: dict[int, int] = {}
    assign: list[tuple[EstateModel, int]] = []
    for i in range(n_images):
        m = models[i % n_models]
        assign.append((m, per_model.get(m.index, 0)))
        per_model[m.index] = per_model.get(m.index, 0) + 1
    chosen_fw: dict[int, list[int]] = {}
    for m in models:
        k = per_model.get(m.index, 0)
        n_fw = len(m.fw_versions)
        if k <= n_fw:
            chosen_fw[m.index] = sorted(random.Random(f"{plan.seed}:{m.index}:fw").sample(
                range(n_fw), k))
        else:
            chosen_fw[m.index] = [j % n_fw for j in range(k)]
    slots = {m.index: _model_components(plan, m, n_components - 1) for m in models}
    images = []
    for i, (m, k) in enumerate(assign):
        fw_index = chosen_fw[m.index][k]
        firmware = m.fw_versions[fw_index]
        if k >= len(m.fw_versions):
            firmware = f"{firmware}.{k // len(m.fw_versions)}"
        t = m.fw_times[fw_index]
        crng = random.Random(f"gen-vulns:image:{plan.seed}:{i}")
        comps: list[dict[str, Any]] = [{
            "type": "firmware", "bom-ref": "firmware", "name": f"{m.model} firmware",
            "version": firmware, "supplier": {"name": m.vendor},
            "cpe": m.fw_cpe(firmware)}]
        for n, (kind, ref, jitter, older) in enumerate(slots[m.index]):
            if kind == "own":
                comps.append({"type": "application", "bom-ref": f"c{n}",
                              "name": f"{m.slug.split('-')[0]}_{ref}", "version": firmware,
                              "supplier": {"name": m.vendor},
                              "purl": f"pkg:generic/{_slug(m.vendor)}/{ref}@{firmware}"})
                continue
            p: Product = ref
            version = _version_at(p, t - m.lag - jitter, older)
            comp: dict[str, Any] = {"type": p.ctype, "bom-ref": f"c{n}", "name": p.name,
                                    "version": version, "supplier": {"name": p.supplier}}
            purl = _purl(crng, p, version)
            if purl:
                comp["purl"] = purl
            if crng.random() < 0.95:
                comp["cpe"] = p.cpe(version)
            comps.append(comp)
        images.append(Image(f"image_{i + 1:04d}", m, firmware, t, comps))
    return images


def _sbom_doc(image: Image, seed: int) -> dict[str, Any]:
    m = image.model
    serial = hashlib.md5(f"{seed}:{image.name}".encode(), usedforsecurity=False).hexdigest()
    built = _DATES[_day(image.fw_time)]
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{serial[:8]}-{serial[8:12]}-{serial[12:16]}-"
                        f"{serial[16:20]}-{serial[20:]}",
        "version": 1,
        "metadata": {"timestamp": f"{built}T12:00:00Z",
                     "tools": {"components": [{"type": "application", "name": "gen_vulns",
                                               "version": "1"}]},
                     "component": {"type": "firmware", "bom-ref": "root",
                                   "name": f"{m.vendor} {m.model} firmware",
                                   "version": image.firmware,
                                   "supplier": {"name": m.vendor}}},
        "components": image.components,
        "dependencies": [{"ref": "root", "dependsOn": [c["bom-ref"] for c in image.components]}],
    }


def write_estate(out: Path, plan: Plan, images: list[Image], n_devices: int
                 ) -> dict[str, Any]:
    """sboms/, images.csv, records.json and devices.csv."""
    _init_tables()
    sboms = out / "sboms"
    sboms.mkdir(parents=True, exist_ok=True)
    with (out / "images.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(IMAGE_COLUMNS)
        for image in images:
            rel = f"sboms/{image.name}.cdx.json"
            (out / rel).write_text(json.dumps(_sbom_doc(image, plan.seed), indent=2) + "\n",
                                   encoding="utf-8")
            m = image.model
            w.writerow((image.name, m.vendor, m.model, m.device_type, image.firmware, rel,
                        m.hw_cpe))
    sites, segments = _sites_and_segments(plan, images)
    models = []
    seen: set[int] = set()
    for image in images:
        if image.model.index not in seen:
            seen.add(image.model.index)
            models.append({"vendor": image.model.vendor, "model": image.model.model,
                           "device_type": image.model.device_type})
    (out / "records.json").write_text(json.dumps(
        {"sites": sites, "segments": segments, "models": models}, indent=2) + "\n",
        encoding="utf-8")
    written = _write_devices(out / "devices.csv", plan, images, sites, n_devices)
    return {"images": len(images), "models": len(models), "sites": len(sites),
            "segments": len(segments), "devices": written}


def _sites_and_segments(plan: Plan, images: list[Image]
                        ) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    rng = random.Random(f"gen-vulns:sites:{plan.seed}")
    n_sites = min(len(_TOWNS), max(2, len(images) // 25))
    towns = rng.sample(_TOWNS, n_sites)
    sites = []
    codes: set[str] = set()
    for town in towns:
        kind = rng.choice(_SITE_KINDS)
        letters = "".join(c for c in town.upper() if c.isalpha())
        code = letters[:4]
        k = 1
        while code in codes:
            code = letters[:3] + str(k)
            k += 1
        codes.add(code)
        sites.append({"name": f"{town} {kind}", "code": code})
    zones = sorted({_ZONE_OF[i.model.device_type] for i in images})
    segments = [{"name": f"{s['code'].lower()}-{zone}", "zone": zone, "site": s["name"]}
                for s in sites for zone in zones]
    return sites, segments


def _write_devices(path: Path, plan: Plan, images: list[Image], sites: list[dict[str, str]],
                   n: int) -> int:
    rng = random.Random(f"gen-vulns:devices:{plan.seed}")
    ranks = list(range(1, len(images) + 1))
    rng.shuffle(ranks)
    cum, acc = [], 0.0
    for r in ranks:
        acc += 1.0 / r ** 1.1
        cum.append(acc)
    site_cum, sacc = [], 0.0
    for k in range(len(sites)):
        sacc += 1.0 / (k + 1) ** 0.7
        site_cum.append(sacc)
    vendor_ids: dict[str, int] = {}
    rows = []
    for image in images:
        m = image.model
        vid = vendor_ids.setdefault(m.vendor, len(vendor_ids) + 1)
        oui = m.oui or f"02:{vid:02x}"
        base = _BASE_CRIT.get(m.device_type, 1)
        zone = _ZONE_OF[m.device_type]
        serial = "".join(c for c in m.model.upper() if c.isalnum())[:6]
        rows.append((m.device_type, m.vendor, m.model, image.firmware, oui, base, zone,
                     serial, _SHORT[m.device_type]))
    site_fields = [(s["name"], s["code"].lower()) for s in sites]
    states = ["in_service"] * 92 + ["maintenance"] * 5 + ["commissioning"] * 3
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(DEVICE_COLUMNS) + "\n")
        buf: list[str] = []
        total_w, total_s = cum[-1], site_cum[-1]
        for i in range(n):
            dtype, vendor, model, fw, oui, base, zone, sprefix, short = rows[
                min(bisect_left(cum, rng.random() * total_w), len(rows) - 1)]
            site, code = site_fields[min(bisect_left(site_cum, rng.random() * total_s),
                                         len(site_fields) - 1)]
            if len(oui) == 8 and i < (1 << 24):
                mac = f"{oui}:{i >> 16:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
            else:
                b = i.to_bytes(4, "big")
                mac = f"{oui}:{b[0]:02x}:{b[1]:02x}:{b[2]:02x}:{b[3]:02x}" if len(oui) == 5 \
                    else f"06:{b[0]:02x}:{b[1]:02x}:{b[2]:02x}:{b[3]:02x}:{vendor_ids[vendor]:02x}"
            ip = f"127.{20 + i // 65024}.{(i // 254) % 256}.{1 + i % 254}"
            name = f"{code}-{short}-{i:07d}"
            shift = rng.random()
            crit = _CRITICALITY[min(3, max(0, base + (-1 if shift < 0.15 else 1 if shift > 0.85
                                                      else 0)))]
            buf.append(f"{name},{dtype},{vendor},{model},{sprefix}{i:09d},{mac},{ip},{name},"
                       f"{fw},{site},{code}-{zone},{states[i % 100]},{crit}\n")
            if len(buf) >= 10000:
                fh.write("".join(buf))
                buf.clear()
        fh.write("".join(buf))
    return n


# ============================================================================ entry points


def generate(out: Path, *, cves: int = 300_000, images: int = 500, components: int = 60,
             devices: int = 1_000_000, seed: int = 7, jobs: int = 1) -> dict[str, Any]:
    """Write every file into ``out``; returns counts and seconds per part."""
    if cves < 1 or images < 1 or components < 2 or devices < 0:
        raise ValueError("need cves >= 1, images >= 1, components >= 2, devices >= 0")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    plan = make_plan(cves, seed)
    feeds = write_feeds(out, plan, jobs)
    t_feeds = time.perf_counter() - started
    imgs = make_images(plan, images, components)
    estate = write_estate(out, plan, imgs, devices)
    return {**feeds, **estate, "components_per_image": components,
            "seconds_feeds": round(t_feeds, 1),
            "seconds_total": round(time.perf_counter() - started, 1)}


def match_stats(out: Path, sample: int | None = None) -> dict[str, Any]:
    """Read the feed and the SBOMs back with the project's readers; matches per image."""
    from fleetwarden.adapters.feeds import read_feed
    from fleetwarden.adapters.sbom import read_sbom
    from fleetwarden.domain.cpe import parse_cpe
    from fleetwarden.domain.vulnmatch import CpeIndex, VulnIndex

    feed = read_feed(out / "nvd.json.gz")
    index = VulnIndex(feed.vulnerabilities)
    with (out / "images.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if sample is not None and sample < len(rows):
        step = len(rows) / sample
        rows = [rows[int(k * step)] for k in range(sample)]
    counts: list[int] = []
    by_product: dict[str, int] = {}
    for row in rows:
        sbom = read_sbom(out / row["sbom"])
        cpes = [parse_cpe(c.cpe) for c in sbom.components if c.cpe]
        platform = CpeIndex([*cpes, parse_cpe(row["hardware_cpe"])])
        ids: set[str] = set()
        for comp in sbom.components:
            found = index.match(comp, platform)
            by_product[comp.name] = by_product.get(comp.name, 0) + len(found)
            ids.update(mt.vulnerability_id for mt in found)
        counts.append(len(ids))
    top = sorted(by_product.items(), key=lambda kv: -kv[1])[:10]
    return {"records": feed.counts.read, "skipped": feed.counts.skipped,
            "warnings": len(feed.warnings), "images": len(counts),
            "mean": round(sum(counts) / len(counts), 1) if counts else 0,
            "min": min(counts, default=0), "max": max(counts, default=0),
            "median": sorted(counts)[len(counts) // 2] if counts else 0,
            "top_components": {k: round(v / max(1, len(counts)), 1) for k, v in top}}


def _size(path: Path) -> str:
    if path.is_dir():
        total = sum(p.stat().st_size for p in path.iterdir())
        return f"{total / 1e6:.1f} MB ({sum(1 for _ in path.iterdir())} files)"
    return f"{path.stat().st_size / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--cves", type=int, default=300_000)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--components", type=int, default=60,
                    help="components per SBOM, the firmware component included")
    ap.add_argument("--devices", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                    help="worker processes for the NVD records (output is the same)")
    ap.add_argument("--stats", type=int, metavar="N", default=0,
                    help="afterwards, match N images against the feed and print figures")
    args = ap.parse_args(argv)
    try:
        summary = generate(args.outdir, cves=args.cves, images=args.images,
                           components=args.components, devices=args.devices, seed=args.seed,
                           jobs=args.jobs)
    except ValueError as exc:
        ap.error(str(exc))
    for key, value in summary.items():
        print(f"{key:22} {value}")
    for name in ("nvd.json.gz", "nvd-delta.json", "kev.json", "epss.csv.gz", "sboms",
                 "images.csv", "records.json", "devices.csv"):
        print(f"{name:22} {_size(args.outdir / name)}")
    if args.stats:
        started = time.perf_counter()
        stats = match_stats(args.outdir, args.stats)
        print(json.dumps(stats, indent=2))
        print(f"(read and matched in {time.perf_counter() - started:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
