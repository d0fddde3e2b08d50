"""Where fleetwarden keeps its data, read from the environment once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "fleetwarden"


@dataclass(frozen=True, slots=True)
class Settings:
    home: Path
    """Data directory: the SQLite database, the audit signing key, logs."""
    db_url: str

    @property
    def audit_key_path(self) -> Path:
        """Kept outside the database so a database edit cannot re-sign checkpoints."""
        return self.home / "keys" / "audit-ed25519.pem"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"


def load_settings(db_url: str | None = None, home: str | None = None) -> Settings:
    home_path = Path(home or os.environ.get("FLEETWARDEN_HOME") or default_home()).expanduser()
    url = db_url or os.environ.get("FLEETWARDEN_DB") or f"sqlite:///{home_path / 'fleetwarden.db'}"
    return Settings(home=home_path, db_url=url)
