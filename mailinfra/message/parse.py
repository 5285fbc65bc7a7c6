"""Reading a message from a stranger, within bounds: it never raises, it reports.

The bytes are read up to ``MAX_BYTES``; the header section is parsed with the
standard library (compat32: raw values, as DKIM hashes them), at most ``MAX_HEADERS``
fields are accepted, at most ``MAX_PARTS`` MIME parts are walked and each text part is
decoded up to ``MAX_PART_BYTES`` (base64/quoted-printable errors leave the part's raw
text). HTML parts are reduced to their text. Whatever is wrong lands in ``problems``.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import html.parser
from dataclasses import dataclass, field

__all__ = ["MAX_BYTES", "MAX_HEADERS", "MAX_PARTS", "MAX_PART_BYTES", "ParsedMessage", "parse_message"]

MAX_BYTES = 40 * 1024 * 1024  # above every receiver's limit (Gmail: 25 MB)
MAX_HEADERS = 1000
MAX_PARTS = 200
MAX_PART_BYTES = 5 * 1024 * 1024
MAX_HEADER_VALUE = 16 * 1024


@dataclass
class ParsedMessage:
    raw: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)  # (name, unfolded value), in order
    texts: list[str] = field(default_factory=list)  # decoded text/plain and text of text/html parts
    problems: list[str] = field(default_factory=list)
    too_big: bool = False  # over MAX_BYTES or MAX_HEADERS: DKIM is not attempted

    def all(self, name: str) -> list[str]:
        wanted = name.lower()
        return [v for n, v in self.headers if n.lower() == wanted]

    def first(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None


class _HtmlText(html.parser.HTMLParser):
    _BLOCK = frozenset({"br", "p", "div", "tr", "li", "table", "td", "h1", "h2", "h3", "h4", "address", "footer"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):  # malformed markup: keep what was read
        pass
    return "".join(parser.parts)


def _value(value: object) -> str:
    text = str(value) if not isinstance(value, str) else value
    text = " ".join(text[:MAX_HEADER_VALUE].split())
    return text


def _decode_part(part: email.message.Message, problems: list[str], index: int) -> str | None:
    try:
        payload = part.get_payload(decode=True)
    except Exception as exc:  # noqa: BLE001 - a stranger's MIME: report, never crash
        problems.append(f"MIME part {index}: cannot decode ({type(exc).__name__})")
        return None
    if not isinstance(payload, bytes):
        return None
    if len(payload) > MAX_PART_BYTES:
        problems.append(f"MIME part {index}: {len(payload)} bytes decoded, only the first {MAX_PART_BYTES} are read")
        payload = payload[:MAX_PART_BYTES]
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "utf-8"
        return payload.decode(charset, "replace")
    except (LookupError, ValueError):
        problems.append(f"MIME part {index}: unknown charset {charset[:40]!r}, read as UTF-8")
        return payload.decode("utf-8", "replace")


def parse_message(raw: bytes) -> ParsedMessage:
    msg = ParsedMessage(raw)
    if len(raw) > MAX_BYTES:
        msg.problems.append(f"{len(raw)} bytes: over the {MAX_BYTES}-byte limit; only the headers were read")
        msg.too_big = True
        raw = raw[:MAX_BYTES]
    try:
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    except Exception as exc:  # noqa: BLE001 - the parser is lenient; this is the unforeseen rest
        msg.problems.append(f"cannot parse the message: {type(exc).__name__}")
        return msg
    try:
        items = parsed.items()
    except Exception as exc:  # noqa: BLE001
        msg.problems.append(f"cannot read the header fields: {type(exc).__name__}")
        items = []
    if len(items) > MAX_HEADERS:
        msg.problems.append(f"{len(items)} header fields: over the limit of {MAX_HEADERS}; only the first were read")
        msg.too_big = True
        items = items[:MAX_HEADERS]
    msg.headers = [(str(name), _value(value)) for name, value in items]
    for defect in getattr(parsed, "defects", [])[:5]:
        msg.problems.append(f"MIME: {type(defect).__name__}")
    if msg.too_big and len(raw) >= MAX_BYTES:
        return msg
    try:
        parts = []
        for part in parsed.walk():
            parts.append(part)
            if len(parts) > MAX_PARTS:
                msg.problems.append(f"over {MAX_PARTS} MIME parts; only the first {MAX_PARTS} were read")
                break
    except RecursionError:
        msg.problems.append("MIME parts nested too deep; the rest was not read")
    for index, part in enumerate(parts[:MAX_PARTS]):
        try:
            ctype = part.get_content_type()
        except Exception:  # noqa: BLE001, S112 - a broken part header: skip the part
            continue
        if ctype not in ("text/plain", "text/html"):
            continue
        text = _decode_part(part, msg.problems, index)
        if text is None:
            continue
        msg.texts.append(html_text(text) if ctype == "text/html" else text)
    return msg
