"""Who wrote a received mail, as far as the address alone tells: its domain, whether that
domain is a free-mail provider (which never identifies a company), and the block-list
patterns that would catch it. Pure: no I/O; the intake looks the answers up.

A company is recognised by its corporate e-mail domain (SKAI); a free-mail domain is
shared by millions of strangers, so matching it would put anyone into the company that
once listed ``gmail.com`` by mistake (issue 16, item 3).
"""

from __future__ import annotations

from collections.abc import Iterable

FREE_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "aol.com",
    "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "pm.me", "tutanota.com", "tuta.io",
    "zoho.com", "mail.com", "gmx.net", "web.de", "t-online.de", "freenet.de", "yandex.ru", "yandex.com",
    "ya.ru", "mail.ru", "bk.ru", "inbox.ru", "list.ru", "rambler.ru", "qq.com", "163.com", "126.com",
    "naver.com", "fastmail.com", "hey.com", "seznam.cz", "wp.pl", "o2.pl", "interia.pl", "libero.it",
    "orange.fr", "laposte.net", "free.fr", "uol.com.br", "bol.com.br", "terra.com.br", "rediffmail.com",
})
"""Free-mail providers shipped with the product; ``MAIL_IN_FREE_DOMAINS`` adds more."""

FREE_FAMILIES = ("yahoo", "ymail", "hotmail", "outlook", "live", "gmx", "yandex", "aol")
"""Providers with a domain per country (``yahoo.co.uk``, ``gmx.at``, ``hotmail.fr``): any
domain whose first label is one of these is free mail."""


def normalize(address: str) -> str:
    """The address as users and block-list entries are stored: trimmed, lower-cased."""
    return address.strip().lower()


def domain_of(address: str) -> str:
    """The lower-cased domain of ``user@domain`` (empty when there is no ``@``)."""
    _, at, domain = normalize(address).rpartition("@")
    return domain.rstrip(".") if at else ""


def is_free_mail(domain: str, extra: Iterable[str] = ()) -> bool:
    """Whether ``domain`` is a free-mail provider (the shipped list, its country
    variants, or ``extra`` — the setting), so it must never identify a company. A
    subdomain of a listed domain counts too (``eu.mail.com``)."""
    clean = domain.strip().lower().rstrip(".")
    listed = FREE_DOMAINS | {d.strip().lower() for d in extra}
    labels = clean.split(".")
    # A country suffix is short labels only (``co.uk``, ``com.br``, ``de``):
    # ``live.acme-corp.com`` is a company's own host, not Microsoft's.
    if labels[0] in FREE_FAMILIES and len(labels) >= 2 and all(0 < len(part) <= 3 for part in labels[1:]):
        return True
    return any(".".join(labels[i:]) in listed for i in range(len(labels) - 1))


def block_patterns(address: str) -> tuple[str, str]:
    """The two block-list entries that catch ``address``: itself, and ``@its.domain``."""
    clean = normalize(address)
    return clean, "@" + domain_of(clean)
