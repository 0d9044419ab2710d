"""The mail-link page kit (chat/http/pages.py): language picking, the strings tables and
the security headers. Pure: no server."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from markupsafe import Markup

from chat.http import pages


@pytest.mark.parametrize(
    ("preferred", "accept", "expected"),
    [
        ("pt-BR", "de", "pt-BR"),  # the user's language wins
        ("PT_br", None, "pt-BR"),
        ("pt", None, "pt-BR"),  # by primary subtag
        ("pt-PT", None, "pt-BR"),
        ("de-AT", "ru", "de"),
        ("fr", "es, ru", "es"),  # not one of ours: the browser decides
        (None, "fr-CA, ru;q=0.4, de-CH;q=0.9", "de"),  # by q, not by position
        (None, "ru;q=0.5, es;q=0.5", "ru"),  # ties keep the header's order
        (None, "ru;q=0, es;q=0.1", "es"),  # q=0 means "not this one"
        (None, "ru;q=oops, de", "de"),  # an unreadable q is no preference
        (None, "*, ru", "ru"),
        (None, "*", "en"),
        (None, "", "en"),
        (None, None, "en"),
        ("", ",,;", "en"),
        ("zh-Hant-TW", "ja", "en"),
    ],
)
def test_pick_language(preferred: str | None, accept: str | None, expected: str) -> None:
    assert pages.pick_language(preferred, accept) == expected


def test_every_page_set_has_every_language_with_the_same_keys() -> None:
    for page_set in ("mail_pages", "unsubscribe", "account_pages"):
        table = pages.load_strings(page_set)
        assert list(table) == ["en", "pt-BR", "de", "es", "ru"]


def test_a_strings_table_missing_a_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "templates"
    (root / "broken").mkdir(parents=True)
    words = '{"a": "x", "n": {"b": "y"}}'
    short = '{"a": "x", "n": {}}'
    tables = {"en": words, "pt-BR": words, "de": words, "es": words, "ru": short}
    (root / "broken" / "strings.json").write_text("{" + ",".join(f'"{k}": {v}' for k, v in tables.items()) + "}")
    monkeypatch.setattr(pages, "TEMPLATES", root)
    with pytest.raises(ValueError, match="ru does not have the keys of en"):
        pages.load_strings("broken")
    (root / "broken" / "strings.json").write_text('{"en": {}}')
    with pytest.raises(ValueError, match="has languages"):
        pages.load_strings("broken")


def test_headers_allow_the_stylesheet_by_its_hash_and_scripts_only_when_asked() -> None:
    style = str(pages._env.globals["style"])
    assert isinstance(pages._env.globals["style"], Markup) and '"Segoe UI"' in style
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    plain = pages.security_headers()
    assert plain == {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{digest}'; form-action 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"
        ),
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    scripted = pages.security_headers(scripts=True)["Content-Security-Policy"]
    assert scripted == (
        f"default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'sha256-{digest}'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def test_a_page_carries_the_stylesheet_byte_for_byte() -> None:
    response = pages.PageSet("mail_pages").render("refused.html", "de", 410, code="token_used")
    body = bytes(response.body).decode()
    assert response.status_code == 410 and '<html lang="de">' in body
    assert f"<style>{pages._env.globals['style']}</style>" in body
    assert 'data-code="token_used">Dieser Link wurde bereits verwendet' in body
