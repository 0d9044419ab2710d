"""Secrets masked before anything is stored: API keys, tokens, passwords and card numbers
in text a person typed (a message, a ticket's subject, a pre-chat answer, a mail).

Customers paste keys and passwords into support chats; once stored, a secret is in every
backup, export, notification mail and agent's screen. So the use cases mask text at their
entrance (:func:`mask_secrets`), before it is stored, published, mailed or exported, and
record the *kinds* found (never the value) for staff to see that something was masked.

The pattern set is detect-secrets' plugins where they have one (AWS, Stripe, GitHub,
GitLab, Slack, JWT, private keys, credentials in URLs, OpenAI, PyPI, SendGrid, Twilio,
Telegram, Discord, Mailchimp, Square, Azure storage, Artifactory): their maintained
``denylist`` regexes are run over the whole text, so every match has its span (the
plugins' own ``analyze_line`` works per line and yields only the value). Their keyword
and high-entropy plugins are left out: in chat prose they flag ordinary words and hashes.
Our own patterns cover what the plugins lack: ``password: …`` pairs in English and
Russian, ``Bearer`` tokens, ``Authorization: Basic``, key/token assignments, Stripe test
keys, GitHub fine-grained tokens, and card numbers (Luhn-checked, a card network's first
digit, not the tail of an IBAN).

A masked value keeps a few first and last characters (``sk_live_…a1B2``; a card its first
6 and last 4 digits) so staff can tell which key was meant; a private-key block is
replaced whole. Masking is idempotent: masked text has nothing left to mask.

Pure: no I/O. Cost, measured on 200-character messages (a shared 2-core machine, load 1-5):
English prose 11-17 µs, Russian prose with the word "пароль" 29-44 µs, with a URL ~65 µs,
with a Stripe key ~85 µs: the pre-filters let a text skip every family of patterns it cannot
match — small beside the send's commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from re import Pattern

from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

__all__ = ["KINDS", "Masked", "mask_secrets"]

ELLIPSIS = "…"
PRIVATE_KEY_SHOWN = "[private key masked]"

# The stable kind names stored in event data ("masked": [...]) and documented in
# docs/protocol.md; the console shows a label for each (static/console/js/masking.js).
KINDS = (
    "private_key", "aws_key", "stripe_key", "github_token", "gitlab_token", "slack_token", "jwt",
    "basic_auth", "bearer_token", "openai_key", "pypi_token", "sendgrid_key", "twilio_key", "telegram_token",
    "discord_token", "mailchimp_key", "square_token", "azure_key", "artifactory_token", "password_pair",
    "secret_pair", "card_number",
)


@dataclass(frozen=True)
class Masked:
    """``text`` with every secret found masked; ``kinds``: what was found, each once, in
    :data:`KINDS` order (empty: the text is unchanged)."""

    text: str
    kinds: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return bool(self.kinds)


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    kind: str
    shown: str


# -- how a value is shown ------------------------------------------------------------------

_PREFIX = re.compile(r"^(?:[a-z]{2,6}[_-](?:live_|test_|pat_)?|github_pat_|xox[a-z]-|AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9]|"
                     r"SG\.|sq0csp-|eyJ|AKC|AP[0-9A-F]|AC|SK|pypi-|npm_)")


def _shorten(value: str, *, keep_prefix: bool = True, tail: int = 4) -> str:
    """``sk_live_…a1B2``: the key's well-known prefix (it names the kind, not the secret)
    and its last characters; never more than a quarter of the value's own characters."""
    found = _PREFIX.match(value) if keep_prefix else None
    head = found.group(0) if found else ""
    budget = max(0, (len(value) - len(head)) // 4)
    tail = min(tail, budget)
    head_extra = 0 if head else min(2, budget - tail)
    shown_head = value[: len(head) + head_extra]
    return shown_head + ELLIPSIS + (value[len(value) - tail:] if tail else "")


def _password_shown(value: str) -> str:
    # A password is short and guessable from a few letters: at most its first and last.
    return value[0] + ELLIPSIS + value[-1] if len(value) >= 8 else ELLIPSIS


def _card_shown(digits: str) -> str:
    return digits[:6] + ELLIPSIS + digits[-4:]


# -- detect-secrets' patterns ---------------------------------------------------------------

# Characters a token may continue with past what a plugin's pattern matched: Stripe's
# pattern takes 24 characters of keys that are now longer, JWT's ends lazily.
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-]*")


@dataclass(frozen=True)
class _Plugin:
    kind: str
    patterns: tuple[Pattern[str], ...]
    valid: Callable[[str], bool] | None = None
    extend: bool = True
    # Literals one of which every match contains (looked for in the lowered text): a plugin
    # without any in the text is skipped. Most of the plugins' patterns have no literal
    # prefix for the regex engine to seek, so each would scan every position.
    hints: tuple[str, ...] = ()


def _patterns(detector: type) -> tuple[Pattern[str], ...]:
    return tuple(detector.denylist)  # type: ignore[attr-defined]


_PLUGINS = (
    _Plugin("aws_key", _patterns(AWSKeyDetector), hints=("a3t", "abia", "acca", "akia", "asia", "aws")),
    _Plugin("stripe_key", _patterns(StripeDetector), hints=("k_live_",)),
    _Plugin("github_token", _patterns(GitHubTokenDetector), hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    _Plugin("gitlab_token", _patterns(GitLabTokenDetector), hints=("gl", "gr1348941")),
    _Plugin("slack_token", _patterns(SlackDetector), hints=("xox", "hooks.slack.com")),
    _Plugin("jwt", _patterns(JwtTokenDetector), valid=JwtTokenDetector.is_formally_valid, hints=("eyj",)),
    _Plugin("basic_auth", _patterns(BasicAuthDetector), extend=False, hints=("://",)),
    _Plugin("openai_key", _patterns(OpenAIDetector), hints=("t3blbkfj",)),
    _Plugin("pypi_token", _patterns(PypiTokenDetector), hints=("pypi-",)),
    _Plugin("sendgrid_key", _patterns(SendGridDetector), hints=("sg.",)),
    _Plugin("twilio_key", _patterns(TwilioKeyDetector), hints=("ac", "sk")),
    _Plugin("telegram_token", _patterns(TelegramBotTokenDetector), hints=(":",)),
    _Plugin("discord_token", _patterns(DiscordBotTokenDetector), hints=(".",)),
    _Plugin("mailchimp_key", _patterns(MailchimpDetector), hints=("-us",)),
    _Plugin("square_token", _patterns(SquareOAuthDetector), hints=("sq0csp-",)),
    _Plugin("azure_key", _patterns(AzureStorageKeyDetector), extend=False, hints=("accountkey=",)),
    _Plugin("artifactory_token", _patterns(ArtifactoryDetector), extend=False, hints=("akc", "ap")),
)

# Our own, where detect-secrets has none.
_OWN = (
    _Plugin("stripe_key", (re.compile(r"(?<![A-Za-z0-9])[rs]k_test_[0-9a-zA-Z]{24,}"),), hints=("k_test_",)),
    _Plugin("github_token", (re.compile(r"(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{40,}"),), hints=("github_pat_",)),
    _Plugin("bearer_token", (re.compile(r"(?i)\bbearer\s+([A-Za-z0-9\-._~+/]{16,}=*)"),), extend=False,
            hints=("bearer",)),
    _Plugin("basic_auth", (re.compile(r"(?i)\bauthorization:\s*basic\s+([A-Za-z0-9+/]{8,}={0,2})"),), extend=False,
            hints=("basic",)),
)

_PRIVATE_KEY_TRIGGERS = _patterns(PrivateKeyDetector)
# A block from its BEGIN line to its END line (or to the end of the text, when the
# customer pasted only part of it): the whole block goes, nothing of it is kept.
_PRIVATE_KEY_BLOCK_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|---- END SSH2 ENCRYPTED PRIVATE KEY ----")


def _plugin_hits(text: str, plugin: _Plugin) -> Iterator[_Hit]:
    for pattern in plugin.patterns:
        for match in pattern.finditer(text):
            groups = [i for i in range(1, (pattern.groups or 0) + 1) if match.group(i)]
            spans = [match.span(i) for i in groups] if groups else [match.span()]
            for start, end in spans:
                # Artifactory's patterns include the blank or quote around the token.
                while start < end and text[start] in " \t\r\n=:\"'":
                    start += 1
                while end > start and text[end - 1] in " \t\r\n\"'":
                    end -= 1
                if plugin.extend:
                    tail = _TOKEN_TAIL.match(text, end)
                    end = tail.end() if tail else end
                    if plugin.kind == "jwt":
                        end = _jwt_end(text, end)
                value = text[start:end]
                if not value or ELLIPSIS in value:
                    continue
                if plugin.valid is not None and not plugin.valid(value):
                    continue
                shown = ELLIPSIS if plugin.kind in ("basic_auth", "azure_key") else _shorten(value)
                yield _Hit(start, end, plugin.kind, shown)


def _jwt_end(text: str, end: int) -> int:
    # The signature (third part) after the payload's dot, which the plugin's lazy
    # pattern leaves out.
    if end < len(text) and text[end] == "." and text[end - 1] != ".":
        tail = _TOKEN_TAIL.match(text, end + 1)
        return tail.end() if tail else end
    if text[end - 1] == ".":
        tail = _TOKEN_TAIL.match(text, end)
        return tail.end() if tail else end
    return end


def _private_keys(text: str) -> Iterator[_Hit]:
    for pattern in _PRIVATE_KEY_TRIGGERS:
        for match in pattern.finditer(text):
            start = match.start()
            if start >= 5 and text.startswith("-----", start - 5):  # the BEGIN line's dashes go too
                start -= 5
            end_match = _PRIVATE_KEY_BLOCK_END.search(text, match.end())
            end = end_match.end() if end_match else len(text)
            # Never longer than what it replaces: a subject at its column's limit stays within it.
            yield _Hit(start, end, "private_key", PRIVATE_KEY_SHOWN if end - start >= len(PRIVATE_KEY_SHOWN) else ELLIPSIS)


# -- passwords, keys by name ----------------------------------------------------------------

_PASSWORD_WORDS = r"pass(?:word|wd|phrase)?|pwd?|парол(?:ь|я|ем)|пасс"
# "password: x", "пароль = x", "pwd — x": a separator makes it a pair. "password is x"
# (and Russian "пароль это x") only when the value looks like a password (a digit or a
# symbol): "password is expired" is a sentence, "password is hunter2" a secret.
_PASSWORD_PAIR = re.compile(
    rf"(?i)(?<![\w-])(?:{_PASSWORD_WORDS})(?:\s*\([^)\n]{{0,20}}\))?\s*(?:[:=]|[—–]|\s-\s)\s*(\S+)"
)
_PASSWORD_IS = re.compile(rf"(?i)(?<![\w-])(?:my\s+)?(?:{_PASSWORD_WORDS})\s+(?:is|это|был|будет)\s+(\S+)")
_SECRET_PAIR = re.compile(
    r"(?i)(?<![\w-])(?:api[_\-\s]?key|api[_\-]?secret|secret(?:[_\-]?key)?|client[_\-]?secret|access[_\-]?key"
    r"|access[_\-]?token|auth[_\-]?token|token|ключ(?:\s+api)?|токен)\s*[:=]\s*[\"']?([A-Za-z0-9_\-./+=]{12,})"
)
_QUOTES = "\"'«»“”„`"
_TRAILING = ".,;:!?)]}" + _QUOTES


def _clean_value(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _QUOTES:
        start += 1
    while end > start and text[end - 1] in _TRAILING:
        end -= 1
    return start, end


def _passwords(text: str) -> Iterator[_Hit]:
    for pattern, loose in ((_PASSWORD_PAIR, False), (_PASSWORD_IS, True)):
        for match in pattern.finditer(text):
            start, end = _clean_value(text, *match.span(1))
            value = text[start:end]
            if len(value) < 3 or ELLIPSIS in value:
                continue
            if loose and not re.search(r"[\d\W_]", value):
                continue
            yield _Hit(start, end, "password_pair", _password_shown(value))


def _secret_pairs(text: str) -> Iterator[_Hit]:
    for match in _SECRET_PAIR.finditer(text):
        start, end = _clean_value(text, *match.span(1))
        value = text[start:end]
        # A name, a file or a URL after "token:" is not a key: a key mixes letters and digits.
        if len(value) < 12 or not re.search(r"\d", value) or not re.search(r"[A-Za-z]", value):
            continue
        yield _Hit(start, end, "secret_pair", _shorten(value))


# -- card numbers ----------------------------------------------------------------------------

# 16-19 digits in fours (blanks or dashes, the same all through), Amex's 4-6-5, or a
# plain run of 13-19 digits; never inside a longer run of digits, letters or dashes.
_CARD = re.compile(
    r"(?<![\w\-])(?:\d{4}([ \-]?)\d{4}\1\d{4}\1\d{1,7}|3[47]\d{2}([ \-]?)\d{6}\2\d{5}|\d{13,19})(?![\w\-]|[.,]\d)"
)
_IBAN_HEAD = re.compile(r"[A-Z]{2}\d{2}[ ]?$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _cards(text: str) -> Iterator[_Hit]:
    for match in _CARD.finditer(text):
        digits = re.sub(r"[ \-]", "", match.group(0))
        # Card networks start with 2 (Mir, Mastercard), 3 (Amex, JCB), 4 (Visa), 5, 6.
        if not 13 <= len(digits) <= 19 or digits[0] not in "23456" or not luhn_ok(digits):
            continue
        if _IBAN_HEAD.search(text, max(0, match.start() - 6), match.start()):
            continue  # "DE89 3704 0044 0532 0130 00": an IBAN's digits, not a card
        yield _Hit(match.start(), match.end(), "card_number", _card_shown(digits))


# -- the pre-filter and the whole ----------------------------------------------------------------

# Each family of patterns runs only when the text has what all of them need: a run of 11+
# token characters other than a plain word (every key and token), 13+ digits (cards), a password or key word,
# "://" (credentials in a URL) or a BEGIN line. Most messages have none of it and skip
# every plugin; the words are looked for with ``in`` on the lowered text (a regex
# alternation of them cost more than all the plugins together).
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+/=.]{11,}")
_DIGIT_RUN = re.compile(r"\d[\d \-]{12,}")
_PASSWORD_HINTS = ("pass", "pw", "парол", "пасс")
_SECRET_HINTS = ("key", "secret", "token", "ключ", "токен")


def _hits(text: str) -> Iterable[_Hit]:
    lowered = text.lower()
    if "private key" in lowered or "putty" in lowered:
        yield from _private_keys(text)
    tokens = any(not (run.isalpha() and run[1:].islower()) for run in _TOKEN_RUN.findall(text))
    if tokens or "://" in text:
        for plugin in (*_PLUGINS, *_OWN):
            if any(h in lowered for h in plugin.hints):
                yield from _plugin_hits(text, plugin)
    if any(h in lowered for h in _PASSWORD_HINTS):
        yield from _passwords(text)
    if tokens and any(h in lowered for h in _SECRET_HINTS):
        yield from _secret_pairs(text)
    if _DIGIT_RUN.search(text) is not None:
        yield from _cards(text)


def mask_secrets(text: str) -> Masked:
    """``text`` with every secret masked, and the kinds found (of overlapping finds too)."""
    masked = _mask_once(text)
    # What a pass shows can join what is left into a new find (a key's kept last digits
    # run into a card number right after it): mask again until nothing changes, so the
    # result is idempotent. A text without a secret takes one pass.
    for _ in range(3):
        if not masked.found:
            return masked
        again = _mask_once(masked.text)
        if not again.found:
            return masked
        found = set(masked.kinds) | set(again.kinds)
        masked = Masked(again.text, tuple(k for k in KINDS if k in found))
    return Masked(ELLIPSIS if text else text, masked.kinds)  # still changing: show nothing of it


def _mask_once(text: str) -> Masked:
    if not text:
        return Masked(text)
    # Overlapping finds (a key after "password:", two tokens run together) become one
    # span over all of them: dropping one would leave part of a secret in the text.
    groups: list[list[_Hit]] = []
    for hit in sorted((h for h in _hits(text) if h.end > h.start), key=lambda h: (h.start, -h.end)):
        if groups and hit.start < max(h.end for h in groups[-1]):
            groups[-1].append(hit)
        else:
            groups.append([hit])
    if not groups:
        return Masked(text)
    chosen = [_merged(text, group) for group in groups]
    parts: list[str] = []
    at = 0
    for hit in chosen:
        parts.append(text[at:hit.start])
        parts.append(hit.shown)
        at = hit.end
    parts.append(text[at:])
    found = {k for group in groups for k in (h.kind for h in group)}
    return Masked("".join(parts), tuple(k for k in KINDS if k in found))


def _merged(text: str, group: list[_Hit]) -> _Hit:
    first = group[0]  # the earliest and, of those, the longest
    end = max(h.end for h in group)
    if end == first.end:
        return first  # it holds the others: shown as its own kind shows
    shown = PRIVATE_KEY_SHOWN if any(h.kind == "private_key" for h in group) else _shorten(text[first.start:end])
    return _Hit(first.start, end, first.kind, shown if len(shown) <= end - first.start else ELLIPSIS)
