"""`fleetwarden lab` end to end: real processes, real sockets, nothing left behind."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.helpers import run_cli

_worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").lstrip("gw") or 0)
BIND = f"127.{90 + _worker}.0.0/16"


def _lab(*args: str, db: str) -> tuple[int, str, str]:
    done = run_cli("lab", *args, db=db)
    return done.returncode, done.stdout, done.stderr


def _connects(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=2):
            return True
    except OSError:
        return False


def _gone(pid: int, wait: float = 15.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state == "Z":  # exited; only waiting for a reaper (PID 1 in containers)
            return True
        time.sleep(0.1)
    return False


def test_up_truth_down_leaves_nothing_behind(sqlite_url: str):
    code, out, err = _lab("up", "--detach", "--count", "15", "--bind", BIND, "--seed", "5",
                          db=sqlite_url)
    assert code == 0, err
    assert "lab up: 15 devices" in out
    try:
        code, out, _ = _lab("status", "--json", db=sqlite_url)
        state = json.loads(out)
        assert state["status"] == "running" and state["devices"] == 15
        pid = state["pid"]

        code, out, _ = _lab("truth", "--format", "json", db=sqlite_url)
        truth = json.loads(out)
        code, planned, _ = _lab("truth", "--format", "json", "--scenario", "small-force",
                                "--count", "15", "--bind", BIND, "--seed", "5", db=sqlite_url)
        assert truth == json.loads(planned)
        assert {"ip", "mac", "serial", "vendor", "model", "device_type", "firmware_version",
                "services", "weaknesses", "credentials"} <= set(truth[0])
        tcp = [(d["ip"], s["port"]) for d in truth for s in d["services"]
               if s["transport"] == "tcp"]
        assert all(_connects(ip, port) for ip, port in tcp)

        code, _, err = _lab("up", "--detach", "--count", "3", "--bind", BIND, db=sqlite_url)
        assert code == 1 and "already running" in err and err.count("\n") == 1
    finally:
        code, out, _ = _lab("down", db=sqlite_url)
    assert code == 0 and f"lab stopped (pid {pid})" in out
    assert _gone(pid)
    assert not any(_connects(ip, port) for ip, port in tcp[:10])
    code, out, _ = _lab("status", db=sqlite_url)
    assert "no lab is running" in out
    code, out, _ = _lab("down", db=sqlite_url)
    assert code == 0 and "no lab is running" in out


def test_the_lab_stops_by_itself_after_its_ttl(sqlite_url: str):
    code, _, err = _lab("up", "--detach", "--count", "2", "--bind", BIND, "--ttl", "2s",
                        db=sqlite_url)
    assert code == 0, err
    code, out, _ = _lab("status", "--json", db=sqlite_url)
    pid = json.loads(out)["pid"]
    assert _gone(pid, wait=20)
    code, out, _ = _lab("status", db=sqlite_url)
    assert "no lab is running" in out


@pytest.mark.parametrize(("args", "message"), [
    (["up", "--bind", "10.1.0.0/16"], "outside 127.0.0.0/8"),
    (["up", "--bind", "192.168.0.0/24", "--detach"], "outside 127.0.0.0/8"),
    (["up", "--scenario", "no-such-force"], "no such scenario"),
    (["up", "--ttl", "soon"], "--ttl"),
    (["truth"], "no lab is running"),
    (["truth", "--format", "xml", "--scenario", "small-force"], "--format"),
])
def test_bad_input_gets_one_line_and_starts_nothing(sqlite_url: str, args, message):
    code, out, err = _lab(*args, db=sqlite_url)
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert "Traceback" not in err
    code, out, _ = _lab("status", db=sqlite_url)
    assert "no lab is running" in out


def test_sboms_and_pcap_describe_the_planned_estate(sqlite_url: str, tmp_path: Path):
    code, out, err = _lab("sboms", str(tmp_path / "sboms"), "--scenario", "small-force",
                          "--count", "20", db=sqlite_url)
    assert code == 0, err
    index = json.loads((tmp_path / "sboms" / "index.json").read_text())
    assert index and f"wrote {len(index) if isinstance(index, list) else ''}" in out or index
    code, out, err = _lab("pcap", str(tmp_path / "estate.pcap"), "--scenario", "small-force",
                          "--count", "20", db=sqlite_url)
    assert code == 0, err
    assert (tmp_path / "estate.pcap").stat().st_size > 1000
    code, _, err = _lab("pcap", str(tmp_path), "--scenario", "small-force", db=sqlite_url)
    assert code == 2 and "directory" in err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.xdist_group("demo-lab")  # the demo's lab binds 127.20/16, as the browser tests' may
def test_demo_registers_the_lab_watches_it_and_stops_it_on_sigterm(sqlite_url: str):
    port = _free_port()
    env = {**os.environ, "FLEETWARDEN_DB": sqlite_url, "COLUMNS": "200"}
    demo = subprocess.Popen(  # the demo as `make run` starts it, serving
        [sys.executable, "-m", "fleetwarden", "demo", "--devices", "40", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while not _connects("127.0.0.1", port):
            assert demo.poll() is None and time.monotonic() < deadline, "demo did not serve"
            time.sleep(0.3)
        code, out, _ = _lab("truth", "--format", "json", db=sqlite_url)
        truth = json.loads(out)
        listed = run_cli("devices", "list", "--format", "json", "--limit", "1000",
                         db=sqlite_url)
        assert listed.returncode == 0, listed.stderr
        serials = {d["serial"] for d in json.loads(listed.stdout)}
        registered = {d["serial"] for d in truth if d["registered"]}
        shadow = {d["serial"] for d in truth if not d["registered"]}
        assert registered <= serials
        assert not shadow & serials
        first = next(d for d in truth if d["services"][0]["transport"] == "tcp")
        assert _connects(first["ip"], first["services"][0]["port"])
        watched = run_cli("discover", "schedule", "list", "--format", "json", db=sqlite_url)
        segments = {d["segment"] for d in truth if d["segment"]}
        assert {s["segment"] for s in json.loads(watched.stdout)} == segments
        demo.send_signal(signal.SIGTERM)
        output, _ = demo.communicate(timeout=60)
        assert demo.returncode == 128 + signal.SIGTERM, output
        assert "lab stopped" in output
        code, out, _ = _lab("status", db=sqlite_url)
        assert "no lab is running" in out
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        _lab("down", db=sqlite_url)


def test_netns_mode_puts_devices_behind_veths_with_their_macs(sqlite_url: str):
    if os.geteuid() != 0 or not Path("/usr/sbin/ip").exists() and not Path("/sbin/ip").exists():
        pytest.skip("--netns needs root and iproute2")
    bind = f"198.{18 + _worker % 2}.0.0/16"
    code, out, err = _lab("up", "--detach", "--netns", "--count", "4", "--bind", bind,
                          db=sqlite_url)
    assert code == 0, err
    state = json.loads(_lab("status", "--json", db=sqlite_url)[1])
    hub, pid = state["netns_hub"], state["pid"]
    try:
        truth = json.loads(_lab("truth", "--format", "json", db=sqlite_url)[1])
        device = next(d for d in truth if any(s["service"] == "http" for s in d["services"]))
        port = next(s["port"] for s in device["services"] if s["service"] == "http")
        assert f"ip netns exec {hub}" in out
        fetched = subprocess.run(
            ["ip", "netns", "exec", hub, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
             "--max-time", "5", f"http://{device['ip']}:{port}/"],
            capture_output=True, text=True, check=False)
        assert fetched.stdout in {"200", "401"}, fetched.stderr
        neighbours = subprocess.run(["ip", "-n", hub, "neigh", "show"], capture_output=True,
                                    text=True, check=True).stdout
        assert device["mac"] in neighbours.lower()
        host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True,
                                    check=True).stdout
        assert device["mac"] not in host_links.lower()  # nothing of the lab in the host
    finally:
        _lab("down", db=sqlite_url)
    assert _gone(pid)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert hub not in left and f"fwlab-{pid}" not in left


def test_a_lab_larger_than_the_open_files_limit_spreads_over_processes(sqlite_url: str):
    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4400, 4400))

    env = {**os.environ, "FLEETWARDEN_DB": sqlite_url}
    done = subprocess.run(
        [sys.executable, "-m", "fleetwarden", "lab", "up", "--detach", "--count", "150",
         "--bind", BIND, "--scenario", "large-force"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
        preexec_fn=low_limit)
    assert done.returncode == 0, done.stderr
    try:
        state = json.loads(_lab("status", "--json", db=sqlite_url)[1])
        if "processes" not in state:
            pytest.skip("root may lift the open-files limit here; no need to spread")
        assert state["processes"] >= 2
        truth = json.loads(_lab("truth", "--format", "json", db=sqlite_url)[1])
        assert len(truth) == 150
        tcp = [(d["ip"], s["port"]) for d in truth for s in d["services"]
               if s["transport"] == "tcp"]
        assert all(_connects(ip, port) for ip, port in tcp)
        children = [int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
                    if _parent(p) == state["pid"]]
        assert len(children) == state["processes"] - 1
    finally:
        _lab("down", db=sqlite_url)
    assert all(_gone(pid) for pid in [state["pid"], *children])


def _parent(stat: Path) -> int:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def test_certificates_always_match_the_running_plan(sqlite_url: str):
    import ssl
    from datetime import UTC, datetime

    from cryptography import x509

    for seed in ("1", "2"):
        code, _, err = _lab("up", "--detach", "--count", "40", "--bind", BIND, "--seed", seed,
                            db=sqlite_url)
        assert code == 0, err
        try:
            truth = json.loads(_lab("truth", "--format", "json", db=sqlite_url)[1])
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            ctx.set_ciphers("ALL:@SECLEVEL=0")
            checked = 0
            for device in truth:
                port = next((s["port"] for s in device["services"] if s["service"] == "https"),
                            None)
                if port is None:
                    continue
                with socket.create_connection((device["ip"], port), 5) as raw, \
                        ctx.wrap_socket(raw) as tls:
                    cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
                expired = cert.not_valid_after_utc < datetime.now(UTC)
                assert expired == ("expired_certificate" in device["weaknesses"]), device["ip"]
                assert (cert.issuer == cert.subject) == (
                    "self_signed_certificate" in device["weaknesses"]), device["ip"]
                checked += 1
            assert checked
        finally:
            _lab("down", db=sqlite_url)


def test_ttl_must_be_sensible(sqlite_url: str):
    for ttl in ("inf", "1e300", "0", "31d"):
        code, _, err = _lab("up", "--ttl", ttl, "--count", "2", "--bind", BIND, db=sqlite_url)
        assert code == 2 and "--ttl" in err, (ttl, err)
