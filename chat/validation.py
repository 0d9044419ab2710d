"""Normalizers for the values people type: e-mails, domains, origins, languages, slugs.

Each returns the canonical form or raises :class:`ValidationFailed` naming the field.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

from chat.errors import ValidationFailed

LANGUAGES = ("en", "pt-BR", "de", "es", "ru")

# Every id the client sends is checked against the storage's range before it reaches SQL:
# SQLite's INTEGER and PostgreSQL's BIGINT hold at most 2**63 - 1, and a larger value makes
# the driver raise (OverflowError, DataError) — a 500 and, in a writer batch, every other
# sender's failure too.
MAX_ID = 2**63 - 1
Id = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
"""An id (or an event's seq ≥ 1) in a request body or frame: 1..2**63-1."""
Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_ID)]
"""A non-negative number stored in a BIGINT-sized column (a position, a seq, a limit)."""
SmallInt = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
"""A number stored in a 32-bit INTEGER column (a severity, a level, a position)."""

_ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def ascii_int(raw: str) -> int | None:
    """``raw`` as a non-negative integer if it is ASCII digits only and fits 64 bits, else
    None. ``str.isdigit`` accepts ``²`` and ``١٢`` (``int()`` then raises or reads them):
    an id in a path, a query or a cursor goes through here, never through ``isdigit``."""
    if not _ASCII_DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


def id_text(raw: str, field: str, *, low: int = 1, high: int = MAX_ID) -> int:
    """An id typed as text (a path segment, a query parameter) within ``low..high``."""
    value = ascii_int(raw)
    if value is None or not low <= value <= high:
        raise ValidationFailed(f"{field} must be an integer from {low} to {high}")
    return value

_EMAIL = re.compile(r"^[^@\s]{1,64}@([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_DOMAIN = re.compile(r"^([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def email(value: str, field: str = "email") -> str:
    normalized = value.strip().lower()
    if len(normalized) > 320 or not _EMAIL.match(normalized):
        raise ValidationFailed(f"{field}: {value!r} is not an e-mail address")
    return normalized


def domain(value: str, field: str = "domain") -> str:
    normalized = value.strip().lower().rstrip(".")
    if len(normalized) > 253 or not _DOMAIN.match(normalized):
        raise ValidationFailed(f"{field}: {value!r} is not a domain name")
    return normalized


def origin(value: str, field: str = "allowed_origins") -> str:
    """``scheme://host[:port]`` exactly as browsers send it in the ``Origin`` header."""
    parts = urlsplit(value.strip())
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise ValidationFailed(f"{field}: {value!r} is not an origin like https://shop.example.com")
    try:
        port = parts.port
    except ValueError:
        raise ValidationFailed(f"{field}: {value!r} has an invalid port") from None
    default_port = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default_port else "")


def language(value: str, field: str = "language") -> str:
    for known in LANGUAGES:
        if value.strip().lower() == known.lower():
            return known
    raise ValidationFailed(f"{field}: {value!r} is not one of {', '.join(LANGUAGES)}")


def slug(value: str, field: str = "slug") -> str:
    normalized = value.strip().lower()
    if not _SLUG.match(normalized):
        raise ValidationFailed(f"{field}: {value!r} must be lower-case letters, digits and dashes (at most 64)")
    return normalized


def slugify(name: str) -> str:
    """A slug derived from a display name; may still need a suffix to be unique."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return base or "org"


def text(value: str, field: str, *, max_length: int, required: bool = True) -> str:
    stripped = value.strip()
    if required and not stripped:
        raise ValidationFailed(f"{field} must not be empty")
    if len(stripped) > max_length:
        raise ValidationFailed(f"{field} must be at most {max_length} characters")
    return stripped
