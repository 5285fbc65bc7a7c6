"""The JSON plan file's value encoding (docs/plan.schema.json), and reading a plan back.

Values are written in the form the Pulumi engine sends an analyzer (protobuf Struct as
JSON), so a consumer that decodes Pulumi property values (pulumi_policy's
`deserialize_properties`, `MessageToDict` users) reads them without a mailinfra parser:

- unknown: the engine's unknown sentinel string `UNKNOWN_SENTINEL` (what a policy pack
  sees for a value a preview cannot know);
- secret: the engine's secret signature object `{SIG_KEY: SECRET_SIG}` with no `value`
  key. Pulumi puts the plaintext under `value`; leaving the key out (rather than
  writing a placeholder there) means no reader can take a placeholder for the secret.

Both are unambiguous: the 32-hex signature key and the sentinel UUID are reserved by
Pulumi and no real input uses them (a plain "[secret]" string could be a real value).
`plan_from_document(data)` rebuilds a `mailinfra.engine.Plan` from a file of format 2,
so `mailinfra.policyrun.run_policies` can re-judge it (a secret re-reads as a secret of
unknown content). `placeholder_view(data)` turns a document back into the in-process
placeholder view ("[unknown]" / "[secret]") that verify and zone export read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from .values import SECRET_TEXT, UNKNOWN, UNKNOWN_TEXT, Secret

__all__ = [
    "FORMAT_VERSION",
    "SECRET_SIG",
    "SIG_KEY",
    "UNKNOWN_SENTINEL",
    "from_document",
    "is_secret_marker",
    "placeholder_text",
    "placeholder_view",
    "plan_from_document",
    "to_document",
]

# 1: the unversioned format (string placeholders, no outputs/property dependencies).
FORMAT_VERSION: Final = 2
# pulumi/sdk go/common/resource/properties.go and plugin/rpc.go (also pulumi.runtime.rpc)
SIG_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN_SENTINEL: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_secret_marker(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get(SIG_KEY) == SECRET_SIG


def to_document(value: Any) -> Any:
    """Plan value -> JSON-ready value with typed markers; a secret's content is dropped."""
    if value is UNKNOWN:
        return UNKNOWN_SENTINEL
    if isinstance(value, Secret):
        return {SIG_KEY: SECRET_SIG}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_document(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_document(v) for v in value]
    return str(value)


def from_document(value: Any) -> Any:
    """JSON value with typed markers -> plan value (`UNKNOWN`, `Secret(UNKNOWN)`)."""
    if value == UNKNOWN_SENTINEL:
        return UNKNOWN
    if is_secret_marker(value):
        return Secret(UNKNOWN)
    if isinstance(value, Mapping):
        return {k: from_document(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_document(v) for v in value]
    return value


def placeholder_view(value: Any) -> Any:
    """Typed markers -> the "[unknown]" / "[secret]" strings of the placeholder view."""
    if value == UNKNOWN_SENTINEL:
        return UNKNOWN_TEXT
    if is_secret_marker(value):
        return SECRET_TEXT
    if isinstance(value, Mapping):
        return {k: placeholder_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return [placeholder_view(v) for v in value]
    return value


_SECRET_OBJECT = re.compile(r'\{\s*"%s"\s*:\s*"%s"\s*\}' % (SIG_KEY, SECRET_SIG))
_SENTINEL_KEY = re.compile(r'"%s"\s*:' % UNKNOWN_SENTINEL)
# a \u escape of a character the markers are made of (digits, a-f, "-"): a marker written
# with escapes is still a marker once parsed, which text replacement cannot see
_MARKER_ESCAPE = re.compile(r"\\u00(?:3[0-9]|6[1-6]|2[dD])")


def placeholder_text(text: str) -> tuple[str, int] | None:
    """`placeholder_view` done on the JSON text, without walking the parsed document:
    (text with every marker written as its placeholder string, markers replaced), or
    None when some marker is not in the one form replaced here (escaped, a sentinel as
    a key, a secret object with more keys): the caller parses and walks then.

    Replacing ``"<sentinel>"`` by ``"[unknown]"`` and ``{"<sig>": "<secret>"}`` by
    ``"[secret]"`` keeps every quote where it was, so the text's tokens are unchanged
    outside those spans; an unescaped quote always delimits a string, so a replaced span
    is a whole string (or a whole object) in any text that parses - unless its opening
    quote is an escaped one (``\\"<sentinel>"`` ends a longer string): then None. A text that does not
    parse must be reported from the original (positions shift)."""
    if _MARKER_ESCAPE.search(text):
        return None
    unknown = text.count(UNKNOWN_SENTINEL)
    quoted = f'"{UNKNOWN_SENTINEL}"'
    # after an escaped quote the sentinel is the tail of a longer string, not a value
    if unknown and (text.count(quoted) != unknown or _SENTINEL_KEY.search(text) or f'\\"{UNKNOWN_SENTINEL}' in text):
        return None
    out = text.replace(quoted, f'"{UNKNOWN_TEXT}"') if unknown else text
    secrets = out.count(SIG_KEY)
    if secrets:
        out, replaced = _SECRET_OBJECT.subn(f'"{SECRET_TEXT}"', out)
        if replaced != secrets:
            return None
    return out, unknown + secrets


def plan_from_document(data: Mapping[str, Any]) -> Any:
    """A `mailinfra.engine.Plan` from a JSON plan file of format 2 (checked by the caller)."""
    from .engine import Plan, PlannedResource

    if data.get("formatVersion") != FORMAT_VERSION:
        raise ValueError(f"a plan of formatVersion {FORMAT_VERSION} is needed to re-judge (got {data.get('formatVersion')!r})")
    resources = [
        PlannedResource(
            urn=r["urn"],
            type=r["type"],
            name=r.get("name") or r["urn"].rsplit("::", 1)[-1],
            parent=r.get("parent"),
            custom=bool(r.get("custom", True)),
            inputs=from_document(r.get("inputs") or {}),
            outputs=from_document(r.get("outputs") or {}),
            dependencies=list(r.get("dependencies") or []),
            property_dependencies={k: list(v) for k, v in (r.get("propertyDependencies") or {}).items()},
            options=from_document(r.get("options") or {}),
        )
        for r in data["resources"]
    ]
    return Plan(
        project=data.get("project") or "",
        stack=data.get("stack") or "",
        config=from_document(data.get("config") or {}),
        resources=resources,
        outputs=from_document(data.get("outputs") or {}),
        preview=bool(data.get("preview", True)),
    )
