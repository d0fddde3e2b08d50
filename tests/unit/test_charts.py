"""Dashboard charts: well-formed SVG, presentation attributes only (the page's CSP forbids
inline style and script), every text escaped, and shapes sized by their values."""

from __future__ import annotations

from datetime import date
from xml.etree.ElementTree import Element  # noqa: S405 - only the type; parsing is defusedxml

import pytest
from defusedxml.ElementTree import fromstring
from markupsafe import Markup

from fleetwarden.entrypoints.web import charts
from fleetwarden.entrypoints.web.charts import Bar, Series, Slice

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = '<script>alert("x")</script>" onload="alert(1)'
ALLOWED = {"svg", "title", "g", "a", "rect", "text", "line", "path", "circle", "polyline"}


def _tree(svg: Markup) -> Element:
    # the markup is inline SVG without a namespace declaration; XML parsing needs one
    root: Element = fromstring(str(svg).replace("<svg ", f'<svg xmlns="{NS[1:-1]}" ', 1))
    return root


def _elements(svg: Markup) -> list[Element]:
    return list(_tree(svg).iter())


def _tag(e: Element) -> str:
    return e.tag.removeprefix(NS)


def _inert(svg: Markup) -> None:
    for e in _elements(svg):
        assert _tag(e) in ALLOWED, e.tag
        for name in e.attrib:
            assert name != "style" and not name.lower().startswith("on"), (e.tag, name)


def test_bars_escape_labels_and_links() -> None:
    svg = charts.bars([Bar(HOSTILE, 3, href=f"/ui/devices?q={HOSTILE}&type=x")],
                      title=HOSTILE)
    _inert(svg)
    assert "<script" not in svg and 'onload="' not in svg
    link = next(e for e in _elements(svg) if _tag(e) == "a")
    assert link.attrib["href"] == f"/ui/devices?q={HOSTILE}&type=x"
    titles = [e.text for e in _elements(svg) if _tag(e) == "title"]
    assert titles == [HOSTILE, f"{HOSTILE}: 3"]
    label = next(e for e in _elements(svg) if _tag(e) == "text")
    assert label.text == HOSTILE[:charts.LABEL_CHARS - 1] + "\u2026"


def test_bar_lengths_follow_the_values_and_the_part_is_drawn_inside() -> None:
    svg = charts.bars([Bar("a", 100, part=25), Bar("b", 50), Bar("c", 0)], title="t",
                      part_label="overdue")
    _inert(svg)
    rects = [e for e in _elements(svg) if _tag(e) == "rect"]
    widths = [float(r.attrib["width"]) for r in rects]
    full, part, half, zero = widths
    assert half == pytest.approx(full / 2) and part == pytest.approx(full / 4)
    assert zero == 0
    titles = [e.text for e in _elements(svg) if _tag(e) == "title"]
    assert "a: 100 (25 overdue)" in titles and "b: 50" in titles


def test_bars_on_a_fixed_scale_and_with_no_items() -> None:
    svg = charts.bars([Bar("ncsp-iot", 50.0, text="50.0 %")], title="t", scale_to=100)
    (rect,) = [e for e in _elements(svg) if _tag(e) == "rect"]
    label, figure = (e for e in _elements(svg) if _tag(e) == "text")
    # half of the track between the label column and room for the widest figure
    track = 420 - float(rect.attrib["x"]) - len("50.0 %") * charts.CHAR_W - 12
    assert float(rect.attrib["width"]) == pytest.approx(track / 2, abs=0.1)
    assert figure.text == "50.0 %"
    # a pale track of the full length behind the bar, the figure at its end: 0 % is
    # an empty track, and the figures of a chart line up
    (line,) = [e for e in _elements(svg) if _tag(e) == "line"
               and e.attrib.get("stroke") == charts.TRACK]
    x0, x1 = float(line.attrib["x1"]), float(line.attrib["x2"])
    assert x0 == float(rect.attrib["x"]) and x1 - x0 == pytest.approx(track, abs=0.1)
    assert float(figure.attrib["x"]) == pytest.approx(x1 + 5, abs=0.1)
    counts = charts.bars([Bar("a", 5)], title="t")
    assert charts.TRACK not in counts  # counts have no fixed scale: no track
    assert ">none</text>" in charts.bars([], title="t")


def test_the_label_column_is_as_wide_as_the_longest_label() -> None:
    """Short labels (P1..P4) leave the bars most of the width; long ones (site names)
    get room for LABEL_CHARS characters, then are cut, whole in the tooltip."""
    def bar_x(svg: Markup) -> float:
        return float(next(e for e in _elements(svg) if _tag(e) == "rect").attrib["x"])

    short = charts.bars([Bar("P1", 69), Bar("P2", 196)], title="t")
    assert bar_x(short) < 30
    site = "Kingsmere Central Police Station"  # 32 characters: shown whole
    long = charts.bars([Bar(site, 13), Bar("HQ", 52)], title="t")
    assert bar_x(long) >= len(site) * charts.CHAR_W
    labels = [e.text for e in _elements(long) if _tag(e) == "text"][::2]
    assert labels == [site, "HQ"]
    longer = site + " and Custody Suite"
    cut = charts.bars([Bar(longer, 3)], title="t")
    assert bar_x(cut) == pytest.approx(bar_x(long))
    texts = [e.text for e in _elements(cut) if _tag(e) == "text"]
    assert texts[0] == longer[:charts.LABEL_CHARS - 1] + "\u2026"
    assert f"{longer}: 3" in [e.text for e in _elements(cut) if _tag(e) == "title"]
    # every figure after its bar stays inside the chart
    for svg in (short, long, cut):
        figures = [e for e in _elements(svg) if _tag(e) == "text"][1::2]
        assert all(float(e.attrib["x"]) + len(e.text or "") * charts.CHAR_W <= 420
                   for e in figures)


def test_a_tiny_count_stays_visible() -> None:
    svg = charts.bars([Bar("big", 1_000_000), Bar("small", 1)], title="t")
    small = [e for e in _elements(svg) if _tag(e) == "rect"][1]
    assert float(small.attrib["width"]) >= 1.5
    assert "1,000,000" in svg


def test_donut_shares_and_legend() -> None:
    svg = charts.donut([Slice("Low", 1, "#0f0", "/x?a=1&b=2"), Slice("High", 3, "#f00"),
                        Slice("Critical", 0, "#900")], title="risk", centre="4")
    _inert(svg)
    paths = [e for e in _elements(svg) if _tag(e) == "path"]
    assert len(paths) == 2  # the empty slice is in the legend only
    texts = [e.text for e in _elements(svg) if _tag(e) == "text"]
    assert texts == ["4", "Low: 1 (25 %)", "High: 3 (75 %)", "Critical: 0 (0 %)"]
    assert 'href="/x?a=1&amp;b=2"' in svg
    # the larger slice takes the long way round (large-arc flag 1)
    assert " 0 1 1 " in paths[1].attrib["d"] and " 0 0 1 " in paths[0].attrib["d"]


def test_donut_of_one_slice_is_a_ring_and_of_nothing_a_grey_ring() -> None:
    whole = charts.donut([Slice("Medium", 5, "#c90"), Slice("High", 0, "#f00")], title="t")
    ring = [e for e in _elements(whole) if _tag(e) == "circle"]
    assert len(ring) == 1 and ring[0].attrib["stroke"] == "#c90"
    empty = charts.donut([Slice("Low", 0, "#0f0")], title="t")
    (grey,) = [e for e in _elements(empty) if _tag(e) == "circle"]
    assert grey.attrib["stroke"] == charts.GRID
    assert "Low: 0 (-)" in empty


def test_line_scales_from_zero_and_labels_the_ends() -> None:
    points = [(date(2026, 11, 1), 10.0), (date(2026, 11, 11), 40.0)]
    svg = charts.line([Series(HOSTILE, points)], title="t", unit="%")
    _inert(svg)
    texts = [e.text for e in _elements(svg) if _tag(e) == "text"]
    assert texts == ["0 %", "100 %", "2026-11-01", "2026-11-11"]
    (poly,) = [e for e in _elements(svg) if _tag(e) == "polyline"]
    (x0, y0), (x1, y1) = (tuple(map(float, p.split(","))) for p in
                          poly.attrib["points"].split())
    assert x0 == 44 and x1 == 320 - 10
    bottom, top = 120 - 20, 8
    assert y0 == pytest.approx(bottom - (bottom - top) * 0.1)
    assert y1 == pytest.approx(bottom - (bottom - top) * 0.4)
    tip = [e.text for e in _elements(svg) if _tag(e) == "title"][1]
    assert tip == f"{HOSTILE}: 40 % on 2026-11-11"


def test_line_of_counts_one_point_and_no_data() -> None:
    svg = charts.line([Series("devices", [(date(2026, 11, 24), 1234.0)])], title="t")
    texts = [e.text for e in _elements(svg) if _tag(e) == "text"]
    assert texts == ["0", "1.2k", "2026-11-24"]
    (dot,) = [e for e in _elements(svg) if _tag(e) == "circle"]
    assert float(dot.attrib["cx"]) == pytest.approx(44 + (320 - 44 - 10) / 2)
    assert "no data yet" in charts.line([Series("x", [])], title="t")


def test_numbers() -> None:
    assert charts.number(1234567) == "1,234,567"
    assert charts.number(33.333) == "33.3"
    assert charts.number(12.0) == "12"
    assert [charts.compact(v) for v in (950, 7598.3, 959_880, 1_500_000, 12.25)] == [
        "950", "7.6k", "960k", "1.5M", "12.2"]
