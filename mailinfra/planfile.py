"""Reading a saved JSON plan (`mailinfra verify --plan FILE`) that a person may have edited.

`load_plan_file(path)` returns the plan as a dict, or raises `PlanFileError` whose
message is one line naming the file and the JSON path of the first thing wrong:

    --plan: plan.json: resources[3].inputs.records[0]: a TXT value must be a string (got 12)

It checks what the plan's readers (mailinfra.dnsplan, verify) rely on: the plan is an
object with a `resources` list; every resource is an object with string `urn` and
`type`, object `inputs` and `options`, a list of string `dependencies`; every DNS record
resource has string `name`/`type`/`zoneId`, an integer `ttl`, values of the type its
provider form holds (a list of strings for Route53, a string for Cloudflare) and an MX
preference that is a number from 0 to 65535. "[unknown]" and "[secret]" stand for any
value. A file of format 2 (`formatVersion`, docs/plan.schema.json) has its typed
markers turned into those strings first (mailinfra.planformat.placeholder_view); an
unversioned (format 1) file is read as is; another version is refused. `load_json(path, what)` is the JSON reader underneath: one-line errors, no
NaN/Infinity, containers nested at most MAX_JSON_DEPTH deep (deeper JSON would end in
RecursionError; a scalar inside the innermost container is not a level).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, NoReturn

from mailinfra.policies.mailinfra_policy import providers

from .planformat import FORMAT_VERSION, placeholder_text, placeholder_view
from .verify.errors import VerifyInputError

__all__ = ["MAX_JSON_DEPTH", "PlanFileError", "check_plan", "load_json", "load_plan_file"]

MAX_JSON_DEPTH = 100  # a real plan nests under 20 levels (CloudFront distributions)
MAX_PREFERENCE = 65535  # RFC 1035: MX PREFERENCE is a 16-bit integer
MAX_TTL = 2**31 - 1  # RFC 2181 section 8

# Where each provider's record resource holds its values (its adapter's resource form,
# policies/mailinfra_policy/providers): the input, and whether it is a list of entries.
# tests/test_bad_input.py checks that every adapter's record type is listed here.
VALUE_FIELDS: dict[str, tuple[str, bool]] = {
    providers.ROUTE53.record_type: ("records", True),
    providers.CLOUDFLARE.record_type: ("content", False),
}
PRIORITY_FIELD = {providers.CLOUDFLARE.record_type: "priority"}  # MX preference as its own input


class PlanFileError(VerifyInputError):
    """A plan file that cannot be read or is not a mailinfra JSON plan (exit 2)."""


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if _jsonable(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonable(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool)) or (isinstance(value, (list, dict)) and len(value) < 8)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a JSON number")
    return value


_KEEP_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')  # bytes.translate's delete set
_EMPTY_PAIR = re.compile(rb"\[\]|\{\}")


def _depth(text: bytes, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep the containers of a JSON text that parsed nest, or ``limit + 1`` once
    deeper: on the bytes, without a walk of the parsed value (millions of objects in a
    fleet's plan). Escaped backslashes, then escaped quotes, go first (left to right, as
    JSON pairs them); then only brackets and quotes are kept; removing adjacent quote
    pairs and then every quoted span leaves the brackets outside strings, whose depth is
    the number of rounds that remove the innermost pairs."""
    if b"\\" in text:
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    shape = text.translate(None, _KEEP_STRUCTURE).replace(b'""', b"")
    if b'"' in shape:
        shape = b"".join(shape.split(b'"')[::2])
    depth = 0
    while shape:
        shape = _EMPTY_PAIR.sub(b"", shape)
        depth += 1
        if depth > limit:
            break
    return depth


def _read(path: str, what: str) -> tuple[bytes, str]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise PlanFileError(f"{what}: cannot read {path!r}: {exc.strerror or exc}") from None
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanFileError(f"{what}: {path}: not UTF-8 text") from None


def _parse(text: str, prefix: str) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise PlanFileError(f"{prefix}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise PlanFileError(f"{prefix}: JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:  # NaN, Infinity, 1e999, an integer beyond Python's digit limit
        raise PlanFileError(f"{prefix}: not valid JSON: {' '.join(str(exc).split())}") from None


def _too_deep(prefix: str) -> PlanFileError:
    return PlanFileError(f"{prefix}: JSON nested deeper than {MAX_JSON_DEPTH} levels")


def load_json(path: str, what: str) -> Any:
    """Parse a JSON file; every failure is one PlanFileError line naming `what` and `path`."""
    prefix = f"{what}: {path}"
    raw, text = _read(path, what)
    data = _parse(text, prefix)
    if _depth(raw) > MAX_JSON_DEPTH:
        raise _too_deep(prefix)
    return data


def load_plan_file(path: str, what: str = "--plan") -> dict[str, Any]:
    """A JSON plan from `mailinfra plan --format json`, checked (see the module doc)."""
    prefix = f"{what}: {path}"
    raw, text = _read(path, what)
    data: Any = None
    converted_on_text = False
    fast = placeholder_text(text)
    if fast is not None:
        # typed markers -> the placeholder strings, on the text (a thousand domains'
        # plan is 40+ MB: walking and copying the parsed document took seconds)
        converted, replaced = fast
        try:
            data = _parse(converted, prefix)
        except PlanFileError:
            data = None  # report from the original text below (positions shift)
        if data is not None and replaced and not (isinstance(data, dict) and data.get("formatVersion") == FORMAT_VERSION):
            data = None  # markers are values only in a format-2 plan: read this one as written
        converted_on_text = data is not None
    if data is None:
        data = _parse(text, prefix)
    if _depth(raw) > MAX_JSON_DEPTH:  # the file as written (a secret object is one level)
        raise _too_deep(prefix)
    if isinstance(data, dict) and "formatVersion" in data:
        _check_version(data, prefix)
        if not converted_on_text:
            data = placeholder_view(data)  # typed markers -> the placeholder strings, by the walk
        # the placeholder view is what format 1 was: no version, so no reader converts it again
        data = {k: v for k, v in data.items() if k != "formatVersion"}
    check_plan(data, prefix)
    return data


def _check_version(data: Mapping[str, Any], prefix: str) -> None:
    version = data["formatVersion"]
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise PlanFileError(f"{prefix}: formatVersion: this mailinfra reads plan format {FORMAT_VERSION} (got {_short(version)})")


class _Check:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def fail(self, where: str, message: str) -> NoReturn:
        raise PlanFileError(f"{self.prefix}: {where}: {message}")

    def kind(self, where: str, value: Any, want: type | tuple[type, ...], name: str, *, placeholder: bool = False) -> None:
        if placeholder and providers.is_placeholder(value):
            return
        if isinstance(value, bool) and bool not in (want if isinstance(want, tuple) else (want,)):
            self.fail(where, f"must be {name} (got {_short(value)})")
        if not isinstance(value, want):
            self.fail(where, f"must be {name} (got {_kind(value)}: {_short(value)})")


def check_plan(data: Any, prefix: str = "--plan") -> None:
    """Raise PlanFileError at the first part of `data` a plan reader could not read."""
    c = _Check(prefix)
    if not isinstance(data, dict):
        raise PlanFileError(f"{prefix}: not a mailinfra JSON plan: expected an object with a resources list (got {_kind(data)})")
    if "resources" not in data:
        raise PlanFileError(f"{prefix}: not a mailinfra JSON plan (no resources list)")
    for key in ("stack", "project"):
        if key in data and data[key] is not None:
            c.kind(key, data[key], str, "a string")
    c.kind("resources", data["resources"], list, "a list of resource objects")
    if data.get("outputs") is not None:
        c.kind("outputs", data["outputs"], dict, "an object")
    if data.get("violations") is not None:
        c.kind("violations", data["violations"], list, "a list")
    for i, resource in enumerate(data["resources"]):
        _check_resource(c, f"resources[{i}]", resource)


def _check_resource(c: _Check, at: str, resource: Any) -> None:
    c.kind(at, resource, dict, "a resource object")
    for key in ("urn", "type"):
        if key not in resource:
            c.fail(at, f"has no {key}")
        c.kind(f"{at}.{key}", resource[key], str, "a string")
    if resource.get("name") is not None:
        c.kind(f"{at}.name", resource["name"], str, "a string")
    if resource.get("parent") is not None:
        c.kind(f"{at}.parent", resource["parent"], str, "a URN string or null")
    for key in ("inputs", "options"):
        if resource.get(key) is not None:
            c.kind(f"{at}.{key}", resource[key], dict, "an object")
    deps = resource.get("dependencies")
    if deps is not None:
        c.kind(f"{at}.dependencies", deps, list, "a list of URNs")
        for j, dep in enumerate(deps):
            c.kind(f"{at}.dependencies[{j}]", dep, str, "a URN string")
    rtype = resource["type"]
    inputs = resource.get("inputs") or {}
    if rtype in providers.ZONE_TYPES and "name" in inputs:
        c.kind(f"{at}.inputs.name", inputs["name"], str, "a zone name string", placeholder=True)
    if rtype in VALUE_FIELDS:
        _check_record(c, f"{at}.inputs", rtype, inputs)


def _check_record(c: _Check, at: str, resource_type: str, inputs: Mapping[str, Any]) -> None:
    for key in ("name", "type", "zoneId"):
        if key in inputs:
            c.kind(f"{at}.{key}", inputs[key], str, "a string", placeholder=True)
    rtype = inputs.get("type")
    rtype = rtype.upper() if isinstance(rtype, str) else None
    if "ttl" in inputs and not providers.is_placeholder(inputs["ttl"]):
        _check_int(c, f"{at}.ttl", inputs["ttl"], 0, MAX_TTL, "a TTL")
    field, is_list = VALUE_FIELDS[resource_type]
    raw = inputs.get(field)
    if raw is None or providers.is_placeholder(raw):
        entries: list[tuple[str, Any]] = []
    elif is_list:
        c.kind(f"{at}.{field}", raw, list, "a list of record values")
        entries = [(f"{at}.{field}[{j}]", v) for j, v in enumerate(raw)]
    else:
        entries = [(f"{at}.{field}", raw)]
    what = f"a {rtype} value" if rtype else "a record value"
    what = "an MX value" if rtype == "MX" else what
    priority_field = PRIORITY_FIELD.get(resource_type)
    for where, entry in entries:
        if not isinstance(entry, str):
            c.fail(where, f"{what} must be a string (got {_kind(entry)}: {_short(entry)})")
        if rtype == "MX" and priority_field is None and not providers.is_placeholder(entry):
            preference = entry.strip().split(None, 1)[0] if entry.strip() else ""
            # isascii: str.isdigit() is also true for "²", which int() refuses
            if not (preference.isascii() and preference.isdigit()) or int(preference) > MAX_PREFERENCE:
                c.fail(
                    where, f"an MX value is '<preference> <host>' with a number from 0 to {MAX_PREFERENCE} (got {_short(entry)})"
                )
    if rtype == "MX" and priority_field is not None and inputs.get(priority_field) is not None:
        value = inputs[priority_field]
        if not providers.is_placeholder(value):
            _check_int(c, f"{at}.{priority_field}", value, 0, MAX_PREFERENCE, "an MX preference")


def _check_int(c: _Check, where: str, value: Any, low: int, high: int, what: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (isinstance(value, float) and not (math.isfinite(value) and value.is_integer()))
    ):
        c.fail(where, f"{what} must be a whole number from {low} to {high} (got {_kind(value)}: {_short(value)})")
    if not low <= value <= high:
        c.fail(where, f"{what} must be a whole number from {low} to {high} (got {_short(value)})")
