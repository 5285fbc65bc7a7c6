"""Issue 11, defect 6: every config key a text names exists in the config model.

Texts that send a user to a stack-file key: the policy pack's remediation registry,
the error messages (string constants of components/, the rules and the tool), the
README's tables, the record-kind registry's config sections and the stack keys that
preflight maps component arguments to. The model's keys come from
``mailinfra.components.config.config_keys()``, built from the tuples its readers use.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailinfra.components.config import DOMAIN_KEYS, NAMESPACE, TOP_KEYS, config_keys, parse_config
from mailinfra.policies.mailinfra_policy import REMEDIATION
from mailinfra.policies.mailinfra_policy.standards import kinds
from tests.test_config import stack_raw

ROOT = Path(__file__).resolve().parent.parent
KEYS = config_keys()
# A key reference starts with a config section (a top-level or per-domain key), or with
# the namespace: "spf.all", "dmarc.policy", "mailinfra:compliance.allowedRegions",
# "domains[].dkim.selectors[].retireAfter", "mailinfra:zones.<zone>.provider". Not part
# of one: attribute access ("cfg.keys"), quoted tag keys ('mailinfra:role'), calls
# ("spf.build_spf("), type tokens ("mailinfra:domain:SendingDomain").
_REF = re.compile(
    r"(?<![\w/'\".<-])(?:(?P<ns>" + NAMESPACE + r")[:.])?"
    r"(?P<path>[a-z][A-Za-z0-9]*(?:\[\d*\])?(?:\.(?:[a-z][A-Za-z0-9]*|<zone>)(?:\[\d*\])?)*)"
    r"(?![\w(/-]|:[A-Za-z])"
)
# ".ip6" after "domains[].spf.ip4", ".unsubscribeUrl" after "mailinfra:compliance.postalAddress"
_CONTINUATION = re.compile(r"(?:(?<=\s)|(?<=`))\.(?P<name>[a-z][A-Za-z0-9]*)(?![\w(])")
_SECTIONS = frozenset(TOP_KEYS) | frozenset(DOMAIN_KEYS)


def _section_like(first: str) -> bool:
    return first in _SECTIONS or bool(difflib.get_close_matches(first, _SECTIONS, n=1, cutoff=0.8))


def _normal(path: str) -> str:
    path = re.sub(r"(?<=\])\([^()\s]*\)", "", path)  # "domains[0](mail.example.com).ttl"
    path = re.sub(r"\[\d*\]", "[]", path)
    return path[: -len("[]")] if path.endswith("[]") else path


def _exists(path: str) -> bool:
    path = _normal(path)
    return f"{NAMESPACE}:{path}" in KEYS or f"{NAMESPACE}:domains[].{path}" in KEYS


def key_references(text: str) -> Iterator[str]:
    """The config keys ``text`` names, as written there."""
    text = re.sub(r"(?<=\])\([^()\s]*\)", "", text)
    spans: list[tuple[int, str]] = []
    for m in _REF.finditer(text):
        path = m.group("path")
        first = re.split(r"[.\[]", path, maxsplit=1)[0]
        if path.endswith(".amazonaws.com"):  # a service principal ("events.amazonaws.com"), not a key
            continue
        if (m.group("ns") or "." in path) and _section_like(first):
            spans.append((m.start(), path))
    for m in _CONTINUATION.finditer(text):
        before = [p for start, p in spans if start < m.start()]
        if before and "." in before[-1]:
            spans.append((m.start(), before[-1].rsplit(".", 1)[0] + "." + m.group("name")))
    yield from (p for _, p in sorted(spans))


def unknown_keys(text: str) -> list[str]:
    return [p for p in key_references(text) if not _exists(p)]


def test_the_scanner_finds_keys_and_ignores_code() -> None:
    assert unknown_keys("Set the SPF 'all' qualifier to '-' (spf.allQualifier in the stack config).") == ["spf.allQualifier"]
    assert list(key_references("Set mailinfra:compliance.postalAddress, .unsubscribeUrl (https) and .oneClickUnsubscribe: true.")) == [
        "compliance.postalAddress", "compliance.unsubscribeUrl", "compliance.oneClickUnsubscribe",
    ]  # fmt: skip
    assert list(key_references("| `domains[].spf.ip4` / `.ip6` | list |")) == ["domains[].spf.ip4", "domains[].spf.ip6"]
    assert list(key_references("mailinfra.domains[0](mail.dev.example.com).dkim.selectors[1].retireAfter: bad")) == [
        "domains[0].dkim.selectors[1].retireAfter"
    ]
    code = "Build it with bimi.build_bimi(logo); cfg.keys.admins; {'mailinfra:role': 'mx'}; mailinfra:domain:SendingDomain; aws.kms.Key"
    assert list(key_references(code)) == []
    assert unknown_keys("mailinfra:complianse.allowedRegions") == ["complianse.allowedRegions"]  # a typo of a section


def test_config_keys_come_from_the_readers() -> None:
    assert "mailinfra:domains[].spf.all" in KEYS and "mailinfra:domains[].spf.allQualifier" not in KEYS
    assert "mailinfra:domains[].dkim.selectors[].retireAfter" in KEYS
    assert "mailinfra:network.allowedCidrs" in KEYS and "mailinfra:compliance.logRetentionDays" in KEYS
    assert "mailinfra:domainDefaults.dmarc.aspf" in KEYS and "mailinfra:domainDefaults.name" not in KEYS
    # every key listed is read: a stack that sets an unknown one is refused
    raw, region = stack_raw("dev")
    raw["domains"][0]["spf"]["allQualifier"] = "-"
    with pytest.raises(ValueError, match=r"\.spf\.allQualifier: unknown key 'allQualifier'"):
        parse_config(raw, stack="dev", region=region)


@pytest.mark.parametrize("rule", sorted(REMEDIATION))
def test_remediation_names_only_real_keys(rule: str) -> None:
    assert unknown_keys(REMEDIATION[rule]) == [], REMEDIATION[rule]


def _strings(path: Path) -> Iterator[tuple[int, str]]:
    """String constants of a module, docstrings excepted (they may describe other things)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }  # fmt: skip
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


SOURCES = sorted(
    [
        *ROOT.glob("components/*.py"),
        *ROOT.glob("policies/mailinfra_policy/*.py"),
        *ROOT.glob("mailinfra/**/*.py"),
        ROOT / "__main__.py",
    ]
)


def test_messages_name_only_real_keys() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line}: {key}"
        for path in SOURCES
        for line, text in _strings(path)
        for key in unknown_keys(text)
    ]
    assert wrong == []


def _readme_tables() -> list[str]:
    return [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if line.startswith("|")]


def test_readme_tables_name_only_real_keys() -> None:
    rows = _readme_tables()
    assert any("`domains[].dmarc.adkim`" in row for row in rows)  # the config table is there
    assert [(row[:60], unknown_keys(row)) for row in rows if unknown_keys(row)] == []


def _full(path: str) -> str:
    path = _normal(path)
    first = re.split(r"[.\[]", path, maxsplit=1)[0]
    return f"{NAMESPACE}:{path}" if first in TOP_KEYS else f"{NAMESPACE}:domains[].{path}"


def test_readme_config_table_lists_every_key() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Stack configuration\n", 1)[1].split("\n## ", 1)[0]
    first_column = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    refs = [p for cell in first_column for p in key_references(cell)]
    listed = {_full(p) for p in refs} | ({"aws:region"} if any("`aws:region`" in c for c in first_column) else set())
    items = tuple(_full(p) + "[]." for p in refs if p.endswith("[]"))  # "selectors[]" rows describe their items
    leaves = {
        k for k in KEYS
        if ":domainDefaults." not in k and not k.endswith(("[]", ".<zone>"))
        and not any(other.startswith((k + ".", k + "[].")) for other in KEYS)
    }  # fmt: skip
    assert sorted(k for k in leaves - listed if not k.startswith(items)) == []


def test_record_kinds_name_real_config_sections() -> None:
    assert [k.section for k in kinds.KINDS if not _exists(k.section)] == []


def test_preflight_maps_arguments_to_real_keys() -> None:
    from mailinfra.components import wiring

    raw, region = stack_raw("prod")
    cfg = parse_config(raw, stack="prod", region=region)
    tables = [wiring._keystore_keys(cfg), wiring._firewall_keys(cfg)]
    tables += [wiring._zone_keys(cfg, z) for z in cfg.zones]
    tables += [wiring._domain_keys(cfg, i) for i in range(len(cfg.domains))]
    zones = sorted((z.name for z in cfg.zones), key=len, reverse=True)
    wrong = []
    for table in tables:
        for argument, (path, _) in table.items():
            if path == "aws:region":
                continue
            for zone in zones:
                path = path.replace(f".zones.{zone}", ".zones.<zone>")
            assert path.startswith(f"{NAMESPACE}.")
            if not _exists(path[len(NAMESPACE) + 1 :]):
                wrong.append((argument, path))
    assert wrong == []
