"""``users password``, ``users totp`` and ``users unlock`` as an admin runs them: the
password from a file or the prompt, the TOTP secret shown once, nothing secret in the
audit log, clear one-line errors."""

from __future__ import annotations

from pathlib import Path

from tests.integration.helpers import run_cli


def _init(db: str) -> None:
    r = run_cli("init", "--tenant", "Northshire", "--admin", "iso@northshire.example", db=db)
    assert r.returncode == 0, r.stderr


def test_password_totp_unlock_and_audit(database_url: str, tmp_path: Path) -> None:
    _init(database_url)
    secret_file = tmp_path / "pw"
    secret_file.write_text("a sturdy pass phrase\n")
    r = run_cli("users", "password", "iso@northshire.example", "--password-file",
                str(secret_file), db=database_url)
    assert r.returncode == 0, r.stderr
    r = run_cli("users", "password", "iso@northshire.example", db=database_url,
                stdin="another sturdy phrase\nanother sturdy phrase\n")
    assert r.returncode == 0, r.stderr
    assert "another sturdy phrase" not in r.stdout + r.stderr
    r = run_cli("users", "totp", "iso@northshire.example", db=database_url)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(": ", 1) for line in r.stdout.splitlines() if ": " in line)
    secret = lines["totp-secret"]
    assert len(secret) == 32 and lines["otpauth-uri"].startswith("otpauth://totp/")
    assert run_cli("users", "unlock", "iso@northshire.example", db=database_url).returncode == 0
    audit = run_cli("audit", "export", db=database_url)
    assert audit.returncode == 0, audit.stderr
    for action in ("user.password_set", "user.totp_enrol", "user.unlock"):
        assert action in audit.stdout
    for leaked in (secret, "sturdy", "$argon2"):
        assert leaked not in audit.stdout


def test_refusals_are_one_line(database_url: str, tmp_path: Path) -> None:
    _init(database_url)
    short = tmp_path / "short"
    short.write_text("short\n")
    r = run_cli("users", "password", "iso@northshire.example", "--password-file", str(short),
                db=database_url)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "12 to 256" in r.stderr
    r = run_cli("users", "totp", "nobody@northshire.example", db=database_url)
    assert r.returncode != 0 and "not found" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("users", "password", "iso@northshire.example", "--password-file",
                str(tmp_path / "missing"), db=database_url)
    assert r.returncode == 2 and "cannot read it" in r.stderr
