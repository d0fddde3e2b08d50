"""A worker process of ``read_pcap``: reads one byte range of a capture and reports.

Run as ``python -m fleetwarden.adapters.discovery.passive._worker SPEC`` by ``pcap.py``
only; SPEC is JSON (path, the file's ``Format``, the range's index, start and stop).
Standard output carries ``P <bytes read>`` lines as the walk goes, then
``R <length>`` and the pickled ``Part``.

Must not: be run by anything but ``pcap.py``, write anything but its standard output,
or take its arguments from a user.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

from fleetwarden.adapters.discovery.passive._walk import Format, walk_part


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    raw = spec["format"]
    fmt = Format(**{**raw, "interfaces": tuple(tuple(i) for i in raw["interfaces"])})
    out = sys.stdout.buffer
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        out.write(b"P %d\n" % done)
        out.flush()

    part = walk_part(Path(spec["path"]), fmt, spec["index"], spec["start"], spec["stop"],
                     advance)
    blob = pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(b"R %d\n" % len(blob))
    out.write(blob)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
