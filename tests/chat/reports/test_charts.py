"""The reports' SVG charts (chat/reports/charts.py): parsed back with xml.etree, checked
for structure (role, title, fixed viewBox, one mark per value with its data), for text
that stays text, and for the edges: no data, one point, zeros, huge numbers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chat.reports import charts
from chat.reports.charts import Series

NS = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script> & \'q\' \x01'


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == NS + "svg"
    assert root.get("role") == "img"
    if "chart-hbars" in (root.get("class") or ""):  # as tall as its groups need
        assert re.fullmatch(rf"0 0 {charts.WIDTH} \d+", root.get("viewBox") or "")
    else:
        assert root.get("viewBox") in {f"0 0 {charts.WIDTH} {charts.HEIGHT}",
                                       f"0 0 {charts.WIDTH} {charts.HEATMAP_HEIGHT}"}
    first = root[0]
    assert first.tag == NS + "title" and first.text
    # The same title is drawn, visibly, across the top.
    shown = root.find(f"{NS}text[@class='chart-title']")
    assert shown is not None and shown.text and first.text.startswith(shown.text.rstrip("…"))
    return root


def marks(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("data-series") is not None]


def visible_text(root: ET.Element) -> list[str]:
    """Each ``<text>``'s words, its lines (``<tspan>``) joined by a space."""
    return [" ".join(t for t in e.itertext() if t) for e in root.iter(NS + "text")]


def x_label_lines(root: ET.Element) -> list[list[str]]:
    """The x axis's labels, each as its lines."""
    axis = next(g for g in root.iter(NS + "g") if g.get("class") == "axis x")
    return [[t.text or "" for t in e.iter(NS + "tspan")] or [e.text or ""] for e in axis.iter(NS + "text")]


def assert_self_contained(svg: str) -> None:
    root = ET.fromstring(svg)
    for element in root.iter():
        assert element.tag not in {NS + "script", NS + "foreignObject", NS + "image", NS + "use", NS + "a"}
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert "href" not in name.lower()
            assert "url(" not in value
    assert "<script" not in svg


ALL_KINDS = {
    "bars": lambda labels, series: charts.bars("T", labels, series),
    "hbars": lambda labels, series: charts.bars("T", labels, series, horizontal=True),
    "lines": lambda labels, series: charts.lines("T", labels, series),
    "stacked": lambda labels, series: charts.stacked_bars("T", labels, series),
}


def test_bars_carry_x_series_and_value_per_mark() -> None:
    svg = charts.bars("Tickets per day", ["2026-11-01", "2026-11-02"],
                      [Series("created", "Created", [4, 2]), Series("closed", "Closed", [1, 3])])
    root = parse(svg)
    assert root.findtext(NS + "title") == "Tickets per day"
    found = {(m.get("data-x"), m.get("data-series")): m.get("data-value") for m in marks(root)}
    assert found == {("2026-11-01", "created"): "4", ("2026-11-02", "created"): "2",
                     ("2026-11-01", "closed"): "1", ("2026-11-02", "closed"): "3"}
    # Each mark has its tooltip; the legend names both series.
    assert all(m.findtext(NS + "title") for m in marks(root))
    assert {"Created", "Closed"} <= set(visible_text(root))
    # Taller bar for the bigger value, both standing on the same baseline.
    by = {(m.get("data-x"), m.get("data-series")): m for m in marks(root)}
    four, two = by[("2026-11-01", "created")], by[("2026-11-02", "created")]
    assert float(four.get("height", 0)) == pytest.approx(2 * float(two.get("height", 0)))
    assert float(four.get("y", 0)) + float(four.get("height", 0)) == pytest.approx(
        float(two.get("y", 0)) + float(two.get("height", 0)))
    assert_self_contained(svg)


def test_keys_are_the_marks_x_when_the_labels_are_for_people() -> None:
    root = parse(charts.bars("By agent", ["Anna", "Boris"], [Series("created", "Created", [1, 2])], keys=["3", "5"]))
    assert sorted(m.get("data-x") or "" for m in marks(root)) == ["3", "5"]
    assert {"Anna", "Boris"} <= set(visible_text(root))


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_a_label_with_a_script_stays_text(kind: str) -> None:
    svg = ALL_KINDS[kind]([EVIL, "b"], [Series(EVIL, EVIL, [1, 2]), Series("s", "S", [1, 1])])
    root = parse(svg)
    assert_self_contained(svg)
    shown = [t for t in visible_text(root) if "script" in t]
    assert shown and all(t.startswith('<script>alert("x"') for t in shown)  # shortened on the axis, as text
    assert {m.get("data-x") for m in marks(root)} == {'<script>alert("x")</script> & \'q\' ', "b"}
    assert '<script>alert("x")</script> & \'q\' ' in {m.get("data-series") for m in marks(root)}


def test_titles_and_heatmap_labels_are_escaped_too() -> None:
    svg = charts.heatmap(EVIL, ["0", "1"], [EVIL, "Tue"], [[1, 0], [None, 5]], key=EVIL)
    root = parse(svg)
    assert_self_contained(svg)
    assert root.findtext(NS + "title") == '<script>alert("x")</script> & \'q\''


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_no_data_draws_axes_and_says_so(kind: str) -> None:
    for labels, values in (([], []), (["a", "b"], [None, None])):
        root = parse(ALL_KINDS[kind](labels, [Series("n", "N", values)]))
        assert marks(root) == []
        assert charts.NO_DATA in visible_text(root)


def test_empty_histogram_and_heatmap() -> None:
    root = parse(charts.histogram("Messages per resolution", [], []))
    assert marks(root) == [] and charts.NO_DATA in visible_text(root)
    root = parse(charts.heatmap("Messages", [str(h) for h in range(24)], ["Mon", "Tue"], [[0] * 24, [None] * 24]))
    assert marks(root) == [] and charts.NO_DATA in visible_text(root)


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_one_point(kind: str) -> None:
    root = parse(ALL_KINDS[kind](["2026-11-01"], [Series("created", "Created", [7])]))
    (mark,) = marks(root)
    assert (mark.get("data-x"), mark.get("data-series"), mark.get("data-value")) == ("2026-11-01", "created", "7")
    assert "2026-11-01" in visible_text(root)


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_zeros_are_data_on_a_round_axis(kind: str) -> None:
    root = parse(ALL_KINDS[kind](["a", "b", "c"], [Series("n", "N", [0, 0, 0])]))
    assert charts.NO_DATA not in visible_text(root)
    assert {"0", "1"} <= set(visible_text(root))
    # A zero bar or segment has no area to click; a line still has its points.
    assert len(marks(root)) == (3 if kind == "lines" else 0)
    if kind == "hbars":  # lying bars show their 0 as a stub and a label
        assert len(list(root.iter(NS + "rect"))) == 3
        assert visible_text(root).count("0") >= 3


def test_large_numbers_get_round_short_ticks() -> None:
    root = parse(charts.bars("Messages", ["2025", "2026"], [Series("messages", "Messages", [1_234_567_890, 2_000_000])]))
    labels = [t for t in visible_text(root) if t[:1].isdigit() and t not in {"2025", "2026"}]
    assert labels == ["0", "500M", "1G", "1.5G"]
    (big,) = [m for m in marks(root) if m.get("data-x") == "2025"]
    assert big.get("data-value") == "1234567890"


@pytest.mark.parametrize(("top", "unit", "expected"), [
    (0, "number", [0, 1]),
    (3, "number", [0, 1, 2, 3]),
    (7, "number", [0, 2, 4, 6, 8]),
    (99, "number", [0, 20, 40, 60, 80, 100]),
    (0.45, "number", [0, 0.2, 0.4, 0.6]),
    (0.37, "percent", [0, 0.2, 0.4, 0.6, 0.8, 1]),
    (5400, "duration", [0, 1800, 3600, 5400]),
    (100_000, "duration", [0, 21600, 43200, 64800, 86400, 108000]),
])
def test_ticks_are_round(top: float, unit: charts.Unit, expected: list[float]) -> None:
    values, _ = charts.ticks(top, unit)
    assert values == pytest.approx(expected)


def test_tick_labels_by_unit() -> None:
    root = parse(charts.lines("First response", ["a", "b"], [Series("p90", "p90", [5400, 600])], unit="duration"))
    assert {"0", "30m", "1h", "1h 30m"} <= set(visible_text(root))
    root = parse(charts.bars("Met", ["Gold"], [Series("met", "Met", [0.875])], unit="percent"))
    assert {"0%", "20%", "100%"} <= set(visible_text(root))
    (mark,) = marks(root)
    assert mark.findtext(NS + "title") == "Gold: 87.5%"


def test_stacked_segments_sit_on_each_other() -> None:
    root = parse(charts.stacked_bars("Shares", ["Anna"], [Series("good", "Good", [3]), Series("none", "No rating", [1]),
                                                          Series("bad", "Bad", [2])]))
    segments = {m.get("data-series"): m for m in marks(root)}
    assert set(segments) == {"good", "none", "bad"}
    good, none, bad = segments["good"], segments["none"], segments["bad"]
    assert float(good.get("y", 0)) == pytest.approx(float(none.get("y", 0)) + float(none.get("height", 0)))
    assert float(none.get("y", 0)) == pytest.approx(float(bad.get("y", 0)) + float(bad.get("height", 0)))


def test_lines_break_at_missing_values() -> None:
    root = parse(charts.lines("Median", ["1", "2", "3", "4", "5"], [Series("median", "Median", [1, 2, None, 4, 5])]))
    assert len(marks(root)) == 4
    assert len(list(root.iter(NS + "polyline"))) == 2


def test_histogram_buckets() -> None:
    buckets = ["1", "2", "3", "4", "5", "6–10", "11–20", "21+"]
    root = parse(charts.histogram("Messages per resolution", buckets, [5, 3, 0, 1, 0, 2, 0, 1], key="tickets",
                                  label="Tickets"))
    assert [(m.get("data-x"), m.get("data-value")) for m in marks(root)] == [
        ("1", "5"), ("2", "3"), ("4", "1"), ("6–10", "2"), ("21+", "1")]
    assert {m.get("data-series") for m in marks(root)} == {"tickets"}


def test_heatmap_cells() -> None:
    hours = [f"{h:02d}" for h in range(24)]
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    values = [[0] * 24 for _ in days]
    values[0][9] = 10
    values[4][17] = 2
    svg = charts.heatmap("Messages by hour", hours, days, values, key="messages", x_keys=[str(h) for h in range(24)],
                         y_keys=[str(d) for d in range(1, 8)])
    root = parse(svg)
    cells = {(m.get("data-y"), m.get("data-x")): m for m in marks(root)}
    assert set(cells) == {("1", "9"), ("5", "17")}
    assert cells[("1", "9")].get("data-series") == "messages"
    assert cells[("1", "9")].findtext(NS + "title") == "Mon 09: 10"
    assert cells[("1", "9")].get("fill") == charts.HEAT[-1]  # the largest cell is the darkest
    assert cells[("5", "17")].get("fill") != charts.HEAT[-1]
    assert len(list(root.iter(NS + "rect"))) == 7 * 24


def test_mismatched_lengths_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        charts.bars("x", ["a", "b"], [Series("n", "N", [1])])
    with pytest.raises(ValueError):
        charts.bars("x", ["a"], [Series("n", "N", [1])], keys=["a", "b"])
    with pytest.raises(ValueError):
        charts.heatmap("x", ["0"], ["Mon"], [[1, 2]])


def test_colours_are_the_colour_blind_safe_palette() -> None:
    root = parse(charts.bars("x", ["a"], [Series(str(i), str(i), [i + 1]) for i in range(3)]))
    assert [m.get("fill") for m in marks(root)] == list(charts.PALETTE[:3])


@pytest.mark.parametrize("kind", sorted(ALL_KINDS))
def test_a_role_gives_the_same_colour_on_every_chart(kind: str) -> None:
    """Good is green and bad vermillion wherever they stand; neutral is grey; the series
    without a role take the palette in order, which has neither green nor vermillion."""
    series = [Series("bad", "Bad share", [1, 2], role="bad"), Series("created", "Created", [1, 2]),
              Series("good", "Good share", [2, 1], role="good"), Series("none", "No rating", [1, 1], role="neutral"),
              Series("open", "Open", [3, 1])]
    root = parse(ALL_KINDS[kind](["a", "b"], series))
    fills = {m.get("data-series"): m.get("fill") for m in marks(root)}
    assert fills == {"bad": charts.BAD, "created": charts.PALETTE[0], "good": charts.GOOD, "none": charts.NEUTRAL,
                     "open": charts.PALETTE[1]}
    # The legend's swatches agree with the marks (a line's swatch is a line).
    legend = next(g for g in root.iter(NS + "g") if g.get("class") == "legend")
    swatches = [e.get("fill") or e.get("stroke") for e in legend if e.tag in {NS + "rect", NS + "line"}]
    assert swatches == [charts.BAD, charts.PALETTE[0], charts.GOOD, charts.NEUTRAL, charts.PALETTE[1]]
    assert not {charts.GOOD, charts.BAD, charts.NEUTRAL} & set(charts.PALETTE)


def test_the_ratings_order_is_green_grey_vermillion() -> None:
    assert charts.colours([Series("g", "Good", [], "good"), Series("n", "No rating", [], "neutral"),
                           Series("b", "Bad", [], "bad")]) == [charts.GOOD, charts.NEUTRAL, charts.BAD]


def test_a_single_series_has_no_legend_but_a_visible_title() -> None:
    root = parse(charts.lines("Open tickets at the end of each day", ["1", "2"], [Series("backlog", "Open", [3, 4])]))
    assert not [g for g in root.iter(NS + "g") if g.get("class") == "legend"]
    assert "Open tickets at the end of each day" in visible_text(root)


def test_long_x_labels_wrap_onto_two_lines_within_their_slots() -> None:
    labels = ["First response, wall clock", "First response, business time", "First agent answer in live chats",
              "Resolution, business time"]
    root = parse(charts.bars("Times", labels, [Series("median", "Median", [60, 120, 30, 900])], unit="duration"))
    drawn = x_label_lines(root)
    assert len(drawn) == 4  # none skipped
    slot = (charts.WIDTH - charts.LEFT - charts.RIGHT) / 4
    for lines in drawn:
        assert len(lines) == 2
        assert all(len(line) * charts.CHAR_WIDTH <= slot - 8 for line in lines)  # no overlap with the neighbours
    assert drawn[0] == ["First response, wall", "clock"]
    # A label too long for two lines ends in "…"; the whole of it is in the mark's tooltip.
    root = parse(charts.bars("x", ["a", "b", "c", "d", "Configuration request of a very long name indeed"],
                             [Series("n", "N", [1, 1, 1, 1, 1])]))
    last = x_label_lines(root)[-1]
    assert len(last) == 2 and last[-1].endswith("…")
    assert [m.findtext(NS + "title") for m in marks(root)][-1] == "Configuration request of a very long name indeed: 1"


def test_wrap() -> None:
    assert charts.wrap("Reopened", 12) == ["Reopened"]
    assert charts.wrap("premium plan / configuration_request", 24) == ["premium plan /", "configuration_request"]
    assert charts.wrap("Configuration request", 12) == ["Configurati…", "request"]
    assert charts.wrap("one two three four five", 8) == ["one two", "three f…"]
    assert charts.wrap("", 8) == [""]
    for label in ("a b c d e f g", "x" * 40, "Northwind Logistics and Partners GmbH & Co. KG"):
        lines = charts.wrap(label, 10)
        assert len(lines) <= 2 and all(len(line) <= 10 for line in lines)


def test_horizontal_bars_name_each_group_and_tell_zero_from_not_applicable() -> None:
    policies = ["premium plan / configuration_request", "basic plan", "regular plan / technical_question"]
    series = [Series("first_response_share", "First response: met share", [0.5, 0.0, 1.0]),
              Series("next_response_share", "Next response: met share", [None, None, 0.25])]
    svg = charts.bars("Met share per policy", policies, series, unit="percent", horizontal=True)
    root = parse(svg)
    assert_self_contained(svg)
    shown = visible_text(root)
    assert "premium plan / configuration_request" in shown  # on two lines, whole
    assert {"50%", "0%", "100%", "25%"} <= set(shown)
    assert shown.count("n/a") == 2  # the target nobody had: no bar, said so
    found = {(m.get("data-x"), m.get("data-series")): float(m.get("data-value") or 0) for m in marks(root)}
    assert set(found) == {(policies[0], "first_response_share"), (policies[2], "first_response_share"),
                          (policies[2], "next_response_share")}
    stubs = [e for e in root.iter(NS + "rect") if e.get("class") == "stub"]
    assert len(stubs) == 1 and stubs[0].findtext(NS + "title") == "basic plan · First response: met share: 0%"
    # Longer bar for the bigger share, all from the same left edge; taller with more groups.
    by = {(m.get("data-x"), m.get("data-series")): m for m in marks(root)}
    full, half = by[(policies[2], "first_response_share")], by[(policies[0], "first_response_share")]
    assert float(full.get("width", 0)) == pytest.approx(2 * float(half.get("width", 0)))
    assert full.get("x") == half.get("x")
    more = parse(charts.bars("x", [str(i) for i in range(20)], [Series("n", "N", list(range(20)))], horizontal=True))
    assert int((more.get("viewBox") or "").split()[-1]) > charts.HEIGHT


def test_a_chart_may_draw_some_rows_of_its_table_with_roles() -> None:
    from chat.reports.tables import Chart, Column, Table, _svg
    table = Table("overall", "Overall", (Column("measure", "Measure", "text"), Column("median", "Median", "duration")),
                  [{"measure": "first", "median": 60}, {"measure": "resolution", "median": 86400 * 3}])
    root = parse(_svg(Chart("overall", "bars", "measure", ("median",), "First", unit="duration", only=("first",),
                            roles={"median": "good"}), table))
    (mark,) = marks(root)
    assert (mark.get("data-x"), mark.get("fill")) == ("first", charts.GOOD)
    assert "1m" in visible_text(root)  # the axis is the first response's, not the resolution's


def test_many_labels_are_thinned_on_the_axis() -> None:
    days = [f"2026-01-{d:02d}" for d in range(1, 32)] + [f"2026-02-{d:02d}" for d in range(1, 29)]
    root = parse(charts.bars("Year", days, [Series("n", "N", list(range(len(days))))]))
    shown = [t for t in root.iter(NS + "text") if (t.text or "").startswith("2026-")]
    assert 1 < len(shown) <= charts.MAX_X_LABELS
    # Far enough apart not to overlap.
    xs = [float(t.get("x", 0)) for t in shown]
    assert min(b - a for a, b in pairwise(xs)) >= len("2026-01-01") * charts.CHAR_WIDTH
    assert len(marks(root)) == len(days) - 1  # the zero of the first day is no bar


@settings(max_examples=150, deadline=None)
@given(labels=st.lists(st.text(max_size=30), max_size=8),
       data=st.data(),
       unit=st.sampled_from(["number", "percent", "duration"]))
def test_any_input_parses_and_keeps_its_text(labels: list[str], data: st.DataObject, unit: charts.Unit) -> None:
    numbers = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 10**15))
    values = data.draw(st.lists(numbers, min_size=len(labels), max_size=len(labels)))
    for make in (charts.bars, charts.lines, charts.stacked_bars, charts.horizontal_bars):
        svg = make(labels[0] if labels else "", labels, [Series("k", "K", values)], unit=unit)
        root = parse(svg)
        assert_self_contained(svg)
        for mark in marks(root):
            assert float(mark.get("data-value", "")) >= 0
