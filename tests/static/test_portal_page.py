"""The portal's static page (static/portal/index.html) is translated like its scripts: every
text in it carries a data-i18n key (js/app.js translatePage fills it in the reader's
language), and every key it names exists in a catalog."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from tests.static.test_catalogs import _all_keys

PAGE = Path(__file__).resolve().parents[2] / "static" / "portal" / "index.html"
_KEY_ATTRS = ("data-i18n", "data-i18n-placeholder", "data-i18n-aria-label")
# Words for people that are not keys: punctuation between translated parts ("Status: …").
_NOT_WORDS = re.compile(r"^[\s·:—–\-]*$")


class _Texts(HTMLParser):
    """Each text node with whether its element carries data-i18n."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.untranslated: list[str] = []
        self.keys: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.keys += [v for k, v in attrs if k in _KEY_ATTRS and v]
        for attr in ("placeholder", "aria-label", "title"):
            if attr in found and f"data-i18n-{attr}" not in found:
                self.untranslated.append(f"<{tag} {attr}={found[attr]!r}>")
        if tag not in {"meta", "link", "input", "br"}:
            self.stack.append((tag, "data-i18n" in found))

    def handle_endtag(self, tag: str) -> None:
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if not self.stack or _NOT_WORDS.match(data):
            return
        tag, translated = self.stack[-1]
        if tag not in {"script", "style", "title"} and not translated:
            self.untranslated.append(f"<{tag}>{data.strip()!r}")


def _parsed() -> _Texts:
    parser = _Texts()
    parser.feed(PAGE.read_text(encoding="utf-8"))
    return parser


def test_every_text_of_the_page_is_translated() -> None:
    assert _parsed().untranslated == []


def test_every_key_the_page_names_exists() -> None:
    parsed = _parsed()
    assert parsed.keys, "no data-i18n keys found"
    keys = _all_keys()
    assert [k for k in parsed.keys if k not in keys] == []
