"""A tenant whose scan scope covers every lab address the test harness hands out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fleetwarden.domain.records import RecordKind
from fleetwarden.services import registry
from tests.integration.helpers import Env, make_env

#: Every address ``tests.integration.lab.harness.next_ip`` hands out.
SCOPE = "127.76.0.0/14"


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    """A migrated database, a tenant, site HQ and segment ``lab`` covering ``SCOPE``."""
    e = make_env(database_url)
    registry.create(e.platform, e.admin, RecordKind.SITE, {"name": "HQ"})
    registry.create(e.platform, e.admin, RecordKind.SEGMENT,
                    {"name": "lab", "cidrs": [SCOPE], "site": "HQ"})
    yield e
    e.app.engine.dispose()
