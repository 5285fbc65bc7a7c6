"""Bytes from strangers: plain, gzip, zip or a MIME message, decompressed within bounds.

Every report arrives as a file (or an S3 object) whose bytes come from a receiver we do
not control. `payloads(name, data, limits)` yields `Payload(name, kind, data)` for each
report inside: `kind` is "xml" (DMARC aggregate, RFC 9990) or "json" (TLS-RPT, RFC 8460).
What it refuses raises `ReportError`, one line naming the problem; the caller names the
file and goes on with the next one.

Bounds (`Limits`): decompressed bytes per report (gzip and zip bombs stop at the cap, they
are never inflated whole), members per zip, and one level of archive: a zip or gzip inside
a zip or gzip is refused (a MIME message is a container, not an archive: its attachments
may be gzip or zip). Zip member names are never used as paths; a member whose name climbs
out (`..`, an absolute path, a drive letter) marks the archive as hostile and refuses it.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from mailinfra.policies.mailinfra_policy.standards.errors import InputError

__all__ = ["Limits", "Payload", "ReportError", "payloads", "safe_name", "sniff"]

MB = 1024 * 1024
_CHUNK = 64 * 1024
_GZIP = b"\x1f\x8b"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive's end record
# a MIME message (SES stores each received mail whole) starts with a header field
_MIME_FIELDS = (
    b"received:",
    b"return-path:",
    b"from:",
    b"to:",
    b"subject:",
    b"date:",
    b"mime-version:",
    b"message-id:",
    b"content-type:",
    b"delivered-to:",
    b"x-",
    b"dkim-signature:",
    b"arc-",
    b"authentication-results:",
)


class ReportError(InputError):
    """A report (or the file holding it) is malformed, hostile or over a bound."""

    where: str | None = None  # the member or attachment at fault, "FILE!member"; None: the file itself


def _within(name: str, members: Iterator[tuple[str, bytes]], limits: Limits, depth: int) -> Iterator[Payload]:
    for member, body in members:
        try:
            yield from _inner(f"{name}!{member}", body, limits, depth)
        except ReportError as exc:
            if exc.where is None:
                exc.where = f"{name}!{member}"
            raise


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 50 * MB  # decompressed bytes of one report (and compressed bytes of one file)
    max_records: int = 100_000  # <record> rows of one DMARC report, failure details of one TLS report
    max_members: int = 20  # members of one zip, attachments of one message


@dataclass(frozen=True)
class Payload:
    name: str  # the file, plus "!member" inside an archive or message
    kind: str  # "xml" | "json"
    data: bytes


def safe_name(name: str) -> str:
    """A stranger's name (zip member, S3 key) on one printable line."""
    out = []
    for ch in name:
        out.append(
            ch if ch.isprintable() and ch not in "\r\n\t" else f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"
        )
    text = "".join(out)
    return text if len(text) <= 300 else text[:299] + "…"


def sniff(data: bytes) -> str:
    """What `data` looks like: gzip, zip, xml, json, mime, empty or unknown."""
    if not data.strip():
        return "empty"
    if data.startswith(_GZIP):
        return "gzip"
    if data.startswith(_ZIP):
        return "zip"
    head = data.lstrip()[:256]
    if head.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte order mark
        head = head[3:].lstrip()
    if head.startswith(b"<"):
        return "xml"
    if head.startswith((b"{", b"[")):
        return "json"
    if head.lower().startswith(_MIME_FIELDS):
        return "mime"
    return "unknown"


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of `data`, never past `limit` bytes of output."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        try:
            while pending and not inflater.eof:
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise ReportError(f"decompresses to more than {limit:,} bytes (a gzip bomb, or raise --max-bytes)")
                pending = inflater.unconsumed_tail
            if not inflater.eof:
                raise ReportError("truncated gzip data")
        except zlib.error as exc:
            raise ReportError(f"corrupt gzip data ({exc})") from None
        rest = inflater.unused_data
        if rest.strip(b"\x00") == b"":  # padding after the last member
            break
        if not rest.startswith(_GZIP):
            raise ReportError("trailing bytes after the gzip data")
    return bytes(out)


def _bad_member_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":") or "\x00" in name


def _unzip(data: bytes, limits: Limits) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise ReportError(f"not a readable zip archive ({exc})") from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) > limits.max_members:
            raise ReportError(f"zip archive has {len(members):,} members (at most {limits.max_members} read)")
        if not members:
            raise ReportError("zip archive is empty")
        for info in members:
            if _bad_member_name(info.filename):
                raise ReportError(f"zip member name {info.filename!r} climbs out of the archive (refused)")
        total = 0
        for info in members:
            if info.flag_bits & 0x1:
                raise ReportError(f"zip member {info.filename!r} is encrypted")
            if info.file_size > limits.max_bytes - total:
                raise ReportError(
                    f"zip member {info.filename!r} declares {info.file_size:,} bytes (over {limits.max_bytes:,}: a zip bomb, or raise --max-bytes)"
                )
            try:
                with archive.open(info) as stream:
                    body = stream.read(limits.max_bytes - total + 1)  # the declared size may lie
            except (zipfile.BadZipFile, zlib.error, NotImplementedError, ValueError, OSError, EOFError) as exc:
                raise ReportError(f"zip member {info.filename!r} cannot be read ({exc})") from None
            total += len(body)
            if total > limits.max_bytes:
                raise ReportError(
                    f"zip archive decompresses to more than {limits.max_bytes:,} bytes (a zip bomb, or raise --max-bytes)"
                )
            yield info.filename, body


def _attachments(data: bytes, limits: Limits) -> Iterator[tuple[str, bytes]]:
    """The report attachments of a MIME message (RFC 9990 section 5, RFC 8460 section 5.3)."""
    from email import policy
    from email.parser import BytesParser

    try:
        message = BytesParser(policy=policy.compat32).parsebytes(data)
    except Exception as exc:  # noqa: BLE001 - the email package raises many kinds on garbage
        raise ReportError(f"not a readable MIME message ({exc.__class__.__name__})") from None
    found = 0
    for index, part in enumerate(message.walk()):
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename() or ""
        if ctype.startswith("text/") and ctype not in ("text/xml",) and not filename:
            continue  # the human-readable body
        try:
            body = part.get_payload(decode=True)
        except Exception:  # noqa: BLE001
            body = None
        if not isinstance(body, bytes) or not body.strip():
            continue
        found += 1
        if found > limits.max_members:
            raise ReportError(f"message has more than {limits.max_members} attachments")
        yield filename or f"part{index}", body
    if not found:
        raise ReportError("message has no report attachment")


def _inner(name: str, data: bytes, limits: Limits, depth: int) -> Iterator[Payload]:
    kind = sniff(data)
    if kind in ("xml", "json"):
        yield Payload(name, kind, data)
        return
    if kind == "empty":
        raise ReportError("empty")
    if kind in ("gzip", "zip"):
        if depth >= 1:
            raise ReportError(f"a {kind} archive inside an archive (nested archives are refused)")
        if kind == "gzip":
            yield from _inner(name, _gunzip(data, limits.max_bytes), limits, depth + 1)
        else:
            yield from _within(name, _unzip(data, limits), limits, depth + 1)
        return
    if kind == "mime" and depth == 0:
        yield from _within(name, _attachments(data, limits), limits, depth)  # a message is no archive level
        return
    raise ReportError("neither XML, JSON, gzip, zip nor a MIME message (binary garbage?)")


def payloads(name: str, data: bytes, limits: Limits) -> Iterator[Payload]:
    """Each report inside `data` (a file's bytes); ReportError for the whole file."""
    if len(data) > limits.max_bytes:
        raise ReportError(f"file is larger than {limits.max_bytes:,} bytes (raise --max-bytes)")
    yield from _inner(name, data, limits, 0)
