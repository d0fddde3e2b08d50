"""The lab's MQTT broker and Modbus TCP personality, seen by real clients and raw sockets.

mosquitto_sub/mosquitto_pub (3.1.1 and 5, plain and TLS) and nmap's modbus-discover
must accept the devices as the real thing; raw sockets check framing details and that
malformed input only ends the offending connection.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import time
from collections.abc import Iterator

import pytest

from fleetwarden.adapters.lab.protocols import mqtt
from fleetwarden.domain.lab import Component, Credential, LabDevice, Service, Weakness
from tests.integration.lab.harness import client_tool, lab_port, make_device, running_lab

MQTT, MQTTS, MODBUS = lab_port(1883), lab_port(8883), lab_port(502)
SECRET = "labsecret123"
#: mosquitto_sub/pub wait this long at most (-W), the subprocess a little longer.
WAIT = 5


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """One lab for the module: an open broker/PLC and a broker that needs a login."""
    run_dir = tmp_path_factory.mktemp("mqtt-modbus")
    open_device = make_device(
        (Service.MQTT, Service.MQTTS, Service.MODBUS), weaknesses=(Weakness.MQTT_NO_AUTH,),
        serial="TM-OPEN-0001", model="SIMATIC S7-1200", firmware_version="V4.5.2",
        components=(Component("mosquitto", "1.6.9", "pkg:generic/mosquitto@1.6.9"),),
        persona={"mqtt_topic": "fleet/TM-OPEN-0001/position", "modbus_vendor": "Siemens AG",
                 "modbus_product": "6ES7 214-1AG40-0XB0"})
    locked_device = make_device(
        (Service.MQTT, Service.MQTTS), serial="TM-LOCK-0002", secret=SECRET,
        credentials=(Credential(Service.MQTT, "admin", "password"),))
    with running_lab([open_device, locked_device], run_dir) as runtime:
        yield {"open": open_device, "locked": locked_device,
               "ca": run_dir / "tls" / "ca.pem", "runtime": runtime}
    assert runtime.stats.handler_errors == 0


def _open(lab: dict[str, object]) -> LabDevice:
    device = lab["open"]
    assert isinstance(device, LabDevice)
    return device


def _locked(lab: dict[str, object]) -> LabDevice:
    device = lab["locked"]
    assert isinstance(device, LabDevice)
    return device


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=WAIT + 10, check=False)


def _sub(device: LabDevice, *args: str, port: int = MQTT, count: int = 1
         ) -> subprocess.CompletedProcess[str]:
    return _run(client_tool("mosquitto_sub"), "-h", device.ip, "-p", str(port),
                "-C", str(count), "-W", str(WAIT), "-v", *args)


# --------------------------------------------------------------------- real MQTT clients
@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_sub_reads_retained_status_and_broker_version(
        lab: dict[str, object], version: str) -> None:
    device = _open(lab)
    status = _sub(device, "-V", version, "-t", "fleet/+/position")
    assert status.returncode == 0, status.stderr
    topic, payload = status.stdout.strip().split(" ", 1)
    assert topic == "fleet/TM-OPEN-0001/position"
    assert json.loads(payload) == {"serial": "TM-OPEN-0001", "model": "SIMATIC S7-1200",
                                   "firmware": "V4.5.2", "status": "online"}
    sys_version = _sub(device, "-V", version, "-t", "$SYS/broker/version")
    assert sys_version.returncode == 0, sys_version.stderr
    assert sys_version.stdout.strip() == "$SYS/broker/version mosquitto version 1.6.9"


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_broker_without_the_weakness_refuses_anonymous_and_wrong_passwords(
        lab: dict[str, object], version: str) -> None:
    device = _locked(lab)
    for login in ((), ("-u", "fwlab", "-P", "wrong")):
        refused = _sub(device, "-V", version, "-t", "#", *login)
        assert refused.returncode != 0
        assert "not authori" in refused.stderr.lower(), refused.stderr


def test_broker_accepts_the_device_secret_and_its_default_credentials(
        lab: dict[str, object]) -> None:
    device = _locked(lab)
    for user, password in (("fwlab", SECRET), ("admin", "password")):
        done = _sub(device, "-u", user, "-P", password, "-t", "devices/+/status")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("devices/TM-LOCK-0002/status {")
    assert _sub(device, "-t", "$SYS/broker/version", "-u", "fwlab", "-P", SECRET
                ).stdout.strip() == "$SYS/broker/version mosquitto version 2.0.18"


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_pub_retained_message_reaches_a_later_subscriber(
        lab: dict[str, object], version: str) -> None:
    device = _open(lab)
    topic = f"lab/{version}/setpoint"
    published = _run(client_tool("mosquitto_pub"), "-h", device.ip, "-p", str(MQTT),
                     "-V", version, "-q", "1", "-r", "-t", topic, "-m", "21.5")
    assert published.returncode == 0, published.stderr
    seen = _sub(device, "-V", version, "-t", topic, "-q", "1")
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.strip() == f"{topic} 21.5"


def test_mqtts_serves_the_same_broker_over_tls_with_the_lab_ca(
        lab: dict[str, object]) -> None:
    device = _locked(lab)
    tls = ("--cafile", str(lab["ca"]), "--insecure")
    anonymous = _sub(device, *tls, "-t", "#", port=MQTTS)
    assert anonymous.returncode != 0 and "not authori" in anonymous.stderr.lower()
    done = _sub(device, *tls, "-V", "mqttv5", "-u", "fwlab", "-P", SECRET,
                "-t", "$SYS/broker/version", port=MQTTS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "$SYS/broker/version mosquitto version 2.0.18"


# --------------------------------------------------------------------- raw MQTT
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def _packet(first: int, body: bytes = b"") -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def _connect(version: int, client_id: str, keepalive: int = 30) -> bytes:
    props = b"\x00" if version == 5 else b""
    return _packet(0x10, _str("MQTT") + bytes([version, 0x02]) + keepalive.to_bytes(2, "big")
                   + props + _str(client_id))


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read(sock: socket.socket) -> tuple[int, bytes] | None:
    """(first byte, body) of the next packet, None when the broker hung up."""
    head = _recv_exact(sock, 1)
    if head is None:
        return None
    length, shift = 0, 0
    while True:
        byte = _recv_exact(sock, 1)
        if byte is None:
            return None
        length |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            break
    body = _recv_exact(sock, length) if length else b""
    return None if body is None else (head[0], body)


def _hung_up(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def _client(device: LabDevice, version: int, client_id: str) -> socket.socket:
    sock = socket.create_connection((device.ip, MQTT), timeout=WAIT)
    sock.sendall(_connect(version, client_id))
    connack = _read(sock)
    assert connack is not None and connack[0] == 0x20
    assert connack[1][:2] == b"\x00\x00"
    return sock


def _subscribe(sock: socket.socket, version: int, *filters: str) -> bytes:
    props = b"\x00" if version == 5 else b""
    body = b"\x00\x01" + props + b"".join(_str(f) + b"\x01" for f in filters)
    sock.sendall(_packet(0x82, body))
    suback = _read(sock)
    assert suback is not None and suback[0] == 0x90
    return suback[1]


def _topics_until_pong(sock: socket.socket, version: int) -> list[str]:
    """Topics of the PUBLISH packets that arrive before the answer to a PINGREQ."""
    sock.sendall(b"\xc0\x00")
    topics = []
    while (incoming := _read(sock)) is not None and incoming[0] != 0xD0:
        assert incoming[0] >> 4 == 3
        length = int.from_bytes(incoming[1][:2], "big")
        topics.append(incoming[1][2:2 + length].decode())
    assert incoming is not None, "broker hung up instead of answering PINGREQ"
    return topics


def test_v5_connack_carries_properties_and_empty_client_id_is_assigned(
        lab: dict[str, object]) -> None:
    with socket.create_connection((_open(lab).ip, MQTT), timeout=WAIT) as sock:
        sock.sendall(_connect(5, ""))
        connack = _read(sock)
        assert connack is not None and connack[0] == 0x20
        flags, code, props = connack[1][0], connack[1][1], connack[1][2:]
        assert (flags, code) == (0, 0)
        assert props[0] == len(props) - 1
        assert b"\x12" in props and b"auto-" in props


def test_live_delivery_between_clients_of_the_same_device(lab: dict[str, object]) -> None:
    device = _open(lab)
    with _client(device, 5, "live-sub") as sub, _client(device, 4, "live-pub") as pub:
        assert _subscribe(sub, 5, "live/+") == b"\x00\x01\x00\x01"
        pub.sendall(_packet(0x32, _str("live/x") + b"\x00\x07" + b"hello"))
        assert _read(pub) == (0x40, b"\x00\x07")
        delivered = _read(sub)
        assert delivered == (0x32, _str("live/x") + b"\x00\x01" + b"\x00" + b"hello")
        pub.sendall(b"\xe0\x00")
        assert _hung_up(pub)


def test_empty_retained_payload_deletes_and_sys_topics_stay_the_brokers(
        lab: dict[str, object]) -> None:
    device = _open(lab)
    with _client(device, 4, "retain-writer") as writer:
        writer.sendall(_packet(0x31, _str("gone/soon") + b"x"))
        writer.sendall(_packet(0x31, _str("gone/soon")))
        writer.sendall(_packet(0x31, _str("$SYS/broker/version") + b"evil 0.1"))
        assert _topics_until_pong(writer, 4) == []
    with _client(device, 4, "retain-reader") as reader:
        _subscribe(reader, 4, "gone/#", "#")
        topics = _topics_until_pong(reader, 4)
        assert "gone/soon" not in topics
        assert not any(t.startswith("$") for t in topics), "# must not match $SYS"
        _subscribe(reader, 4, "$SYS/#")
        reader.sendall(b"\xc0\x00")
        retained = _read(reader)
        assert retained is not None and retained[0] == 0x31
        assert retained[1].endswith(b"mosquitto version 1.6.9")


@pytest.mark.parametrize("garbage", [
    b"\x10" + _varint(300 * 1024) + b"\x00" * 16,   # over the 256 KiB limit
    b"\x10\xff\xff\xff\xff\x01",                     # five-byte remaining length
    _packet(0x30, _str("t") + b"x"),                 # PUBLISH before CONNECT
    _packet(0x10, _str("MQTT") + b"\x04\x03\x00\x1e" + _str("x")),  # reserved flag
    _packet(0x10, _str("MQTT") + b"\x05\x02\x00\x1e\x02\x7f\x00" + _str("x")),  # bad prop
    _connect(4, "m")[:-1],                           # CONNECT cut short, then EOF
], ids=["too-big", "long-varint", "publish-first", "reserved-flag", "bad-property", "short"])
def test_malformed_mqtt_closes_only_that_connection(
        lab: dict[str, object], garbage: bytes) -> None:
    device = _open(lab)
    with socket.create_connection((device.ip, MQTT), timeout=WAIT) as sock:
        sock.sendall(garbage)
        sock.shutdown(socket.SHUT_WR)
        assert _read(sock) is None
    with _client(device, 4, "after-garbage") as sock:
        assert _topics_until_pong(sock, 4) == []


def test_unsupported_protocol_level_gets_connack_code_1(lab: dict[str, object]) -> None:
    with socket.create_connection((_open(lab).ip, MQTT), timeout=WAIT) as sock:
        sock.sendall(_connect(6, "future"))
        assert _read(sock) == (0x20, b"\x00\x01")
        assert _read(sock) is None


def test_silent_client_is_dropped_after_one_and_a_half_keepalives(
        lab: dict[str, object]) -> None:
    with socket.create_connection((_open(lab).ip, MQTT), timeout=WAIT) as sock:
        sock.sendall(_connect(4, "sleepy", keepalive=1))
        assert _read(sock) == (0x20, b"\x00\x00")
        began = time.monotonic()
        assert _read(sock) is None
        assert 1.2 <= time.monotonic() - began < 4


def test_idle_timeout_from_the_keep_alive_is_capped() -> None:
    assert mqtt.idle_timeout(0) == 30.0  # no keep-alive: the lab's usual idle timeout
    assert mqtt.idle_timeout(60) == 90.0
    assert mqtt.idle_timeout(400) == mqtt.MAX_IDLE == 600.0
    assert mqtt.idle_timeout(65535) == 600.0  # not 27 hours


def test_a_huge_keep_alive_does_not_pin_the_connection(
        lab: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mqtt, "MAX_IDLE", 1.0)  # the broker reads it per connection
    with socket.create_connection((_open(lab).ip, MQTT), timeout=WAIT) as sock:
        sock.sendall(_connect(4, "forever", keepalive=65535))
        assert _read(sock) == (0x20, b"\x00\x00")
        began = time.monotonic()
        assert _read(sock) is None
        assert time.monotonic() - began < 4


def test_v5_client_asking_for_a_longer_keep_alive_is_told_the_brokers(
        lab: dict[str, object]) -> None:
    server_keep_alive = b"\x13" + mqtt.MAX_KEEPALIVE.to_bytes(2, "big")
    with socket.create_connection((_open(lab).ip, MQTT), timeout=WAIT) as sock:
        sock.sendall(_connect(5, "long", keepalive=65535))
        connack = _read(sock)
        assert connack is not None and connack[1][:2] == b"\x00\x00"
        assert server_keep_alive in connack[1][2:]
    with socket.create_connection((_open(lab).ip, MQTT), timeout=WAIT) as sock:
        sock.sendall(_connect(5, "short", keepalive=mqtt.MAX_KEEPALIVE))
        connack = _read(sock)
        assert connack is not None and b"\x13" not in connack[1][2:]


# --------------------------------------------------------------------- Modbus
def _modbus(sock: socket.socket, pdu: bytes, transaction: int = 0x1234, unit: int = 1
            ) -> bytes:
    """Send one request PDU; return the response PDU after checking its MBAP header."""
    sock.sendall(struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu)
    header = _recv_exact(sock, 7)
    assert header is not None
    got_transaction, protocol, length, got_unit = struct.unpack(">HHHB", header)
    assert (got_transaction, protocol, got_unit) == (transaction, 0, unit)
    body = _recv_exact(sock, length - 1)
    assert body is not None
    return body


def _objects(pdu: bytes) -> dict[int, str]:
    assert pdu[:2] == b"\x2b\x0e" and pdu[3] == 0x82 and pdu[4] == 0x00
    found, offset = {}, 7
    for _ in range(pdu[6]):
        ident, size = pdu[offset], pdu[offset + 1]
        found[ident] = pdu[offset + 2:offset + 2 + size].decode()
        offset += 2 + size
    assert offset == len(pdu)
    return found


def test_modbus_device_identification_basic_regular_and_individual(
        lab: dict[str, object]) -> None:
    with socket.create_connection((_open(lab).ip, MODBUS), timeout=WAIT) as sock:
        basic = _objects(_modbus(sock, b"\x2b\x0e\x01\x00"))
        assert basic == {0: "Siemens AG", 1: "6ES7 214-1AG40-0XB0", 2: "V4.5.2"}
        regular = _objects(_modbus(sock, b"\x2b\x0e\x02\x00", unit=255))
        assert regular[4] == regular[5] == "SIMATIC S7-1200"
        assert regular[3].startswith("https://") and len(regular) == 6
        assert _objects(_modbus(sock, b"\x2b\x0e\x04\x01")) == {1: "6ES7 214-1AG40-0XB0"}
        assert _modbus(sock, b"\x2b\x0e\x04\x42") == b"\xab\x02"
        assert _modbus(sock, b"\x2b\x0e\x07\x00") == b"\xab\x03"


def test_modbus_reads_registers_deterministically(lab: dict[str, object]) -> None:
    device = _open(lab)
    with socket.create_connection((device.ip, MODBUS), timeout=WAIT) as sock:
        answer = _modbus(sock, b"\x03\x00\x00\x00\x14")
        assert answer[:2] == b"\x03\x28"
        assert answer[2:22].rstrip(b"\x00").decode() == "SIMATIC S7-1200"
        assert answer[22:38].rstrip(b"\x00").decode() == "TM-OPEN-0001"
        assert struct.unpack(">HH", answer[38:42]) == (4, 5)
        inputs = _modbus(sock, b"\x04\x01\x00\x00\x7d")
        assert inputs[:2] == b"\x04\xfa" and len(inputs) == 2 + 250
        assert _modbus(sock, b"\x04\x01\x00\x00\x7d") == inputs
        assert _modbus(sock, b"\x03\x00\x00\x00\x7e") == b"\x83\x03"
        assert _modbus(sock, b"\x03\x00\x00\x00\x00") == b"\x83\x03"
        assert _modbus(sock, b"\x04\xff\xff\x00\x02") == b"\x84\x02"


@pytest.mark.parametrize("function", [0x06, 0x10, 0x08, 0x11, 0x5A])
def test_modbus_writes_and_unknown_functions_get_illegal_function(
        lab: dict[str, object], function: int) -> None:
    with socket.create_connection((_open(lab).ip, MODBUS), timeout=WAIT) as sock:
        pdu = bytes([function]) + b"\x00\x01\x00\x2a"
        assert _modbus(sock, pdu) == bytes([function | 0x80, 0x01])


@pytest.mark.parametrize("garbage", [
    b"\x00\x01\x00\x01\x00\x06\x01\x03\x00\x00\x00\x01",  # protocol id 1
    b"\x00\x01\x00\x00\x00\x01\x01",                      # length 1: no function code
    b"\x00\x01\x00\x00\x03\xe8\x01" + b"\x03" * 64,       # length 1000
    b"GET / HTTP/1.0\r\n\r\n",
], ids=["protocol-id", "short-length", "long-length", "http"])
def test_malformed_modbus_closes_only_that_connection(
        lab: dict[str, object], garbage: bytes) -> None:
    device = _open(lab)
    with socket.create_connection((device.ip, MODBUS), timeout=WAIT) as sock:
        sock.sendall(garbage)
        assert _hung_up(sock)
    with socket.create_connection((device.ip, MODBUS), timeout=WAIT) as sock:
        assert _objects(_modbus(sock, b"\x2b\x0e\x01\x00"))[0] == "Siemens AG"


def test_nmap_modbus_discover_reports_the_identification(lab: dict[str, object]) -> None:
    device = _open(lab)
    scan = _run(client_tool("nmap"), "-sT", "-Pn", "-n", "-p", str(MODBUS),
                "--script", "+modbus-discover", "--host-timeout", "20s", device.ip)
    assert scan.returncode == 0, scan.stderr
    assert "Device identification: Siemens AG 6ES7 214-1AG40-0XB0 V4.5.2" in scan.stdout, \
        scan.stdout

