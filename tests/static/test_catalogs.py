"""The console's and portal's catalogs (static/shared/i18n.js): every language has every
key, with the same placeholders, and every key the code asks for exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "static"
LANGUAGES = ("en", "pt-BR", "de", "es", "ru")
CATALOG_DIRS = ("shared/i18n", "console/i18n", "portal/i18n")
# The widget keeps its own catalog (static/widget/i18n.js); everything else uses t().
CODE_DIRS = ("shared", "console", "portal")
_T_CALL = re.compile(r"""\bt\(\s*["']([\w.-]+)["']""")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _catalog_files() -> list[Path]:
    return sorted(p for d in CATALOG_DIRS if (STATIC / d).is_dir() for p in (STATIC / d).glob("*.js"))


def _load(path: Path) -> dict[str, dict[str, str]]:
    text = path.read_text(encoding="utf-8")
    head, sep, body = text.partition("export default")
    assert sep and not head.strip(), f"{path}: must start with `export default {{…}};`"
    data = json.loads(body.strip().removesuffix(";"))
    assert isinstance(data, dict)
    return data


def _all_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for path in _catalog_files():
        for key in _load(path)["en"]:
            assert key not in keys, f"{key} is defined in {keys[key]} and {path.name}"
            keys[key] = path.name
    return keys


def test_there_are_catalogs() -> None:
    assert _catalog_files(), "no catalogs found"


@pytest.mark.parametrize("path", _catalog_files(), ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_language_has_every_key_with_the_same_placeholders(path: Path) -> None:
    data = _load(path)
    assert sorted(data) == sorted(LANGUAGES), f"{path}: languages {sorted(data)}"
    english = data["en"]
    for lang in LANGUAGES:
        assert set(data[lang]) == set(english), (
            f"{path} {lang}: missing {sorted(set(english) - set(data[lang]))}, extra {sorted(set(data[lang]) - set(english))}"
        )
        for key, text in data[lang].items():
            assert isinstance(text, str) and text.strip(), f"{path} {lang} {key}: empty"
            assert set(_PLACEHOLDER.findall(text)) == set(_PLACEHOLDER.findall(english[key])), f"{path} {lang} {key}"


def test_every_key_the_code_asks_for_exists() -> None:
    keys = _all_keys()
    missing: list[str] = []
    for folder in CODE_DIRS:
        for path in (STATIC / folder).rglob("*.js"):
            if "i18n" in path.parts:
                continue
            for key in _T_CALL.findall(path.read_text(encoding="utf-8")):
                if key not in keys:
                    missing.append(f"{path.relative_to(STATIC)}: {key}")
    assert not missing, "keys asked for but in no catalog:\n" + "\n".join(missing)
