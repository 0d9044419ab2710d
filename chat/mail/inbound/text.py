"""Text of a received mail: bytes in whatever charset the sender's client chose (or claimed)
turned into readable text, HTML turned into plain lines, and the reply cut off from what it
quotes. Pure functions, no I/O.

The quote cutting is mail-parser-reply's (issue 16, item 4: a maintained library, not our
own regexes). It knows the English, German and Spanish clients, among others; it has no
Russian or Portuguese patterns, so :data:`_EXTRA_LANGUAGES` gives it those, in its own
format, through the one hook it reads them by.
"""

from __future__ import annotations

import binascii
import codecs
import re
import unicodedata
from html.parser import HTMLParser
from typing import Any

import nh3
from mailparser_reply import EmailMessage as _LibraryMessage  # type: ignore[import-untyped]
from mailparser_reply.constants import QUOTED_MATCH_INCLUDE  # type: ignore[import-untyped]

# A person writes a few kilobytes above a quote; the library's signature pattern ends in
# ``(.|\s)*``, which costs about a second per megabyte. Longer text is kept whole in
# ``full_text``; only this much of it is searched for the reply.
REPLY_SCAN_CHARS = 100_000

# Codecs that are "text encodings" to Python but turn mail bytes into something else
# (escape sequences, IDNA labels) or always fail: a charset label naming one is a lie.
_NOT_CHARSETS = frozenset({"unicode_escape", "raw_unicode_escape", "idna", "punycode", "undefined", "mbcs", "oem"})

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\ufeff]")
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


def charset_codec(label: str | None) -> str | None:
    """The Python codec a MIME charset label names, or None for a missing, unknown or
    non-text one (``charset=base64`` is refused rather than obeyed)."""
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip('"').lower())
    except (LookupError, ValueError, TypeError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name.replace("-", "_") in _NOT_CHARSETS:
        return None
    return info.name


# Guessing reads this much: enough letters to tell the scripts apart, and a 10 MB body
# costs no more than a small one.
_GUESS_SAMPLE = 64 * 1024
_HIGH = bytes(range(0xC0, 0x100))
_HIGH_RUN = re.compile(rb"[\xc0-\xff]{3,}")
_UPPER_HALF = bytes(range(0xE0, 0x100))
_ASCII_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _count(data: bytes, members: bytes) -> int:
    return len(data) - len(data.translate(None, members))


def guess_codec(data: bytes) -> str:
    """The likeliest single-byte charset of bytes that are not UTF-8. Cyrillic letters are
    all bytes >= 0xC0, so Cyrillic text has more of them than ASCII letters, or has them
    in runs (words: "Петр" is four in a row, where Latin text has an accent here and
    there). Windows-1251 puts the lower-case letters in the upper half (0xE0-0xFF), KOI8-R
    in the lower (0xC0-0xDF). Anything else is read as Windows-1252 (Latin-1 plus the
    quotes and dashes Windows adds)."""
    sample = data[:_GUESS_SAMPLE]
    high = _count(sample, _HIGH)
    in_words = sum(len(run) for run in _HIGH_RUN.findall(sample))
    if high and (high >= _count(sample, _ASCII_LETTERS) or 2 * in_words >= high):
        upper_half = _count(sample, _UPPER_HALF)
        return "cp1251" if upper_half >= high - upper_half else "koi8_r"
    return "cp1252"


def _decode(data: bytes, codec: str, partial: bool) -> str:
    # A body cut to a size may end inside a multi-byte character: an incremental decoder
    # told more is coming leaves that tail out instead of failing the whole text.
    if partial:
        return str(codecs.getincrementaldecoder(codec)().decode(data, final=False))
    return data.decode(codec)


def decode_bytes(data: bytes, label: str | None, *, partial: bool = False) -> str:
    """``data`` as text: the declared charset if it is real and fits, else UTF-8 if that
    fits, else a guess (:func:`guess_codec`); never raises. ``partial``: the bytes were
    cut off at a size limit."""
    codec = charset_codec(label)
    if codec is not None:
        try:
            return _decode(data, codec, partial)
        except (UnicodeError, LookupError, ValueError, TypeError):
            pass
    try:
        return _decode(data, "utf-8", partial)
    except UnicodeError:
        pass
    guessed = guess_codec(data)
    if guessed == "cp1252":
        try:
            return data.decode("cp1252")
        except UnicodeError:
            # cp1252 leaves five bytes undefined; Latin-1 maps every byte.
            return data.decode("latin-1")
    return data.decode(guessed, errors="replace")


def unescape_surrogates(value: str) -> str:
    """A header value the stdlib read with ``surrogateescape`` (raw 8-bit bytes in a
    header: UTF-8 per RFC 6532, or an old client's Windows-1251) as real text."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return decode_bytes(data, None)


_ENCODED_WORD = re.compile(r"=\?([^?\s*]{1,40})(?:\*[^?\s]{0,20})?\?([bBqQ])\?([^?\s]{0,4000})\?=")
_BETWEEN_WORDS = re.compile(r"(=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)[ \t\r\n]+(?==\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def _word(match: re.Match[str]) -> str:
    label, encoding, payload = match.groups()
    try:
        if encoding in "bB":
            data = binascii.a2b_base64(payload + "=" * (-len(payload) % 4))
        else:
            data = binascii.a2b_qp(payload.replace("_", " "), header=True)
    except (binascii.Error, ValueError):
        return match.group()
    return decode_bytes(data, label)


def decode_header_value(value: str) -> str:
    """A raw header value as text: unfolded, RFC 2047 encoded words decoded (the space
    between two adjacent words dropped, as the RFC says), raw 8-bit bytes read as UTF-8
    or guessed. A broken encoded word stays as it came."""
    value = unescape_surrogates(_FOLD.sub("", value))
    if "=?" not in value:
        return value
    return _ENCODED_WORD.sub(_word, _BETWEEN_WORDS.sub(r"\1", value))


_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,490}@[!-;=?-~]{1,490}>")


def message_ids(value: str) -> list[str]:
    """Every ``<left@right>`` id in a header value, in order (printable ASCII only, at
    most 982 characters each: an id longer than a header line is not one)."""
    return _MESSAGE_ID.findall(value)


def one_line(value: str, limit: int) -> str:
    """Printable text on one line, at most ``limit`` characters: control and format
    characters (CR, LF, NUL, U+2028 ...) become spaces, runs of spaces one. Every header
    value goes through here, so none can carry a line break into our headers or pages."""
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in value)
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean_text(text: str) -> str:
    """Body text with ``\\n`` line ends, no NUL or other control characters (tabs kept),
    no trailing spaces, at most one blank line in a row, stripped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


# -- HTML ---------------------------------------------------------------------------------

# What survives sanitizing: only tags that shape the text. Scripts, styles and the head
# go with their content; every other tag goes and leaves its text.
_KEEP_TAGS = frozenset({
    "a", "p", "br", "div", "span", "li", "ul", "ol", "tr", "td", "th", "table", "tbody", "thead",
    "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr", "b", "i", "strong", "em",
})
_DROP_WITH_CONTENT = frozenset({"script", "style", "head", "title", "template", "noscript", "iframe", "object", "svg", "math"})
_BLOCK = frozenset({"p", "div", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr"})


class _TextWriter(HTMLParser):
    """Sanitized HTML to lines: blocks and ``<br>`` break lines, list items get "- ",
    table cells a tab, and a ``<blockquote>``'s lines the "> " a plain-text client would
    write, so the reply cutter sees the quote for what it is."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote_depth = 0
        self.pre = 0

    def _break(self) -> None:
        line = "".join(self.current)
        if not self.pre:
            line = _SPACES.sub(" ", line).strip()
        self.lines.append("> " * self.quote_depth + line if line else "")
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._break()
        elif tag in _BLOCK:
            if self.current:
                self._break()
            if tag == "li":
                self.current.append("- ")
            elif tag == "blockquote":
                self.quote_depth += 1
            elif tag == "pre":
                self.pre += 1
        elif tag in ("td", "th") and self.current:
            self.current.append("\t")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCK:
            if self.current:
                self._break()
            if tag == "blockquote" and self.quote_depth:
                self.quote_depth -= 1
            elif tag == "pre" and self.pre:
                self.pre -= 1
            elif tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table"):
                self.lines.append("")

    def handle_data(self, data: str) -> None:
        self.current.append(data if self.pre else data.replace("\n", " "))

    def text(self) -> str:
        if self.current:
            self._break()
        return clean_text("\n".join(self.lines))


def html_to_text(markup: str) -> str:
    """Readable text of an HTML body: sanitized by nh3 first (only the shaping tags are
    left, no script or style content), then written out line by line."""
    safe = nh3.clean(markup, tags=set(_KEEP_TAGS), clean_content_tags=set(_DROP_WITH_CONTENT), attributes={}, link_rel=None)
    writer = _TextWriter()
    writer.feed(safe)
    writer.close()
    return writer.text()


# -- cutting the reply ----------------------------------------------------------------------

# Russian and Portuguese in mail-parser-reply's format (its constants.MAIL_LANGUAGES), and
# Spanish's "wrote" line: the library's own pattern excludes itself with its lookahead
# (it only ever matches inside a quote, never Gmail's unquoted "El ... escribió:").
# Headers: Gmail ("пн, 1 дек. 2026 г. в 10:15, Ann <a@x>:", "Em seg., 1 de dez. de 2026
# às 10:15, Ann <a@x> escreveu:"), Thunderbird ("01.12.2026 10:15, Ann пишет:"), Apple
# Mail ("... написал(а):"), Outlook ("От: / Отправлено: / Кому: / Тема:", "De: / Enviado:").
_EXTRA_LANGUAGES: dict[str, dict[str, str | list[str]]] = {
    "ru": {
        "wrote_header": (
            r"^(" + QUOTED_MATCH_INCLUDE + r".{0,200}?(?:пишет|написал\(а\)|написала|написал)\s?:)$"
            r"|^(" + QUOTED_MATCH_INCLUDE + r".{0,100}\sг\.,?\sв\s\d{1,2}:\d{2},?\s.{0,200}:)$"
        ),
        "from_header": (
            r"((?:(?:^|\n|\n" + QUOTED_MATCH_INCLUDE
            + r")[* ]*(?:От|Отправлено|Дата|Кому|Копия|Тема):[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})"
        ),
        "disclaimers": ["Конфиденциально:", "Внимание:"],
        "signatures": ["С уважением", "С наилучшими пожеланиями", "Всего доброго", "Спасибо,"],
        "sent_from": "Отправлено с|Отправлено из",
    },
    "es": {
        "wrote_header": r"^(" + QUOTED_MATCH_INCLUDE + r"El\s.{1,200}\sescribió:)$",
    },
    "pt": {
        "wrote_header": r"^(" + QUOTED_MATCH_INCLUDE + r"Em\s.{1,200}\sescreveu:)$",
        "from_header": (
            r"((?:(?:^|\n|\n" + QUOTED_MATCH_INCLUDE
            + r")[* ]*(?:De|Enviado|Enviada|Para|Assunto|Data|Cc):[ *]*(?:\s{,2}).*){2,}(?:\n.*){,1})"
        ),
        "disclaimers": ["Aviso:", "Confidencial:"],
        "signatures": ["Atenciosamente", "Cumprimentos", "Abraços", "Obrigad[oa],"],
        "sent_from": "Enviado do meu|Enviado de meu",
    },
}

# The languages of the clients our customers write from (the product speaks en, de, es,
# pt-BR and ru); English is always added by the library.
REPLY_LANGUAGES = ("en", "de", "es", "pt", "ru", "fr", "it", "nl")


class _ReplyParser(_LibraryMessage):  # type: ignore[misc]
    """The library's message with our two extra languages: ``_get_language_regex`` is
    where it looks a language's patterns up."""

    def _get_language_regex(self, language: str, regex_key: str) -> Any:
        value = _EXTRA_LANGUAGES.get(language, {}).get(regex_key)
        if value is not None:
            return "|".join(value) if isinstance(value, list) else value
        return super()._get_language_regex(language=language, regex_key=regex_key)


def cut_marker(text: str, marker: str) -> str:
    """Text above the line holding our reply marker (quoted or not), or all of it."""
    at = text.find(marker) if marker else -1
    if at < 0:
        return text
    return text[: text.rfind("\n", 0, at) + 1]


def cut_reply(text: str) -> str:
    """What the person wrote above the quoted earlier mail, without the signature: the
    first reply mail-parser-reply finds. Lists starting with "-" are kept (the library
    would take them for a signature otherwise)."""
    scanned = text[:REPLY_SCAN_CHARS]
    if not scanned.strip():
        return ""
    message = _ReplyParser(text=scanned, languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True).read()
    if not message.replies:
        return clean_text(scanned)
    return clean_text(str(message.replies[0].body))
