"""The concrete ``DataReaders``: SBOM files (``adapters/sbom``) and vulnerability feeds
(``adapters/feeds``) behind the port the services use. Imports are lazy: most commands
never read either."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from fleetwarden.domain.vulns import FeedSource, Sbom, Vulnerability
from fleetwarden.ports import FeedData, ReadProgress


class FileDataReaders:
    def read_sbom(self, path: str) -> Sbom:
        from fleetwarden.adapters.sbom import read_sbom

        return read_sbom(Path(path))

    def read_feed(self, path: str, *, skip_bad_records: bool,
                  progress: ReadProgress | None) -> FeedData:
        from fleetwarden.adapters.feeds import read_feed

        return read_feed(path, skip_bad_records=skip_bad_records,
                         progress=progress).as_feed_data()

    def feed_source(self, path: str) -> FeedSource:
        from fleetwarden.adapters.feeds import detect

        return detect(path).source

    def stream_vulnerabilities(self, path: str, *, skip_bad_records: bool,
                               warn: Callable[[str], None],
                               progress: ReadProgress | None) -> Iterator[Vulnerability]:
        from fleetwarden.adapters.feeds import iter_nvd

        return iter_nvd(path, skip_bad_records=skip_bad_records, warn=warn,
                        progress=progress)
