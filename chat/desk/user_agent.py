"""A User-Agent header as an agent reads it: "Chrome 131 on Windows", "Safari 17 on iOS".
Pure: no I/O, never raises.

Only the families that make up nearly all support traffic are told apart; anything else
is "Other browser" / "other system" rather than a guess. Order matters: Edge, Opera and
Samsung Internet say "Chrome" too, Chrome says "Safari", every iPhone browser says
"Safari" and "Mobile"."""

from __future__ import annotations

import re
from dataclasses import dataclass

# (name, pattern whose group 1 is the major version), first match wins.
_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("Edge", r"Edg(?:e|A|iOS)?/(\d+)"),
    ("Opera", r"(?:OPR|Opera)/(\d+)"),
    ("Samsung Internet", r"SamsungBrowser/(\d+)"),
    ("Firefox", r"(?:Firefox|FxiOS)/(\d+)"),
    ("Chrome", r"(?:Chrome|CriOS)/(\d+)"),
    ("Safari", r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"),
))
_SYSTEMS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("iOS", r"iPhone|iPad|iPod"),
    ("Android", r"Android"),
    ("ChromeOS", r"CrOS"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("Linux", r"Linux|X11"),
))


@dataclass(frozen=True)
class Browser:
    name: str | None  # None: not one we tell apart
    version: str | None
    system: str | None

    @property
    def text(self) -> str:
        """The English summary (the console builds its own words from the parts)."""
        name = f"{self.name} {self.version}" if self.name and self.version else (self.name or "Other browser")
        return f"{name} on {self.system}" if self.system else name


def parse(user_agent: str | None) -> Browser | None:
    """What the header says; None for no header at all."""
    if not user_agent:
        return None
    name = version = None
    for candidate, pattern in _BROWSERS:
        found = pattern.search(user_agent)
        if found:
            name, version = candidate, found.group(1)
            break
    system = next((s for s, pattern in _SYSTEMS if pattern.search(user_agent)), None)
    return Browser(name, version, system)
