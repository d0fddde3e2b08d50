"""Plans a lab: which devices exist, where they live and how each one is weak.

A plan is a pure function of (scenario, count, seed, bind, port rules): the same inputs
give the same devices, so a test, a benchmark and a later ``lab truth`` agree without
sharing state. Devices sit on the demo estate's segments (so the demo register and the
lab line up); when a segment is full, devices spill into overflow /24s of the bind
network with no segment.

Must not: open sockets or write files.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import random
import string
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from fleetwarden.adapters.demo.estate import estate_catalogue, segments_for
from fleetwarden.adapters.lab.catalogue import (
    Family,
    Scenario,
    components,
    families,
    hostile_persona,
    load_scenario,
)
from fleetwarden.domain.lab import (
    DEFAULT_BIND,
    NEEDS,
    TLS_SERVICES,
    WELL_KNOWN,
    Component,
    Credential,
    LabDevice,
    LabService,
    Service,
    Weakness,
    check_bind,
    login_of,
    port_for,
    shared_certificate_group,
)
from fleetwarden.errors import ConfigurationError, InputError

MAX_DEVICES = 50_000
#: Lab hostnames count from here (hq-cam-0501), clear of the demo register's own names.
FIRST_HOST_NUMBER = 501
_SUPERNET = ipaddress.ip_network("127.20.0.0/16")
_SECRET_ALPHABET = string.ascii_letters + string.digits
_LONG = "X" * 5000
_INVALID_UTF8 = b"\xff\xfe\xc3(".decode("utf-8", "surrogateescape")

#: Which service a persona key belongs to; only keys of offered services are resolved.
_KEY_SERVICE = {
    "http": (Service.HTTP, Service.HTTPS),
    "rtsp": (Service.RTSP,),
    "ssh": (Service.SSH,),
    "telnet": (Service.TELNET,),
    "ftp": (Service.FTP,),
    "snmp": (Service.SNMP,),
    "upnp": (Service.SSDP, Service.UPNP),
    "mdns": (Service.MDNS,),
    "mqtt": (Service.MQTT, Service.MQTTS),
    "modbus": (Service.MODBUS,),
    "debug": (Service.DEBUG,),
}
#: Weaknesses that follow from a service being offered at all (Telnet open is Telnet open).
_INHERENT = (Weakness.TELNET_OPEN, Weakness.FTP_OPEN, Weakness.UPNP_EXPOSED,
             Weakness.DEBUG_PORT_OPEN)


@dataclass(frozen=True, slots=True)
class LabPlan:
    scenario: str
    seed: int
    bind: str
    real_ports: bool
    """True when devices use the real ports below 1024 (root, or a low unprivileged start)."""
    devices: tuple[LabDevice, ...]


def plan_lab(
    scenario: str | Scenario = "small-force",
    *,
    count: int | None = None,
    seed: int = 7,
    bind: str = DEFAULT_BIND,
    privileged: bool = False,
    unprivileged_start: int = 1024,
    exclude_ips: Iterable[str] = (),
    exclude_macs: Iterable[str] = (),
    first_host_number: int = FIRST_HOST_NUMBER,
    namespaces: bool = False,
) -> LabPlan:
    """The devices of a lab; ``exclude_*`` keeps clear of an existing register's devices."""
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    n = scen.count if count is None else count
    if not 1 <= n <= MAX_DEVICES:
        raise InputError(f"--count {n}: must be between 1 and {MAX_DEVICES}")
    net = check_bind(bind, namespaces=namespaces)
    planner = _Planner(scen, seed, net, privileged, unprivileged_start,
                       set(exclude_ips), set(exclude_macs), first_host_number)
    devices = _unshare_lone_certificates([planner.device(i) for i in range(n)])
    real_ports = privileged or unprivileged_start <= min(WELL_KNOWN[s][0] for s in Service)
    return LabPlan(scen.name, seed, str(net), real_ports, devices)


class _Planner:
    def __init__(
        self, scen: Scenario, seed: int, net: ipaddress.IPv4Network, privileged: bool,
        unprivileged_start: int, exclude_ips: set[str], exclude_macs: set[str], first: int,
    ) -> None:
        self.scen, self.seed, self.net = scen, seed, net
        self.privileged, self.unpriv = privileged, unprivileged_start
        self.cat = estate_catalogue()
        self.sites = {s["code"]: s for s in self.cat["sites"]}
        self.fams = families()
        self.models = {  # per family, the models that have a segment at the scenario's sites
            name: [m for m in self.fams[name].models if self._segments(m)]
            for name in scen.family_weights
        }
        self.names = [f for f in scen.family_weights if self.models[f]]
        if not self.names:
            raise InputError(f"scenario {scen.name}: no family has a segment at its sites")
        self.weights = [scen.family_weights[f] for f in self.names]
        self.rng = random.Random(f"lab:{scen.name}:{seed}")  # noqa: S311 - reproducible
        self.taken_ips, self.taken_macs = set(exclude_ips), set(exclude_macs)
        self.serials: set[str] = set()
        self.pools: dict[str, list[str]] = {}
        self.blocks: dict[int, int] = {}  # supernet /24 index -> bind /24 index
        # /24s that segments inside the bind network use as they are: never hand them out
        self.reserved = {
            (int(c.network_address) - int(net.network_address)) >> 8
            for c in (ipaddress.IPv4Network(s["cidrs"][0]) for s in self.cat["segments"])
            if net != _SUPERNET and c.subnet_of(net)
        }
        self.overflow: list[str] = []
        self.overflow_used = 0
        self.lowest_overflow = net.num_addresses // 256
        self.numbers: dict[str, int] = {}
        self.first = first
        self.seq = self.rng.randrange(10_000, 90_000)

    # ------------------------------------------------------------------ one device
    def device(self, index: int) -> LabDevice:
        rng = random.Random(f"{self.seed}:{index}:{self.scen.name}")  # noqa: S311
        family = self.fams[rng.choices(self.names, self.weights)[0]]
        model = rng.choice(self.models[family.name])
        segment = self._segment(rng, model)
        ip = self._ip(segment)
        site_code = segment["site"] if segment else rng.choice(self.scen.sites or ["HQ"])
        site = self.sites[site_code]
        mac = self._mac(rng, model["oui"])
        serial = self._serial(rng, model, mac)
        stem = f"{site_code.lower()}-{self.cat['device_types'][model['device_type']]['host']}"
        self.numbers[stem] = self.numbers.get(stem, self.first - 1) + 1
        hostname = f"{stem}-{self.numbers[stem]:04d}"
        defaults = family.credentials_for(model["vendor"], model["model"])
        weaknesses, offered = self._weaknesses(rng, family, defaults)
        versions = model["firmware_versions"]
        vulnerable = Weakness.VULNERABLE_FIRMWARE in weaknesses
        firmware = rng.choice(versions[:-1]) if vulnerable else versions[-1]
        stack = family.outdated if vulnerable else family.current
        persona = self._persona(family, model, offered, weaknesses, {
            "vendor": model["vendor"], "model": model["model"], "firmware": firmware,
            "serial": serial, "serial_tail": serial[-6:], "hostname": hostname, "mac": mac,
            "mac_plain": mac.replace(":", "").upper(), "ip": ip, "site": site["name"],
            **{f"c_{k}": v for k, v in stack.items()},
        })
        if Weakness.HTTP_BASIC_CLEARTEXT in weaknesses:
            persona["http_auth"] = "basic"
        credentials: tuple[Credential, ...] = ()
        if Weakness.DEFAULT_CREDENTIALS in weaknesses:
            credentials = _offered_credentials(defaults, offered)
        return LabDevice(
            index=index, ip=ip, mac=mac, serial=serial, vendor=model["vendor"],
            model=model["model"], device_type=model["device_type"], firmware_version=firmware,
            hostname=hostname, family=family.name, site=site["name"],
            segment=segment["name"] if segment else None,
            registered=rng.random() >= self.scen.shadow_share,
            services=self._services(offered, persona),
            weaknesses=frozenset(weaknesses), credentials=credentials,
            components=stack_components(stack, model["vendor"]), persona=persona,
            secret="".join(rng.choice(_SECRET_ALPHABET) for _ in range(20)),
        )

    # --------------------------------------------------------------- weaknesses
    def _weaknesses(
        self, rng: random.Random, family: Family, defaults: tuple[Credential, ...]
    ) -> tuple[set[Weakness], set[Service]]:
        """The device's weaknesses and the services it ends up offering."""
        possible = family.services | family.can_open
        chosen: set[Weakness] = set()
        for weakness in Weakness:  # fixed order keeps plans reproducible
            rate = self.scen.weakness_rates.get(weakness, 0.0)
            needs = NEEDS.get(weakness)
            if needs is not None and not needs & possible:
                continue
            if rng.random() < rate:
                chosen.add(weakness)
        offered = set(family.services)
        for weakness in chosen:
            offered |= NEEDS.get(weakness, frozenset()) & family.can_open
        if Service.SSDP in offered and Service.UPNP in family.can_open:
            offered.add(Service.UPNP)
        if not offered & TLS_SERVICES:
            chosen -= {w for w in chosen if NEEDS.get(w) == TLS_SERVICES}
        if Weakness.MQTT_NO_AUTH in chosen and Service.MQTT not in offered:
            chosen.discard(Weakness.MQTT_NO_AUTH)
        if Weakness.SHARED_CERTIFICATE in chosen:  # a certificate baked into the firmware
            chosen.add(Weakness.SELF_SIGNED_CERTIFICATE)
            chosen.discard(Weakness.EXPIRED_CERTIFICATE)
        for weakness in _INHERENT:
            if NEEDS[weakness] & offered:
                chosen.add(weakness)
        if Service.HTTP in offered and family.persona.get("http_auth") == "basic":
            chosen.add(Weakness.HTTP_BASIC_CLEARTEXT)
        if Weakness.DEFAULT_CREDENTIALS in chosen and not _offered_credentials(defaults,
                                                                               offered):
            chosen.discard(Weakness.DEFAULT_CREDENTIALS)
        return chosen, offered

    def _services(
        self, offered: set[Service], persona: Mapping[str, str]
    ) -> tuple[LabService, ...]:
        out = []
        for service in sorted(offered, key=lambda s: WELL_KNOWN[s][0]):
            nominal, transport = WELL_KNOWN[service]
            if service is Service.DEBUG:
                nominal = int(persona.get("debug_port", nominal))
            port = port_for(nominal, self.unpriv, self.privileged)
            out.append(LabService(service, transport, port, nominal))
        return tuple(out)

    # ------------------------------------------------------------------ persona
    def _persona(
        self, family: Family, model: Mapping[str, Any], offered: set[Service],
        weaknesses: set[Weakness], values: dict[str, str],
    ) -> dict[str, str]:
        templates = {**family.persona,
                     **family.model_persona.get(f"{model['vendor']}|{model['model']}", {})}
        if Weakness.HOSTILE_BANNER in weaknesses:
            templates.update(hostile_persona())
        fields = _Fields(values, family.name)
        out = {}
        for key, template in templates.items():
            services = _KEY_SERVICE.get(key.split("_", 1)[0], ())
            if services and not set(services) & offered:
                continue
            out[key] = template.format_map(fields)
        return out

    # ---------------------------------------------------------- placement, identity
    def _segment(self, rng: random.Random, model: Mapping[str, Any]) -> dict[str, Any] | None:
        open_segs = [s for s in self._segments(model) if self._pool(s)]
        if not open_segs:
            return None
        return rng.choices(open_segs, [s["weight"] for s in open_segs])[0]

    def _segments(self, model: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [s for s in segments_for(self.cat, model)
                if not self.scen.sites or s["site"] in self.scen.sites]

    def _pool(self, segment: Mapping[str, Any]) -> list[str]:
        name = segment["name"]
        if name not in self.pools:
            cidr = ipaddress.IPv4Network(segment["cidrs"][0])
            block = self._block(cidr)
            hosts = [str(block[h]) for h in range(10, 251)]
            self.rng.shuffle(hosts)
            self.pools[name] = [h for h in hosts if h not in self.taken_ips]
        return self.pools[name]

    def _block(self, cidr: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        """Where a segment's /24 lands inside the bind network."""
        if self.net == _SUPERNET or cidr.subnet_of(self.net):
            return cidr
        index = (int(cidr.network_address) - int(_SUPERNET.network_address)) >> 8
        if index not in self.blocks:
            taken = set(self.blocks.values()) | self.reserved
            self.blocks[index] = next(k for k in range(len(taken) + 1) if k not in taken)
        return self._nth_block(self.blocks[index])

    def _nth_block(self, k: int) -> ipaddress.IPv4Network:
        if k >= self.lowest_overflow:
            raise InputError(
                f"--bind {self.net}: too small: every segment needs its own /24; use a /16")
        return ipaddress.IPv4Network((int(self.net.network_address) + k * 256, 24))

    def _ip(self, segment: Mapping[str, Any] | None) -> str:
        if segment is not None:
            return self._pool(segment).pop()
        while not self.overflow:
            block = self._overflow_block()
            self.overflow = [str(h) for h in block.hosts() if str(h) not in self.taken_ips][::-1]
        return self.overflow.pop()

    def _overflow_block(self) -> ipaddress.IPv4Network:
        """The next spare /24, taken from the top of the bind network downwards."""
        k = self.net.num_addresses // 256 - 1 - self.overflow_used
        self.overflow_used += 1
        if k in self.blocks.values() or k in self.reserved or k < 0:
            raise InputError(f"--bind {self.net}: too small for this many devices; use a /16")
        self.lowest_overflow = k
        return ipaddress.IPv4Network((int(self.net.network_address) + k * 256, 24))

    def _mac(self, rng: random.Random, oui: str) -> str:
        for _ in range(1000):
            mac = f"{oui}:{rng.randbytes(3).hex(':')}".lower()
            if mac not in self.taken_macs:
                self.taken_macs.add(mac)
                return mac
        raise ConfigurationError(f"lab: OUI {oui} has no free addresses left")

    def _serial(self, rng: random.Random, model: Mapping[str, Any], mac: str) -> str:
        made = date(2019, 1, 1) + timedelta(days=rng.randrange(2300))
        for _ in range(1000):
            self.seq += rng.randrange(1, 400)
            serial = model["serial"].format(
                seq=self.seq, hex=rng.randbytes(4).hex().upper(), date=made.strftime("%Y%m%d"),
                yy=made.strftime("%y"), ww=made.strftime("%V"),
                mac=mac.replace(":", "").upper(), imei="", iccid="", vin="")
            serial = str(serial)
            if serial not in self.serials:
                self.serials.add(serial)
                return serial
        raise ConfigurationError(f"lab: serial template of {model['model']} ran out")


def _offered_credentials(defaults: Iterable[Credential], offered: set[Service]
                         ) -> tuple[Credential, ...]:
    """The defaults on the services a device offers: one listed for a login is listed
    for every offered service sharing it (the web UI's on HTTP and HTTPS)."""
    out: list[Credential] = []
    for credential in defaults:
        login = login_of(credential.service)
        for service in sorted(offered, key=lambda s: WELL_KNOWN[s][0]):
            if login_of(service) is login:
                out.append(Credential(service, credential.username, credential.password))
    return tuple(dict.fromkeys(out))


def _unshare_lone_certificates(devices: list[LabDevice]) -> tuple[LabDevice, ...]:
    """Devices whose shared-certificate group has no other member: nothing shares their
    certificate, so the truth must not say so. Such a device keeps the self-signed,
    long-lived certificate a firmware-baked one is (``certs`` issues it self-signed as
    ``self_signed_certificate`` says); it was planned without ``expired_certificate``,
    and its certificate then is not expired either."""
    groups = Counter(shared_certificate_group(d.vendor, d.model, d.weaknesses)
                     for d in devices)
    out = []
    for device in devices:
        group = shared_certificate_group(device.vendor, device.model, device.weaknesses)
        if group is not None and groups[group] < 2:
            device = dataclasses.replace(
                device, weaknesses=device.weaknesses - {Weakness.SHARED_CERTIFICATE})
        out.append(device)
    return tuple(out)


class _Fields(dict[str, str]):
    """Persona placeholders; a missing one names the family so the data can be fixed."""

    def __init__(self, values: Mapping[str, str], family: str) -> None:
        super().__init__(values, long=_LONG, invalid_utf8=_INVALID_UTF8)
        self.family = family

    def __missing__(self, key: str) -> str:
        raise ConfigurationError(
            f"lab family {self.family!r}: persona placeholder {{{key}}} is unknown "
            "(a component missing from its stack?)")


def stack_components(stack: Mapping[str, str], vendor: str) -> tuple[Component, ...]:
    """The components of a firmware stack (name -> version), as its SBOM lists them."""
    known = components()
    return tuple(
        Component(name=name, version=version,
                  purl=known[name]["purl"].format(v=version),
                  cpe=known[name]["cpe"].format(v=version) if "cpe" in known[name] else None,
                  supplier=known[name].get("supplier", vendor))
        for name, version in sorted(stack.items())
    )
