"""Normalizers for the values people type: e-mails, domains, origins, languages, slugs.

Each returns the canonical form or raises :class:`ValidationFailed` naming the field.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from chat.errors import ValidationFailed

LANGUAGES = ("en", "pt-BR", "de", "es", "ru")

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
