"""Banner software names become components only when the catalogue knows the product."""

from __future__ import annotations

from fleetwarden.adapters.discovery.tools import NetworkDiscoveryTools
from fleetwarden.domain.software_names import components_from_software
from fleetwarden.domain.vulnmatch import component_cpe

PRODUCTS = NetworkDiscoveryTools().software_products()


def test_known_names_with_versions_become_cpe_components() -> None:
    found = components_from_software(
        ["Dropbear SSH 2019.78", "BusyBox udhcpc 1.31.1", "lighttpd 1.4.45",
         "dropbear ssh 2019.78"], PRODUCTS)
    assert [c.cpe for c in found] == [
        "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2019.78:*:*:*:*:*:*:*",
        "cpe:2.3:a:busybox:busybox:1.31.1:*:*:*:*:*:*:*",
        "cpe:2.3:a:lighttpd:lighttpd:1.4.45:*:*:*:*:*:*:*"]
    assert all(component_cpe(c) is not None for c in found)  # the matcher reads them


def test_no_version_or_unknown_name_is_no_component() -> None:
    assert components_from_software(
        ["nginx", "BusyBox", "uc-httpd 1.0.0", "GStreamer RTSP server", "Boa <script>",
         "OpenSSH 7.4; rm -rf /"], PRODUCTS) == []


def test_every_catalogue_entry_names_a_vendor_and_a_product() -> None:
    assert PRODUCTS
    for name, cpe in PRODUCTS.items():
        vendor, _, product = cpe.partition(":")
        assert name.strip() and vendor and product and ":" not in product, name
