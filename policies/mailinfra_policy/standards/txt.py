"""TXT character-strings: splitting, joining and the provider forms (RFC 1035 3.3.14).

A TXT record is one or more character-strings of at most 255 bytes each; SPF, DKIM,
DMARC and friends read the record as the strings concatenated without separator
(RFC 7208 3.3, RFC 6376 3.6.2.2). Here a *value* is that logical, unsplit text.

API:
    MAX_STRING_BYTES = 255
    split_txt(value: str) -> list[str]          # <=255 UTF-8 bytes each, never inside a character
    join_txt(strings: Iterable[str]) -> str     # concatenation, no separator
    route53_txt(value: str) -> str              # chunks joined by '""' (pulumi-aws adds outer quotes)
    parse_route53_txt(s: str) -> list[str]      # inverse; also accepts the fully quoted '"a" "b"'
    cloudflare_txt(value: str) -> str           # Cloudflare content: '"a" "b"', 255-byte quoted strings
    check_cloudflare_txt(content, name=None) -> list[Problem]  # parse, and <= 4096 wire bytes per record
    wire_size(name, strings) -> int             # one TXT RR in wire format (RFC 1035 3.2.1)
    parse_cloudflare_txt(content: str) -> list[str]
    to_rdata_text(value: str) -> str            # '"a" "b"', what dns.rdata.from_text(IN, TXT, ..) reads
    chunk_sizes(strings: Iterable[str]) -> list[int]     # UTF-8 byte length per string
    check_route53_txt(s: str) -> list[Problem]  # [] when fine; a >255-byte chunk, a >4000-char value; codes: CODES

Inside quoted forms ``"`` and ``\\`` are escaped with a backslash. Control characters
are refused everywhere: no record we publish needs them.
"""

from __future__ import annotations

from collections.abc import Iterable

from .errors import Problem, TxtError

__all__ = [
    "CLOUDFLARE_MAX_COMBINED_CONTENT",
    "CLOUDFLARE_MAX_RECORD_WIRE_BYTES",
    "CODES",
    "MAX_STRING_BYTES",
    "ROUTE53_MAX_VALUE_CHARS",
    "check_cloudflare_txt",
    "check_route53_txt",
    "chunk_sizes",
    "cloudflare_txt",
    "join_txt",
    "parse_cloudflare_txt",
    "parse_route53_txt",
    "route53_txt",
    "split_txt",
    "to_rdata_text",
    "wire_size",
]

MAX_STRING_BYTES = 255
# Problem codes of check_route53_txt (stable: policies, verify and reports select on them).
CODES = ("txt-syntax", "txt-string-too-long", "txt-record-too-large")
# Cloudflare's limits, from "DNS record types" (developers.cloudflare.com/dns/manage-dns-records/
# reference/dns-record-types/, top of page): each record at most 4,096 bytes in wire format
# (RFC 1035 3.2.1: owner name, type, class, TTL, length and rdata); the records of one
# name and type together at most 8,192 characters of content. The TXT-only 2,048-character
# limit was removed from that page in March 2026 (cloudflare/cloudflare-docs#29286).
CLOUDFLARE_MAX_RECORD_WIRE_BYTES = 4096
CLOUDFLARE_MAX_COMBINED_CONTENT = 8192
# Route53's API (ResourceRecord.Value): "not to exceed 4,000 characters", quotes included.
ROUTE53_MAX_VALUE_CHARS = 4000


def _check_chars(value: str) -> None:
    if not isinstance(value, str):
        raise TxtError(f"TXT value must be a str (got {type(value).__name__})")
    for index, char in enumerate(value):
        if ord(char) < 0x20 or ord(char) == 0x7F:
            raise TxtError(f"TXT value has control character {char!r} at index {index}")


def split_txt(value: str) -> list[str]:
    """Split ``value`` into strings of at most 255 UTF-8 bytes, never inside a character.

    The empty value is one empty string (a TXT record always has at least one).
    """
    _check_chars(value)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for char in value:
        width = len(char.encode("utf-8"))
        if size + width > MAX_STRING_BYTES:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    chunks.append("".join(current))
    return chunks


def join_txt(strings: Iterable[str]) -> str:
    """The logical value of a multi-string TXT record: the strings concatenated."""
    return "".join(strings)


def chunk_sizes(strings: Iterable[str]) -> list[int]:
    """UTF-8 byte length of each string."""
    return [len(s.encode("utf-8")) for s in strings]


def _escape(chunk: str) -> str:
    return chunk.replace("\\", "\\\\").replace('"', '\\"')


def route53_txt(value: str) -> str:
    """Route53 form for pulumi-aws ``records``: chunks joined by ``""``.

    pulumi-aws wraps each entry in quotes, so ``a""b`` reaches Route53 as ``"a""b"``:
    two character-strings.
    """
    return '""'.join(_escape(chunk) for chunk in split_txt(value))


def to_rdata_text(value: str) -> str:
    """Presentation form ``"a" "b"`` that ``dns.rdata.from_text(IN, TXT, ...)`` parses."""
    return " ".join(f'"{_escape(chunk)}"' for chunk in split_txt(value))


def _read_quoted(s: str) -> list[str]:
    """Parse ``"a" "b"`` / ``"a""b"`` (whitespace between strings optional).

    ``\\X`` is the character X, ``\\DDD`` a byte (decimal, as in RFC 1035 master files).
    """
    strings: list[str] = []
    i, n = 0, len(s)
    while i < n:
        if s[i] in " \t":
            i += 1
            continue
        if s[i] != '"':
            raise TxtError(f"TXT text outside quotes at index {i}: {s[i : i + 20]!r}")
        i += 1
        buf = bytearray()
        while True:
            if i >= n:
                raise TxtError(f"unterminated quoted TXT string: {s!r}")
            char = s[i]
            if char == '"':
                i += 1
                break
            if char == "\\":
                if i + 1 >= n:
                    raise TxtError(f"dangling backslash in TXT string: {s!r}")
                digits = s[i + 1 : i + 4]
                if len(digits) == 3 and digits.isascii() and digits.isdigit():
                    if int(digits) > 255:
                        raise TxtError(f"bad escape \\{digits} in TXT string: {s!r}")
                    buf.append(int(digits))
                    i += 4
                    continue
                char = s[i + 1]
                i += 1
            buf += char.encode("utf-8")
            i += 1
        try:
            strings.append(buf.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise TxtError(f"TXT string is not UTF-8: {s!r}") from exc
    if not strings:
        raise TxtError("empty TXT text: no quoted string")
    return strings


def _split_plain(s: str) -> list[str]:
    """Split the pulumi-aws form on unescaped ``""``, removing backslash escapes."""
    strings: list[str] = []
    buf: list[str] = []
    i = 0
    while i < len(s):
        char = s[i]
        if char == "\\" and i + 1 < len(s):
            buf.append(s[i + 1])
            i += 2
        elif s.startswith('""', i):
            strings.append("".join(buf))
            buf = []
            i += 2
        else:
            buf.append(char)
            i += 1
    strings.append("".join(buf))
    return strings


def _is_quoted_form(s: str) -> bool:
    # Our pulumi-aws form never starts with an unescaped quote (a quote in the value is \").
    return s.lstrip().startswith('"')


def parse_route53_txt(s: str) -> list[str]:
    """Inverse of :func:`route53_txt`: the character-strings of one Route53 TXT entry.

    Accepts the pulumi-aws form ``a""b`` and the fully quoted API form ``"a" "b"``.
    Chunk sizes are not enforced here: see :func:`check_route53_txt`.
    """
    if not isinstance(s, str):
        raise TxtError(f"Route53 TXT entry must be a str (got {type(s).__name__})")
    if _is_quoted_form(s):
        return _read_quoted(s.strip())
    return _split_plain(s)


def check_route53_txt(s: str) -> list[Problem]:
    """Problems with one Route53 TXT entry (empty list: fine); codes in ``CODES``.

    The ``tag`` of a too-long string is its index among the entry's strings.
    """
    try:
        strings = parse_route53_txt(s)
    except TxtError as exc:
        return [Problem("txt-syntax", str(exc), exc.tag)]
    problems = []
    for index, size in enumerate(chunk_sizes(strings)):
        if size > MAX_STRING_BYTES:
            message = (
                f'TXT string {index} is {size} bytes, over the {MAX_STRING_BYTES}-byte limit; split it with "" (route53_txt)'
            )
            problems.append(Problem("txt-string-too-long", message, str(index)))
    sent = len(s) if s.startswith('"') else len(s) + 2  # pulumi-aws adds the outer quotes
    if sent > ROUTE53_MAX_VALUE_CHARS:
        message = (
            f"TXT value is {sent} characters as Route53 receives it, over its {ROUTE53_MAX_VALUE_CHARS}-character limit per value"
        )
        problems.append(Problem("txt-record-too-large", message))
    return problems


def cloudflare_txt(value: str) -> str:
    """Cloudflare ``content`` for a TXT record: quoted character-strings of at most 255 bytes.

    Cloudflare's API documents TXT content as "quoted 'character strings' (RFC 1035), each
    with a length of up to 255 bytes"; it splits longer strings itself, and warns about
    content without quotes. This is :func:`to_rdata_text`: ``"first255" "rest"``.
    """
    return to_rdata_text(value)


def wire_size(name: str, strings: Iterable[str]) -> int:
    """Bytes of one TXT resource record in wire format (RFC 1035 3.2.1), uncompressed.

    Owner name (labels with their length octets and the root), then type, class, TTL
    and RDLENGTH (10 octets), then each character-string with its length octet.
    """
    labels = [label for label in name.rstrip(".").split(".") if label]
    owner = sum(1 + len(label.encode("utf-8")) for label in labels) + 1
    return owner + 10 + sum(1 + size for size in chunk_sizes(strings))


def check_cloudflare_txt(content: str, name: str | None = None) -> list[Problem]:
    """Problems with one Cloudflare TXT ``content`` (empty: Cloudflare takes and serves it).

    Both what Cloudflare documents (quoted strings) and a raw value are accepted: a raw
    value, and a quoted string over 255 bytes, are split into 255-byte strings by
    Cloudflare. With ``name`` the record's wire size is checked against Cloudflare's
    4,096-byte limit (CLOUDFLARE_MAX_RECORD_WIRE_BYTES).
    """
    try:
        strings = [piece for s in parse_cloudflare_txt(content) for piece in split_txt(s)]
    except TxtError as exc:
        return [Problem("txt-syntax", str(exc))]
    if name is None:
        return []
    size = wire_size(name, strings)
    if size > CLOUDFLARE_MAX_RECORD_WIRE_BYTES:
        return [
            Problem(
                "txt-record-too-large",
                f"TXT record {name} is {size} bytes in wire format, over Cloudflare's "
                f"{CLOUDFLARE_MAX_RECORD_WIRE_BYTES}-byte limit per record",
            )
        ]
    return []


def parse_cloudflare_txt(content: str) -> list[str]:
    """Character-strings of a Cloudflare ``content``: quoted ``"a" "b"`` or one raw value."""
    if not isinstance(content, str):
        raise TxtError(f"Cloudflare TXT content must be a str (got {type(content).__name__})")
    if _is_quoted_form(content):
        return _read_quoted(content.strip())
    return split_txt(content)
