"""Charts of the reports as SVG strings: data in, markup out, no I/O.

The report use cases (:mod:`chat.reports`) call these and send the SVG in their JSON; the
console inserts it through a ``DOMParser`` (docs/console.md, "Reports"). So the markup
must be safe to show whatever the labels say and stand on its own:

- every piece of text is escaped (:func:`xml.sax.saxutils.escape`) and stripped of the
  characters XML cannot carry (a label with ``\\x01`` would make the whole chart
  unparsable), so a ticket subject or a category name with ``<script>`` is only text;
- no ``<script>``, no event attributes, no ``href``, no external font or image: the
  console's Content-Security-Policy would refuse them anyway, and a chart that needs the
  network is a chart an archived page loses;
- a fixed ``viewBox`` (the page scales it), ``role="img"`` and a ``<title>`` (the chart's
  accessible name; the table under it is the accessible view of the numbers), and the
  same title drawn across the top (``class="chart-title"``): a chart says what it shows;
- every mark (a bar, a segment, a point, a cell) carries ``data-x`` (the x value, as
  the report's table has it), ``data-series`` (the column it shows) and ``data-value``,
  and a ``<title>`` of its own (the tooltip): the page opens the tickets behind a mark
  from the first two, with the table's ``drill`` of that column;
- colours from Okabe and Ito's palette, distinguishable with the common colour-vision
  deficiencies, with white gaps between stacked segments and a dash pattern per line, so
  no series is told apart by hue alone; the heatmap is one hue from light to dark. A
  series may carry a ``role``: ``good`` is always bluish green, ``bad`` always vermillion,
  ``neutral`` grey; the others take the rest of the palette in order (never green or
  vermillion, so those two keep their meaning on every chart);
- x labels that do not fit their slot wrap onto two lines (then are shortened, the whole
  label in the mark's tooltip); a dense axis (days of a month) labels every n-th value;
  a chart of many long names (policies, categories) is better drawn as horizontal bars
  (``bars(horizontal=True)``): the names on the left, each bar's value at its end, a
  0 drawn as a stub labelled 0 and a missing value (a target that does not apply) as
  nothing at all, labelled "n/a".

Values are numbers >= 0 (counts, seconds, shares); ``None`` (and NaN, infinities) is
"no value": no mark is drawn. A negative value is drawn as 0 (no report has one).
Axis ticks are round numbers: 1, 2 or 5 times a power of ten; for durations (seconds),
round spans of time (15m, 1h, 6h, 1d ...); for percentages (0..1), whole per cents.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

Unit = Literal["number", "percent", "duration"]
Role = Literal["good", "bad", "neutral"]

# The page scales the chart to its column (CSS width: 100%); these are its proportions.
WIDTH = 640
HEIGHT = 300
HEATMAP_HEIGHT = 280
LEFT, RIGHT, BOTTOM = 60, 12, 36
LEGEND_LINE = 18
TITLE_HEIGHT = 22  # the visible title's line at the top of every chart
FONT = 'font-family="system-ui, sans-serif" font-size="11"'

# Okabe & Ito (2008), "Color Universal Design". Two of its colours carry a meaning: bluish
# green is good, vermillion bad (and told apart with deuteranopia and protanopia: one reads
# bluish grey, the other brownish yellow); a neutral series ("No rating") is grey. Series
# without a role take the rest in order: blue, orange, reddish purple, sky blue, black,
# yellow (last: it is faint on white).
GOOD = "#009E73"
BAD = "#D55E00"
NEUTRAL = "#8C8C8C"  # 3.4:1 on white, like a mark must be
ROLE_COLOURS: dict[Role, str] = {"good": GOOD, "bad": BAD, "neutral": NEUTRAL}
PALETTE = ("#0072B2", "#E69F00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
DASHES = ("", "6 3", "2 3", "8 3 2 3")
# The heatmap's ramp: one hue (blue), light to dark, so order reads without colour vision.
HEAT = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b")

MAX_X_LABELS = 12  # at most this many labels along the x axis: the others are skipped
MAX_LABEL_CHARS = 18  # on an axis; the full label is in the mark's tooltip
MIN_WRAP_CHARS = 6  # an x slot narrower than this many characters is thinned, not wrapped
NAME_CHARS = 24  # a line of a horizontal chart's names, at most two lines
BAR = 10  # a horizontal bar's thickness (with its gap): one line of its 9-unit value text
MAX_LEGEND_CHARS = 40
CHAR_WIDTH = 6.5  # about, for 11-unit system-ui text: labels may not overlap
NO_DATA = "No data"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Series:
    """One column of a report's table drawn as a chart: ``key`` (the column's key: the
    marks' ``data-series``), ``label`` (the legend's text) and one value per x label."""

    key: str
    label: str
    values: Sequence[float | None]
    role: Role | None = None  # good (green), bad (vermillion), neutral (grey); None: by position


def colours(series: Sequence[Series]) -> list[str]:
    """Each series' colour: its role's, or the next of the palette (counting only the
    series without a role)."""
    out, next_ = [], 0
    for s in series:
        if s.role is not None:
            out.append(ROLE_COLOURS[s.role])
        else:
            out.append(PALETTE[next_ % len(PALETTE)])
            next_ += 1
    return out


# -- text and numbers -------------------------------------------------------------------


def text(value: object) -> str:
    """``value`` as XML character data or an attribute value (double-quoted): escaped,
    without the characters XML 1.0 cannot hold."""
    return escape(_NOT_XML.sub("", str(value)), {'"': "&quot;", "'": "&#39;"})


def _short(label: str, most: int = MAX_LABEL_CHARS) -> str:
    return label if len(label) <= most else label[: max(most - 1, 1)] + "…"


def wrap(label: str, most: int, lines: int = 2) -> list[str]:
    """``label`` in at most ``lines`` lines of at most ``most`` characters, broken between
    words; a word longer than a line, and the last line when the label does not fit, end
    in "…" (the whole label is in the mark's tooltip)."""
    most = max(most, 2)
    groups: list[list[str]] = []
    for word in label.split():
        if groups and len(" ".join([*groups[-1], word])) <= most:
            groups[-1].append(word)
        else:
            groups.append([word])
    if len(groups) > lines:
        groups = [*groups[: lines - 1], [" ".join(w for g in groups[lines - 1:] for w in g) + " …"]]
    return [_short(" ".join(g), most) for g in groups] or [""]


LARGEST = 1e100  # beyond any count or duration; keeps the axis' arithmetic finite


def _clean(value: float | None) -> float | None:
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return None
    return min(max(float(value), 0.0), LARGEST)


def _number(value: float, decimals: int = 0) -> str:
    """1234 -> "1,234"; 2_500_000 -> "2.5M": short enough for an axis."""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e4, "k")):
        if abs(value) >= size:
            scaled = value / size
            return f"{scaled:,.1f}".removesuffix(".0") + suffix
    return f"{value:,.{decimals}f}"


def duration(seconds: float) -> str:
    """A span of time as people read it: "45s", "12m", "3h 05m", "2d 4h"."""
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def value_text(value: float, unit: Unit) -> str:
    """A mark's value in its tooltip."""
    if unit == "percent":
        return f"{value * 100:.1f}%".replace(".0%", "%")
    if unit == "duration":
        return duration(value)
    return _number(value, 0 if value == int(value) else 2)


# -- axes -------------------------------------------------------------------------------

# Round spans of time for a duration axis, in seconds: 1s .. 30s, 1m .. 30m, 1h .. 12h, days.
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
               86400, 172800, 432000, 604800, 1209600, 2592000)


def ticks(top: float, unit: Unit = "number", count: int = 5) -> tuple[list[float], int]:
    """Round tick values from 0 covering ``top`` with about ``count`` steps, and the
    decimals their labels need. The last tick is >= ``top``; all zeros (or nothing) get
    an axis of one round unit (1, 100 %, 1 minute)."""
    if top <= 0 or (unit == "percent" and top <= 1):
        top = {"number": 1.0, "percent": 1.0, "duration": 60.0}[unit]
    if unit == "percent":
        step = 0.2 if top <= 1 else _nice_step(top / count)
        decimals = 0
    elif unit == "duration":
        wanted = max(top, 1) / count
        step = next((float(s) for s in _TIME_STEPS if s >= wanted), _nice_step(wanted / 86400) * 86400)
        decimals = 0
    else:
        step = _nice_step(max(top, 1) / count)
        step = max(step, 1.0) if top >= 1 else step
        decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    steps = max(1, math.ceil(round(top / step, 9)))
    return [round(i * step, 12) for i in range(steps + 1)], decimals


def _nice_step(raw: float) -> float:
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for nice in (1, 2, 5, 10):
        if raw <= nice * magnitude * (1 + 1e-9):
            return float(nice * magnitude)
    return 10.0 * magnitude


def tick_label(value: float, unit: Unit, decimals: int) -> str:
    if unit == "percent":
        return f"{value * 100:.0f}%"
    if unit == "duration":
        return duration(value) if value else "0"
    return _number(value, decimals)


# -- the frame every xy chart shares ----------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    top: float  # y of the plot's top edge
    bottom: float
    left: float
    right: float
    peak: float  # the value at the top edge

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * (value / self.peak if self.peak else 0)

    def slot(self, index: int, count: int) -> tuple[float, float]:
        """The x extent of label ``index`` of ``count``."""
        width = (self.right - self.left) / max(count, 1)
        return self.left + index * width, width


def _f(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _open(title: str, height: int, kind: str) -> list[str]:
    name = _NOT_XML.sub("", title).strip() or "Chart"  # never nameless
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'class="chart chart-{kind}" {FONT}>',
        f"<title>{text(name)}</title>",
        f'<text class="chart-title" x="4" y="15" font-size="13" font-weight="600" fill="currentColor">'
        f"{text(_short(name, 90))}</text>",
    ]


def _legend(series: Sequence[Series], line: bool = False) -> tuple[list[str], float]:
    """Swatches and labels across the top, under the title, wrapping; the markup and the
    y where the plot may start."""
    if len(series) < 2:
        return [], TITLE_HEIGHT + 4.0
    out = ['<g class="legend">']
    x, y = float(LEFT), TITLE_HEIGHT + 14.0
    for index, (s, colour) in enumerate(zip(series, colours(series), strict=True)):
        label = _short(s.label, MAX_LEGEND_CHARS)
        width = 22 + CHAR_WIDTH * len(label)
        if x + width > WIDTH - RIGHT and x > LEFT:
            x, y = float(LEFT), y + LEGEND_LINE
        if line:
            dash = DASHES[index % len(DASHES)]
            out.append(f'<line x1="{_f(x)}" y1="{_f(y - 4)}" x2="{_f(x + 14)}" y2="{_f(y - 4)}" stroke="{colour}" '
                       f'stroke-width="2"{_dash(dash)}/>')
        else:
            out.append(f'<rect x="{_f(x)}" y="{_f(y - 9)}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{_f(x + 18)}" y="{_f(y)}" fill="currentColor">{text(label)}</text>')
        x += width + 10
    out.append("</g>")
    return out, y + 10


def _dash(dash: str) -> str:
    return f' stroke-dasharray="{dash}"' if dash else ""


def _axes(frame: _Frame, labels: Sequence[str], unit: Unit, tick_values: list[float], decimals: int) -> list[str]:
    out = ['<g class="axis y">']
    for value in tick_values:
        y = frame.y(value)
        out.append(f'<line x1="{_f(frame.left)}" y1="{_f(y)}" x2="{_f(frame.right)}" y2="{_f(y)}" '
                   f'stroke="currentColor" stroke-opacity="{0.6 if value == 0 else 0.15}"/>')
        out.append(f'<text x="{_f(frame.left - 6)}" y="{_f(y + 4)}" text-anchor="end" fill="currentColor">'
                   f"{text(tick_label(value, unit, decimals))}</text>")
    out.append('</g><g class="axis x">')
    for index, lines_ in _x_labels(labels, frame.right - frame.left):
        x, width = frame.slot(index, len(labels))
        out.append(_text_lines(x + width / 2, frame.bottom + 16, lines_, 'text-anchor="middle"'))
    out.append("</g>")
    return out


def _x_labels(labels: Sequence[str], width: float) -> list[tuple[int, list[str]]]:
    """Which x labels are drawn and their lines: all of them, on one line or wrapped onto
    two, when each fits its slot so; else (a dense axis) every n-th, on one line."""
    if not labels:
        return []
    fits = math.floor((width / len(labels) - 8) / CHAR_WIDTH)  # characters a slot holds
    if fits >= MIN_WRAP_CHARS:
        return [(i, [label] if len(label) <= fits else wrap(label, fits)) for i, label in enumerate(labels)]
    every = _every(labels, width, MAX_X_LABELS)
    return [(i, [_short(label)]) for i, label in enumerate(labels) if i % every == 0]


def _text_lines(x: float, y: float, lines_: Sequence[str], attrs: str, step: float = 13) -> str:
    """One ``<text>`` of one or more lines (``<tspan>`` each), the first on ``y``."""
    if len(lines_) == 1:
        return f'<text x="{_f(x)}" y="{_f(y)}" {attrs} fill="currentColor">{text(lines_[0])}</text>'
    spans = "".join(f'<tspan x="{_f(x)}" y="{_f(y + i * step)}">{text(line)}</tspan>' for i, line in enumerate(lines_))
    return f'<text x="{_f(x)}" y="{_f(y)}" {attrs} fill="currentColor">{spans}</text>'


def _every(labels: Sequence[str], width: float, most: int) -> int:
    """Label every n-th x value so that neither more than ``most`` labels nor overlapping
    ones are drawn."""
    if not labels:
        return 1
    widest = max(len(_short(label)) for label in labels) * CHAR_WIDTH + 10
    fits = max(1, min(most, math.floor(width / widest)))
    return max(1, math.ceil(len(labels) / fits))


def _frame(top: float, height: int, peak: float) -> _Frame:
    return _Frame(top=top, bottom=height - BOTTOM, left=LEFT, right=WIDTH - RIGHT, peak=peak)


def _no_data(frame: _Frame) -> str:
    return (f'<text class="empty" x="{_f((frame.left + frame.right) / 2)}" y="{_f((frame.top + frame.bottom) / 2)}" '
            f'text-anchor="middle" fill="currentColor">{NO_DATA}</text>')


def _mark_data(x_key: str, series: str, value: float) -> str:
    return f'data-x="{text(x_key)}" data-series="{text(series)}" data-value="{_f(value)}"'


def _checked(labels: Sequence[str], keys: Sequence[str] | None, series: Sequence[Series]) -> list[str]:
    keys = list(labels if keys is None else keys)
    if len(keys) != len(labels):
        raise ValueError(f"{len(keys)} keys for {len(labels)} labels")
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"series {s.key!r} has {len(s.values)} values for {len(labels)} labels")
    return keys


def _tooltip(label: str, series: Series, many: bool, value: float, unit: Unit) -> str:
    name = f"{label} · {series.label}" if many else label
    return f"<title>{text(name)}: {text(value_text(value, unit))}</title>"


# -- the charts -------------------------------------------------------------------------


def bars(title: str, labels: Sequence[str], series: Sequence[Series], *, keys: Sequence[str] | None = None,
         unit: Unit = "number", horizontal: bool = False) -> str:
    """Grouped bars: one group per label, one bar per series in it. ``keys`` are the
    marks' ``data-x`` (default: the labels themselves). ``horizontal``: the labels down
    the left side (for many or long names), see :func:`horizontal_bars`."""
    if horizontal:
        return horizontal_bars(title, labels, series, keys=keys, unit=unit)
    return _bars(title, labels, series, keys, unit, gap=0.2, kind="bars")


def histogram(title: str, labels: Sequence[str], counts: Sequence[float | None], *, key: str = "count",
              label: str = "Count", keys: Sequence[str] | None = None) -> str:
    """A distribution: one bar per bucket (``labels``: "1", "2", "6–10", "21+" ...), side by
    side; each bar's ``data-series`` is ``key``."""
    return _bars(title, labels, [Series(key, label, counts)], keys, "number", gap=0.04, kind="histogram")


def _bars(title: str, labels: Sequence[str], series: Sequence[Series], keys: Sequence[str] | None, unit: Unit,
          *, gap: float, kind: str) -> str:
    keys = _checked(labels, keys, series)
    cleaned = [[_clean(v) for v in s.values] for s in series]
    peak = max((v for values in cleaned for v in values if v is not None), default=0.0)
    out = _open(title, HEIGHT, kind)
    legend, top = _legend(series)
    out += legend
    tick_values, decimals = ticks(peak, unit)
    frame = _frame(top + 8, HEIGHT, tick_values[-1])
    out += _axes(frame, labels, unit, tick_values, decimals)
    many = len(series) > 1
    fills = colours(series)
    out.append('<g class="marks">')
    for index, label in enumerate(labels):
        x, width = frame.slot(index, len(labels))
        inner = width * (1 - gap)
        bar = inner / max(len(series), 1)
        for number, (s, values) in enumerate(zip(series, cleaned, strict=True)):
            value = values[index]
            if not value:
                continue  # a zero bar has no area to click; the axis says 0
            y = frame.y(value)
            out.append(
                f'<rect class="mark" x="{_f(x + width * gap / 2 + number * bar)}" y="{_f(y)}" width="{_f(bar)}" '
                f'height="{_f(frame.bottom - y)}" fill="{fills[number]}" '
                f"{_mark_data(keys[index], s.key, value)}>{_tooltip(label, s, many, value, unit)}</rect>"
            )
    out.append("</g>")
    if not any(v is not None for values in cleaned for v in values):
        out.append(_no_data(frame))
    out.append("</svg>")
    return "".join(out)


def horizontal_bars(title: str, labels: Sequence[str], series: Sequence[Series], *,
                    keys: Sequence[str] | None = None, unit: Unit = "number") -> str:
    """Grouped bars lying down: one group per label (top to bottom, in order), its name on
    the left on up to two lines, one bar per series, each with its value written at its
    end. A 0 is a thin stub with its "0" (a target met never is not a target nobody had);
    a missing value draws no bar and says "n/a". The chart is as tall as its groups need
    (the width stays :data:`WIDTH`)."""
    keys = _checked(labels, keys, series)
    cleaned = [[_clean(v) for v in s.values] for s in series]
    peak = max((v for values in cleaned for v in values if v is not None), default=0.0)
    names = [wrap(label, NAME_CHARS) for label in labels]
    widest = max((len(line) for lines_ in names for line in lines_), default=0)
    count = max(len(series), 1)
    group = max(count * BAR, 28 if any(len(n) > 1 for n in names) else 16) + 10
    legend, top = _legend(series)
    top += 6
    plot = group * max(len(labels), 1)
    height = math.ceil(top + plot + 26)
    left = max(float(LEFT), widest * CHAR_WIDTH + 14)
    right = WIDTH - RIGHT - 48.0  # room for the longest value written after its bar
    tick_values, decimals = ticks(peak, unit)
    scale = tick_values[-1] or 1.0

    def x_of(value: float) -> float:
        return left + (right - left) * value / scale

    out = _open(title, height, "hbars")
    out += legend
    bottom = top + plot
    out.append('<g class="axis x">')
    for tick in tick_values:
        x = x_of(tick)
        out.append(f'<line x1="{_f(x)}" y1="{_f(top)}" x2="{_f(x)}" y2="{_f(bottom)}" stroke="currentColor" '
                   f'stroke-opacity="{0.6 if tick == 0 else 0.15}"/>')
        out.append(f'<text x="{_f(x)}" y="{_f(bottom + 16)}" text-anchor="middle" fill="currentColor">'
                   f"{text(tick_label(tick, unit, decimals))}</text>")
    out.append('</g><g class="axis y">')
    for index, lines_ in enumerate(names):
        middle = top + index * group + group / 2
        first = middle + 4 - (len(lines_) - 1) * 6.5
        out.append(_text_lines(left - 6, first, lines_, 'text-anchor="end"'))
    out.append('</g><g class="marks">')
    many = len(series) > 1
    fills = colours(series)
    for index, label in enumerate(labels):
        start = top + index * group + (group - count * BAR) / 2
        for number, (s, values) in enumerate(zip(series, cleaned, strict=True)):
            value = values[index]
            y = start + number * BAR
            if value is None:
                out.append(f'<text class="value absent" x="{_f(left + 4)}" y="{_f(y + BAR - 2)}" font-size="9" '
                           f'fill="currentColor" fill-opacity="0.6">n/a</text>')
                continue
            end = x_of(value)
            tip = _tooltip(label, s, many, value, unit)
            if value:
                out.append(f'<rect class="mark" x="{_f(left)}" y="{_f(y)}" width="{_f(max(end - left, 1))}" '
                           f'height="{BAR - 2}" fill="{fills[number]}" {_mark_data(keys[index], s.key, value)}>'
                           f"{tip}</rect>")
            else:  # no area to click, but there: 0 is an outcome, unlike n/a
                end = left + 2
                out.append(f'<rect class="stub" x="{_f(left)}" y="{_f(y)}" width="2" height="{BAR - 2}" '
                           f'fill="{fills[number]}">{tip}</rect>')
            out.append(f'<text class="value" x="{_f(end + 3)}" y="{_f(y + BAR - 2)}" font-size="9" '
                       f'fill="currentColor">{text(value_text(value, unit))}</text>')
    out.append("</g>")
    if not any(v is not None for values in cleaned for v in values):
        out.append(_no_data(_Frame(top=top, bottom=bottom, left=left, right=right, peak=0)))
    out.append("</svg>")
    return "".join(out)


def stacked_bars(title: str, labels: Sequence[str], series: Sequence[Series], *, keys: Sequence[str] | None = None,
                 unit: Unit = "number") -> str:
    """One bar per label, the series stacked in order from the axis up (the legend's
    order, left to right), a white gap between segments."""
    keys = _checked(labels, keys, series)
    cleaned = [[_clean(v) for v in s.values] for s in series]
    sums = [sum(values[i] or 0.0 for values in cleaned) for i in range(len(labels))]
    out = _open(title, HEIGHT, "stacked")
    legend, top = _legend(series)
    out += legend
    tick_values, decimals = ticks(max(sums, default=0.0), unit)
    frame = _frame(top + 8, HEIGHT, tick_values[-1])
    out += _axes(frame, labels, unit, tick_values, decimals)
    many = len(series) > 1
    fills = colours(series)
    out.append('<g class="marks">')
    for index, label in enumerate(labels):
        x, width = frame.slot(index, len(labels))
        base = 0.0
        for number, (s, values) in enumerate(zip(series, cleaned, strict=True)):
            value = values[index]
            if value is None or value == 0:
                continue  # a zero segment has no area to click
            y_top, y_base = frame.y(base + value), frame.y(base)
            out.append(
                f'<rect class="mark" x="{_f(x + width * 0.1)}" y="{_f(y_top)}" width="{_f(width * 0.8)}" '
                f'height="{_f(y_base - y_top)}" fill="{fills[number]}" stroke="#fff" '
                f'stroke-width="0.75" {_mark_data(keys[index], s.key, value)}>'
                f"{_tooltip(label, s, many, value, unit)}</rect>"
            )
            base += value
    out.append("</g>")
    if not any(v is not None for values in cleaned for v in values):
        out.append(_no_data(frame))
    out.append("</svg>")
    return "".join(out)


def lines(title: str, labels: Sequence[str], series: Sequence[Series], *, keys: Sequence[str] | None = None,
          unit: Unit = "number") -> str:
    """One line per series (a dash pattern each) with a point per value; a missing value
    breaks the line."""
    keys = _checked(labels, keys, series)
    cleaned = [[_clean(v) for v in s.values] for s in series]
    peak = max((v for values in cleaned for v in values if v is not None), default=0.0)
    out = _open(title, HEIGHT, "lines")
    legend, top = _legend(series, line=True)
    out += legend
    tick_values, decimals = ticks(peak, unit)
    frame = _frame(top + 8, HEIGHT, tick_values[-1])
    out += _axes(frame, labels, unit, tick_values, decimals)
    many = len(series) > 1
    out.append('<g class="marks">')
    for number, (s, values, colour) in enumerate(zip(series, cleaned, colours(series), strict=True)):
        dash = DASHES[number % len(DASHES)]
        runs: list[list[str]] = [[]]
        points = []
        for index, value in enumerate(values):
            if value is None:
                runs.append([])
                continue
            x, width = frame.slot(index, len(labels))
            cx, cy = x + width / 2, frame.y(value)
            runs[-1].append(f"{_f(cx)},{_f(cy)}")
            points.append(
                f'<circle class="mark" cx="{_f(cx)}" cy="{_f(cy)}" r="3" fill="{colour}" '
                f"{_mark_data(keys[index], s.key, value)}>{_tooltip(labels[index], s, many, value, unit)}</circle>"
            )
        for run in runs:
            if len(run) > 1:
                out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2"'
                           f"{_dash(dash)}/>")
        out += points
    out.append("</g>")
    if not any(v is not None for values in cleaned for v in values):
        out.append(_no_data(frame))
    out.append("</svg>")
    return "".join(out)


def heatmap(title: str, x_labels: Sequence[str], y_labels: Sequence[str], values: Sequence[Sequence[float | None]],
            *, key: str = "count", x_keys: Sequence[str] | None = None, y_keys: Sequence[str] | None = None,
            unit: Unit = "number") -> str:
    """A grid: ``values[row][column]``, rows ``y_labels`` (e.g. weekdays) and columns
    ``x_labels`` (e.g. hours). Each cell carries ``data-x`` (its column's key),
    ``data-y`` (its row's key) and ``data-series`` (``key``); darker is more, scaled to
    the largest cell; an empty cell (``None`` or 0) is drawn faint and is not a mark."""
    x_keys = list(x_labels if x_keys is None else x_keys)
    y_keys = list(y_labels if y_keys is None else y_keys)
    if len(x_keys) != len(x_labels) or len(y_keys) != len(y_labels) or len(values) != len(y_labels):
        raise ValueError("a heatmap needs one key per label and one row of values per y label")
    for line in values:
        if len(line) != len(x_labels):
            raise ValueError(f"a heatmap row has {len(line)} values for {len(x_labels)} columns")
    cleaned = [[_clean(v) for v in line] for line in values]
    peak = max((v for line in cleaned for v in line if v is not None), default=0.0)
    out = _open(title, HEATMAP_HEIGHT, "heatmap")
    # The row labels (weekday names, in any language) get the room they need on the left.
    widest = max((len(_short(label)) for label in y_labels), default=0) * CHAR_WIDTH + 12
    top, bottom = TITLE_HEIGHT + 6.0, HEATMAP_HEIGHT - 28.0
    left, right = max(float(LEFT), widest), float(WIDTH - RIGHT)
    cell_w = (right - left) / max(len(x_labels), 1)
    cell_h = (bottom - top) / max(len(y_labels), 1)
    out.append('<g class="axis y">')
    for row, label in enumerate(y_labels):
        out.append(f'<text x="{_f(left - 6)}" y="{_f(top + (row + 0.5) * cell_h + 4)}" text-anchor="end" '
                   f'fill="currentColor">{text(_short(label))}</text>')
    out.append('</g><g class="axis x">')
    every = _every(x_labels, right - left, 24)
    for column, label in enumerate(x_labels):
        if column % every == 0:
            out.append(f'<text x="{_f(left + (column + 0.5) * cell_w)}" y="{_f(bottom + 16)}" text-anchor="middle" '
                       f'fill="currentColor">{text(_short(label))}</text>')
    out.append('</g><g class="marks">')
    for row, y_label in enumerate(y_labels):
        for column, x_label in enumerate(x_labels):
            value = cleaned[row][column]
            x, y = left + column * cell_w, top + row * cell_h
            geometry = f'x="{_f(x + 0.5)}" y="{_f(y + 0.5)}" width="{_f(cell_w - 1)}" height="{_f(cell_h - 1)}"'
            if not value:
                out.append(f'<rect {geometry} fill="{HEAT[0]}"/>')
                continue
            shade = HEAT[min(len(HEAT) - 1, 1 + math.floor(value / peak * (len(HEAT) - 1)))]
            out.append(
                f'<rect class="mark" {geometry} fill="{shade}" data-x="{text(x_keys[column])}" '
                f'data-y="{text(y_keys[row])}" data-series="{text(key)}" data-value="{_f(value)}">'
                f"<title>{text(y_label)} {text(x_label)}: {text(value_text(value, unit))}</title></rect>"
            )
    out.append("</g>")
    if peak == 0:
        out.append(_no_data(_Frame(top=top, bottom=bottom, left=left, right=right, peak=0)))
    out.append("</svg>")
    return "".join(out)
