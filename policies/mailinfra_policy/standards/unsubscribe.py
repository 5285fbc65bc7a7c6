"""List-Unsubscribe (RFC 2369) and one-click unsubscribe (RFC 8058) header rules.

API:
    ONE_CLICK = "List-Unsubscribe=One-Click"       # the one List-Unsubscribe-Post value
    SIGNED_HEADERS = ("list-unsubscribe", "list-unsubscribe-post")  # RFC 8058 3: DKIM must cover both
    CODES                                          # stable problem codes (below)
    parse_list_unsubscribe(value) -> tuple[str, ...]   # the <URI>s in order, or UnsubscribeError
    https_uris(uris) / mailto_uris(uris) -> tuple[str, ...]
    is_one_click(value) -> bool                    # List-Unsubscribe-Post says exactly ONE_CLICK
    check_list_unsubscribe(value) -> list[Problem]         # [] when it has a valid https: URI
    check_list_unsubscribe_post(value) -> list[Problem]    # [] when it is the one-click value
    unsigned_headers(signed) -> tuple[str, ...]    # which of SIGNED_HEADERS a DKIM h= list lacks
    POST_CONTENT_TYPE = "application/x-www-form-urlencoded"
    one_click_request() -> OneClickRequest         # the receiver's POST: method, content type, body
    endpoint(url) -> Endpoint                      # host, port, target of an https: URI, or UnsubscribeError
    check_endpoint_url(url) -> list[Problem]; check_response(status, location) -> list[Problem]

RFC 2369 3.1: a comma-separated list of URIs, each in angle brackets, with optional
whitespace and ``(comments)``. RFC 8058 3.1: the header MUST hold one HTTPS URI (it may
hold others, e.g. ``mailto:``), the POST header MUST be ``List-Unsubscribe=One-Click``,
and RFC 8058 3 says both MUST be covered by a valid DKIM signature. Plain ``http:``
is not one-click: receivers (Gmail, Yahoo) require ``https:``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._uris import https_host, mailto_domain
from .errors import Problem, UnsubscribeError

__all__ = [
    "CODES",
    "MAX_HEADER_LENGTH",
    "ONE_CLICK",
    "SIGNED_HEADERS",
    "UnsubscribeError",
    "check_list_unsubscribe",
    "check_list_unsubscribe_post",
    "https_uris",
    "is_one_click",
    "mailto_uris",
    "parse_list_unsubscribe",
    "unsigned_headers",
    # the live one-click POST
    "POST_CONTENT_TYPE",
    "Endpoint",
    "OneClickRequest",
    "check_endpoint_url",
    "check_response",
    "endpoint",
    "one_click_request",
]

ONE_CLICK = "List-Unsubscribe=One-Click"
SIGNED_HEADERS = ("list-unsubscribe", "list-unsubscribe-post")
MAX_HEADER_LENGTH = 8192  # a header value longer than this is not parsed (hostile input)
CODES = (
    "unsubscribe-missing",
    "unsubscribe-syntax",
    "unsubscribe-no-https",
    "unsubscribe-http",
    "unsubscribe-post-missing",
    "unsubscribe-post-value",
    # the live one-click POST (verify): check_endpoint_url, check_response
    "unsubscribe-url",
    "unsubscribe-redirect",
    "unsubscribe-method",
    "unsubscribe-status",
)

_COMMENT = re.compile(r"\([^()]*\)")


def parse_list_unsubscribe(value: str) -> tuple[str, ...]:
    """The URIs of a List-Unsubscribe value (``<uri>, <uri>``), in order."""
    if not isinstance(value, str) or not value.strip():
        raise UnsubscribeError("List-Unsubscribe is empty")
    if len(value) > MAX_HEADER_LENGTH:
        raise UnsubscribeError(f"List-Unsubscribe is {len(value)} characters long (at most {MAX_HEADER_LENGTH} are read)")
    text = " ".join(value.split())  # unfold
    for _ in range(3):  # comments may nest a little (RFC 5322 ccontent)
        text = _COMMENT.sub(" ", text)
    uris: list[str] = []
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        if not (item.startswith("<") and item.endswith(">")) or item.count("<") != 1:
            raise UnsubscribeError(f"List-Unsubscribe: {item[:80]!r} is not a <URI> (RFC 2369 3.1)")
        uri = "".join(item[1:-1].split())  # whitespace inside <> is folding, not part of the URI
        if not uri:
            raise UnsubscribeError("List-Unsubscribe: an empty <> (RFC 2369 3.1)")
        uris.append(uri)
    if not uris:
        raise UnsubscribeError("List-Unsubscribe holds no <URI>")
    return tuple(uris)


def https_uris(uris: Iterable[str]) -> tuple[str, ...]:
    return tuple(u for u in uris if https_host(u) is not None)


def mailto_uris(uris: Iterable[str]) -> tuple[str, ...]:
    return tuple(u for u in uris if mailto_domain(u) is not None)


def is_one_click(value: str | None) -> bool:
    """RFC 8058 3.1: the List-Unsubscribe-Post value is exactly ``List-Unsubscribe=One-Click``."""
    return isinstance(value, str) and value.strip() == ONE_CLICK


def check_list_unsubscribe(value: str | None) -> list[Problem]:
    """Problems with a message's List-Unsubscribe value ([] when it has a valid https: URI)."""
    if value is None:
        return [Problem("unsubscribe-missing", "no List-Unsubscribe header (RFC 2369, RFC 8058 3.1)")]
    try:
        uris = parse_list_unsubscribe(value)
    except UnsubscribeError as exc:
        return [Problem("unsubscribe-syntax", str(exc))]
    if https_uris(uris):
        return []
    if any(u.lower().startswith("http:") for u in uris):
        return [Problem("unsubscribe-http", "List-Unsubscribe has an http: URI, not https: (RFC 8058 3.1 needs HTTPS)")]
    return [Problem("unsubscribe-no-https", "List-Unsubscribe has no valid https: URI (RFC 8058 3.1)")]


def check_list_unsubscribe_post(value: str | None) -> list[Problem]:
    """Problems with List-Unsubscribe-Post ([] when it is ``List-Unsubscribe=One-Click``)."""
    if value is None:
        return [Problem("unsubscribe-post-missing", f"no List-Unsubscribe-Post header (RFC 8058 3.1: {ONE_CLICK})")]
    if not is_one_click(value):
        shown = value.strip()[:80]
        return [Problem("unsubscribe-post-value", f"List-Unsubscribe-Post is {shown!r}, not {ONE_CLICK!r} (RFC 8058 3.1)")]
    return []


def unsigned_headers(signed: Iterable[str]) -> tuple[str, ...]:
    """Which of ``SIGNED_HEADERS`` the header names of a DKIM ``h=`` list lack (RFC 8058 3)."""
    have = {h.strip().lower() for h in signed}
    return tuple(h for h in SIGNED_HEADERS if h not in have)


# --- the live one-click POST (mailinfra verify's unsubscribe-one-click check) ----------
# RFC 8058 3.1: the receiver unsubscribes with one HTTPS POST whose form-encoded body is
# ``List-Unsubscribe=One-Click``, without cookies or credentials; it follows no page, no
# GET and no login. So a redirect (typically to a login page), a POST refused (405: a
# GET-only endpoint) or any other non-2xx answer means the one click does not unsubscribe.

POST_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Where a redirect usually goes when an endpoint wants a session: named in the message.
_LOGIN = re.compile(r"log-?in|sign-?in|sso|auth|session|account", re.IGNORECASE)


@dataclass(frozen=True)
class OneClickRequest:
    method: str
    content_type: str
    body: bytes


@dataclass(frozen=True)
class Endpoint:
    host: str  # lowercase, no trailing dot
    port: int
    target: str  # path and query, as sent in the request line


def one_click_request() -> OneClickRequest:
    """What a receiver sends (RFC 8058 3.1): POST, form-encoded ``List-Unsubscribe=One-Click``."""
    return OneClickRequest("POST", POST_CONTENT_TYPE, ONE_CLICK.encode("ascii"))


def endpoint(url: str) -> Endpoint:
    """Host, port and request target of an ``https:`` unsubscribe URI; UnsubscribeError otherwise.

    The message never quotes the URI (it may be a secure config value)."""
    host = https_host(url) if isinstance(url, str) else None
    if host is None:
        raise UnsubscribeError("the one-click unsubscribe URI must be an https:// URI with a host name (RFC 8058 3.1)")
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Endpoint(host, parts.port or 443, target)


def check_endpoint_url(url: str) -> list[Problem]:
    """Problems with a one-click endpoint URI ([] when fine); code ``unsubscribe-url``."""
    try:
        endpoint(url)
    except UnsubscribeError as exc:
        return [Problem("unsubscribe-url", str(exc))]
    return []


def check_response(status: int, location: str = "") -> list[Problem]:
    """Problems with the answer to the one-click POST ([] for a 2xx).

    ``location`` is the answer's Location header (untrusted: the caller shortens it).
    Codes: ``unsubscribe-redirect`` (3xx: the receiver does not follow it),
    ``unsubscribe-method`` (405/501: the endpoint does not take the POST, e.g. GET-only),
    ``unsubscribe-status`` (any other non-2xx)."""
    if 200 <= status < 300:
        return []
    if 300 <= status < 400:
        where = location or "no Location"
        login = " (a login page)" if location and _LOGIN.search(location) else ""
        message = f"HTTP {status} redirect to {where}{login}: the one-click POST must unsubscribe without a redirect"
        return [Problem("unsubscribe-redirect", message)]
    if status in (405, 501):
        message = f"HTTP {status}: the endpoint does not accept the one-click POST (a GET must not be required, RFC 8058 3.1)"
        return [Problem("unsubscribe-method", message)]
    return [Problem("unsubscribe-status", f"HTTP {status}: the one-click POST must be answered with 2xx")]
