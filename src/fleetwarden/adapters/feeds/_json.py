"""JSON for feeds: a streaming walk over one big document, or a bounded whole document.

``Members`` streams a top-level object: ordinary members come out whole, and one named
array member comes out item by item, so a feed of 300,000 records never sits in memory.
Tokens come from ijson's C ``basic_parse`` and objects are built here with a depth limit,
because ijson's own ``items`` keeps a prefix string per nesting level: a few hundred KB of
``[[[[...`` costs it memory quadratic in the depth (a 400 KB file took 20+ GB). Each
record is also held to ``Source``'s record limit, counted from ``Source.mark``.

``load_document`` is for formats that must be read whole (VEX documents cross-reference
themselves; an OSV record is small): at most ``limit`` bytes, then ``json.loads``.

Must not: know any feed format, or return anything but plain JSON values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import ijson  # type: ignore[import-untyped]

from fleetwarden.adapters.feeds._source import CHUNK, Source, size_text
from fleetwarden.errors import FeedError

MAX_DEPTH = 64
_CONTAINERS = frozenset({"start_map", "start_array"})
_Event = tuple[str, Any]


class _TooDeep(Exception):
    pass


def json_error_text(exc: BaseException) -> str:
    """The first line of a JSON error (yajl's messages quote the input after it)."""
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:]
    text = re.split(r"\\n|\n", text, maxsplit=1)[0].strip()
    return text[:160] or type(exc).__name__


def _build(ev: str, val: Any, nxt: Callable[[], _Event], depth: int) -> Any:
    if ev == "start_map":
        if depth >= MAX_DEPTH:
            raise _TooDeep
        obj: dict[str, Any] = {}
        while True:
            ev, key = nxt()
            if ev == "end_map":
                return obj
            ev, val = nxt()
            obj[key] = _build(ev, val, nxt, depth + 1) if ev in _CONTAINERS else val
    if ev == "start_array":
        if depth >= MAX_DEPTH:
            raise _TooDeep
        arr: list[Any] = []
        append = arr.append
        while True:
            ev, val = nxt()
            if ev == "end_array":
                return arr
            append(_build(ev, val, nxt, depth + 1) if ev in _CONTAINERS else val)
    return val


class Members:
    """The members of a document's top-level object, one array member streamed."""

    def __init__(self, source: Source, streamed: str) -> None:
        self._source = source
        self._streamed = streamed
        self._where = "the start of the document"
        self.streamed_found = False
        """True once the streamed member was seen as an array (even an empty one)."""

    def _fail(self, detail: str) -> FeedError:
        return FeedError(f"{self._source.path}: {detail}")

    def __iter__(self) -> Iterator[tuple[str, int, Any]]:
        """(key, -1, value) per ordinary member; (key, index, item) per streamed item."""
        events = ijson.basic_parse(self._source, use_float=True, buf_size=CHUNK)
        nxt = events.__next__
        try:
            yield from self._walk(nxt)
        except _TooDeep:
            raise self._fail(f"{self._where}: nested deeper than {MAX_DEPTH} levels; "
                             "refusing it") from None
        except RuntimeError as exc:
            # yajl reports a short document itself; should the token stream simply
            # stop, PEP 479 turns that StopIteration into this RuntimeError.
            if not isinstance(exc.__cause__, StopIteration):
                raise
            raise self._fail(f"malformed JSON: the document ends early in {self._where}"
                             ) from None
        except (ijson.JSONError, ValueError) as exc:
            raise self._fail(f"malformed JSON in {self._where}: {json_error_text(exc)}"
                             ) from None

    def _walk(self, nxt: Callable[[], _Event]) -> Iterator[tuple[str, int, Any]]:
        source = self._source
        source.mark("the document header")
        ev, _ = nxt()
        if ev != "start_map":
            raise self._fail("expected a JSON object at the top level")
        while True:
            self._where = "the document header"
            ev, key = nxt()
            if ev == "end_map":
                break
            self._where = f"member {key[:40]!r}"
            ev, val = nxt()
            if key == self._streamed and ev == "start_array":
                self.streamed_found = True
                index = 0
                while True:
                    self._where = f"{key}[{index}]"
                    source.mark(self._where)
                    ev, val = nxt()
                    if ev == "end_array":
                        break
                    item = _build(ev, val, nxt, 2) if ev in _CONTAINERS else val
                    yield key, index, item
                    index += 1
                source.mark("the document trailer")
            else:
                yield key, -1, _build(ev, val, nxt, 1) if ev in _CONTAINERS else val
        self._where = "the end of the document"
        try:
            nxt()
        except StopIteration:
            return
        raise self._fail("malformed JSON: more data after the top-level object")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(data: bytes) -> Any:
    """Strict UTF-8 JSON (no NaN/Infinity); raises ValueError or RecursionError."""
    return json.loads(data.decode("utf-8"), parse_constant=_reject_constant)


def load_document(source: Source, limit: int) -> Any:
    """The whole (decompressed) document, refused when it is over ``limit`` bytes."""
    source.mark("the document")
    data = source.read_up_to(limit + 1)
    if len(data) > limit:
        raise FeedError(f"{source.path}: larger than {size_text(limit)}; refusing to "
                        "read it whole")
    try:
        return loads(data)
    except RecursionError:
        raise FeedError(f"{source.path}: malformed JSON: nested too deep") from None
    except UnicodeDecodeError:
        raise FeedError(f"{source.path}: not UTF-8 text") from None
    except ValueError as exc:
        raise FeedError(f"{source.path}: malformed JSON: {json_error_text(exc)}") from None
