"""SARIF 2.1.0 for a judged plan (GitHub code scanning).

One rule per policy of the pack (id = policy name, help = remediation,
defaultConfiguration.level = error for mandatory / warning for advisory in the plan's
environment, ``security-severity`` from the rule's registered severity, ``helpUri`` to
the README catalogue when the repository URL is known), one result per violation with
the resource URN as a logical location and a physical location:

- a resource the program registered itself (not inside a mailinfra component): the
  program line that registered it (the SDK's ``sourcePosition``, see engine.py);
- otherwise the line of the stack-file key that configures it: the violated key where
  the rule names one (``_KEYS``), under the resource's domain entry (found from the
  record's kind, standards/kinds.py) or the rule's config section (``config_section``,
  set where the rule is registered); ``domainDefaults`` when the domain does not set it;
- else the stack file's first line, or the program's main file.

``partialFingerprints`` hash the policy, the resource and the message with quoted values
and numbers taken out, so an alert survives a change of value; the run carries no
``automationDetails`` so the upload's ``category`` (one per stack) names the analysis.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import IO, Any

import yaml

from .policyrun import (
    LoadedPack,
    PolicyPackError,
    Violation,
    _pack_process_env,
    load_pack,
)
from .values import UNKNOWN, Redactor, Secret, redactor_for

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/mailinfra/mailinfra"
FINGERPRINT = "mailinfraViolation/v2"
# GitHub's bands: over 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low. A string
# holding the number, as CodeQL writes it.
SECURITY_SEVERITY = {"critical": "9.5", "high": "7.5", "medium": "5.5", "low": "3.5"}
README_ANCHOR = "README.md#catalogue"
# The stack-file key a rule's violation is about, under its config section (for
# "domains": inside one domain entry). tests/test_sarif.py checks each against the
# config model's keys, so a renamed key cannot go stale here.
_KEYS: dict[str, str] = {
    "spf-no-permissive-all": "spf.all",
    "spf-hard-fail": "spf.all",
    "spf-lookup-limit": "spf.includes",
    "dmarc-enforcing": "dmarc.policy",
    "dmarc-spf-alignment": "dmarc.aspf",
    "bimi-requires-enforcing-dmarc": "dmarc.policy",
    "kms-symmetric-key-rotation": "rotationDays",
    "kms-deletion-window": "deletionWindowDays",
    "network-no-world-admin-ports": "allowedCidrs",
    "network-no-world-smtp-submission": "allowedCidrs",
    "network-smtp-inbound-mx-only": "allowedCidrs",
    "compliance-region-residency": "allowedRegions",
    "compliance-log-retention": "logRetentionDays",
}
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _level(enforcement: str) -> str:
    return "error" if enforcement == "mandatory" else "warning"


def repository_url(environ: Mapping[str, str] | None = None) -> str | None:
    """Where the README lives: ``MAILINFRA_REPOSITORY_URL``, else the GitHub Actions
    run's repository (``GITHUB_SERVER_URL``/``GITHUB_REPOSITORY``); None outside both."""
    env = os.environ if environ is None else environ
    if env.get("MAILINFRA_REPOSITORY_URL"):
        return env["MAILINFRA_REPOSITORY_URL"].rstrip("/")
    if env.get("GITHUB_REPOSITORY"):
        return f"{env.get('GITHUB_SERVER_URL') or 'https://github.com'}/{env['GITHUB_REPOSITORY']}"
    return None


def help_uri(repository: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The README catalogue at the commit judged (``GITHUB_SHA``), else on main."""
    if not repository:
        return None
    env = os.environ if environ is None else environ
    return f"{repository}/blob/{env.get('GITHUB_SHA') or 'main'}/{README_ANCHOR}"


def normalized_message(message: str) -> str:
    """The message without its quoted values and numbers: what stays when a value changes."""
    return " ".join(_NUMBER.sub("#", _QUOTED.sub("<>", message)).split())


def fingerprint(violation: Violation, stack: str, redactor: Redactor | None = None) -> str:
    """Same policy, same resource, same kind of message: the same alert. Hashed from
    redacted text, so it can carry no secret."""
    red = redactor or Redactor()
    resource = red.text(violation.urn) if violation.urn else f"stack:{stack}"
    text = "\0".join((violation.policy, resource, normalized_message(red.text(violation.message))))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _key_lines(node: Any, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]) -> None:
    """Each key (and list item) of a YAML document -> its 1-based line."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                here = (*path, key.value)
                out.setdefault(here, key.start_mark.line + 1)
                _key_lines(value, here, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            here = (*path, index)
            out.setdefault(here, item.start_mark.line + 1)
            _key_lines(item, here, out)


def _in(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), root]) == root


class _Locator:
    """Finds a file and line in the program for a violation."""

    def __init__(self, plan: Any, project_dir: str | None, sections: dict[str, str] | None = None) -> None:
        self.plan = plan
        self.sections = sections or {}  # policy name -> its config section (the rule's config_section)
        self.root = os.path.abspath(project_dir or ".")
        self.stack_file: str | None = None
        self.main = "__main__.py"
        self.lines: list[str] = []
        self.keys: dict[tuple[Any, ...], int] = {}
        try:
            from .project import find_stack_file, load_project

            project = load_project(self.root)
            self.stack_file = find_stack_file(project, plan.stack)
            self.main = project.main
            with open(self.stack_file, encoding="utf-8") as handle:
                text = handle.read()
            self.lines = text.splitlines()
        except Exception:  # noqa: BLE001 - no stack file: fall back to the main file
            self.stack_file = None
        else:
            try:
                document: dict[tuple[Any, ...], int] = {}
                _key_lines(yaml.compose(text, Loader=yaml.SafeLoader), (), document)
                self.keys = {path[1:]: line for path, line in document.items() if len(path) > 1 and path[0] == "config"}
            except yaml.YAMLError:
                self.keys = {}
        self.ns = getattr(plan, "project", "") or ""
        # The domain entries of the stack file (name -> index), most specific first.
        entries = getattr(plan, "config", {}).get(f"{self.ns}:domains")
        self.entries = sorted(
            ((str(e["name"]).lower(), i) for i, e in enumerate(entries or []) if isinstance(e, dict) and "name" in e),
            key=lambda item: -len(item[0]),
        )
        self.domains: list[tuple[str, int]] = []
        for number, line in enumerate(self.lines, 1):
            for domain in re.findall(r"(?<![\w.-])((?:[a-z0-9-]+\.)+[a-z]{2,})(?![\w.-])", line.lower()):
                if not any(d == domain for d, _ in self.domains):
                    self.domains.append((domain, number))
        self.domains.sort(key=lambda item: -len(item[0]))  # most specific first

    def uri(self, path: str) -> str:
        rel = os.path.relpath(os.path.abspath(path), os.getcwd())
        if rel.startswith(".."):
            rel = os.path.relpath(os.path.abspath(path), self.root)
        return rel.replace(os.sep, "/")

    def _resource(self, violation: Violation) -> Any:
        get = getattr(self.plan, "get", None)
        return get(violation.urn) if violation.urn and get is not None else None

    def _hand_written(self, resource: Any) -> tuple[str, int] | None:
        """The program line that registered a resource no mailinfra component made."""
        if resource is None or getattr(resource, "source", None) is None:
            return None
        node = resource
        while node is not None:
            if node.type.startswith("mailinfra:"):
                return None  # made from the stack config: the stack file says why
            node = self.plan.get(node.parent) if node.parent else None
        path, line = resource.source
        return (path, line) if _in(path, self.root) else None

    def _record(self, resource: Any) -> tuple[str | None, str | None]:
        """(domain, key inside its entry) of a DNS record resource, from its kind."""
        if resource is None:
            return None, None
        try:
            from mailinfra.policies.mailinfra_policy import providers
            from mailinfra.policies.mailinfra_policy.standards import kinds

            view = providers.read(resource.type, resource.inputs, unknown=lambda v: v is UNKNOWN or isinstance(v, Secret))
            if view.name is None or view.type is None:
                return None, None
            purpose, domain = kinds.classify(view.name, view.type, view.texts)
            return domain, (None if purpose == kinds.OTHER else kinds.get(purpose).domain_section)
        except Exception:  # noqa: BLE001 - not a DNS record (or not one we read)
            return None, None

    def _domain_index(self, domain: str | None, haystack: str) -> int | None:
        if domain:
            for name, index in self.entries:
                if domain == name or domain.endswith("." + name):
                    return index
        for name, index in self.entries:
            if name in haystack or name.replace(".", "-") in haystack:
                return index
        return None

    def _deepest(self, *paths: tuple[Any, ...]) -> int | None:
        for path in paths:
            if path in self.keys:
                return self.keys[path]
        return None

    def _stack_key(self, violation: Violation, resource: Any) -> int | None:
        section = self.sections.get(violation.policy)
        key = _KEYS.get(violation.policy)
        haystack = f"{violation.resource_name} {violation.urn.rsplit('::', 1)[-1]} {violation.message}".lower()
        domain, sub = self._record(resource)
        if section == "domains" or sub is not None:
            index = self._domain_index(domain, haystack)
            parts = tuple((key or sub or "").split(".")) if (key or sub) else ()
            top, defaults = f"{self.ns}:domains", f"{self.ns}:domainDefaults"
            if index is not None:
                entry = (top, index)
                return self._deepest(
                    (*entry, *parts),
                    (defaults, *parts) if parts else (),
                    *((*entry, *parts[:n]) for n in range(len(parts) - 1, 0, -1)),
                    entry,
                )
        if section:
            base: tuple[Any, ...] = (f"{self.ns}:{section}",)
            if section == "zones":  # one entry per zone: the zone the resource is in
                zones = sorted((p[1] for p in self.keys if len(p) == 2 and p[0] == base[0]), key=lambda z: -len(str(z)))
                zone = next(
                    (z for z in zones if str(z).lower() in haystack or str(z).lower().replace(".", "-") in haystack), None
                )
                if zone is not None:
                    base = (*base, zone)
            return self._deepest((*base, *key.split(".")) if key else (), base)
        return None

    def locate(self, violation: Violation) -> tuple[str, int]:
        resource = self._resource(violation)
        written = self._hand_written(resource)
        if written is not None:
            return self.uri(written[0]), written[1]
        if self.stack_file is not None:
            found = self._stack_key(violation, resource)
            if found is not None:
                return self.uri(self.stack_file), found
            haystack = f"{violation.resource_name} {violation.urn.rsplit('::', 1)[-1]} {violation.message}".lower()
            for domain, number in self.domains:
                if domain in haystack or domain.replace(".", "-") in haystack:
                    return self.uri(self.stack_file), number
            return self.uri(self.stack_file), 1
        return self.uri(self.main if os.path.isabs(self.main) else os.path.join(self.root, self.main)), 1


def _severity_properties(severity: str, tags: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"severity": severity, "tags": tags}
    if severity in SECURITY_SEVERITY:
        out["security-severity"] = SECURITY_SEVERITY[severity]
    return out


def _rules(pack: LoadedPack | None, plan: Any, violations: list[Violation], help_link: str | None) -> list[dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}
    if pack is not None:
        with _pack_process_env(plan, None):
            for policy in pack.policies:
                level = policy.enforcement_level or pack.enforcement_level
                enforcement = getattr(level, "value", "advisory")
                severity = policy.severity.value if policy.severity is not None else "unspecified"
                rules[policy.name] = {
                    "id": policy.name,
                    "name": policy.name,
                    "shortDescription": {"text": policy.description.split(" Remediation:")[0]},
                    "fullDescription": {"text": policy.description},
                    "help": {"text": getattr(policy, "remediation_steps", None) or policy.description},
                    "defaultConfiguration": {"level": _level(enforcement)},
                    "properties": _severity_properties(severity, ["security", "pulumi-policy"]),
                }
    for violation in violations:
        if violation.policy not in rules:
            rules[violation.policy] = {
                "id": violation.policy,
                "name": violation.policy,
                "shortDescription": {"text": violation.description or violation.policy},
                "help": {"text": violation.remediation or violation.description or violation.policy},
                "defaultConfiguration": {"level": _level(violation.enforcement)},
                "properties": _severity_properties(violation.severity, ["security"]),
            }
    if help_link:
        for rule in rules.values():
            rule["helpUri"] = help_link
    return list(rules.values())


def plan_to_sarif(
    plan: Any,
    violations: Iterable[Violation],
    *,
    project_dir: str | None = None,
    policy_pack_dir: str | None = None,
    repository: str | None = None,
) -> dict[str, Any]:
    """``repository``: the repository URL for ``helpUri`` (default: :func:`repository_url`)."""
    found = list(violations)
    try:
        pack: LoadedPack | None = load_pack(policy_pack_dir)
    except PolicyPackError:
        pack = None
    rules = _rules(pack, plan, found, help_uri(repository or repository_url()))
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    # A policy of this pack carries its config section (common.SECTION); another pack's may not.
    sections = {
        p.name: section for p in (pack.policies if pack else []) if isinstance(section := getattr(p, "config_section", None), str)
    }
    locator = _Locator(plan, project_dir, sections)
    redactor = redactor_for(plan)
    results = []
    for v in found:
        uri, line = locator.locate(v)
        logical: dict[str, Any] = {"kind": "resource"}
        if v.urn:
            logical.update(fullyQualifiedName=v.urn, name=v.resource_name or v.urn.rsplit("::", 1)[-1])
        else:
            logical.update(fullyQualifiedName=f"stack:{plan.stack}", name=plan.stack)
        results.append(
            {
                "ruleId": v.policy,
                "ruleIndex": index[v.policy],
                "level": _level(v.enforcement),
                "message": {"text": v.message},
                "locations": [
                    {
                        "physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": line}},
                        "logicalLocations": [logical],
                    }
                ],
                "partialFingerprints": {FINGERPRINT: fingerprint(v, plan.stack, redactor)},
                "properties": {"severity": v.severity, "enforcement": v.enforcement, "stack": plan.stack},
            }
        )
    # Messages quote what a policy judged: never the text of a secret.
    return redactor.jsonable(
        {
            "$schema": SARIF_SCHEMA,
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": pack.name if pack else "mailinfra-security",
                            "version": "0.1.0",
                            "informationUri": INFORMATION_URI,
                            "rules": rules,
                        }
                    },
                    "results": results,
                }
            ],
        }
    )


def write_sarif(
    plan: Any,
    violations: Iterable[Violation],
    stream: IO[str],
    *,
    project_dir: str | None = None,
    policy_pack_dir: str | None = None,
) -> None:
    json.dump(plan_to_sarif(plan, violations, project_dir=project_dir, policy_pack_dir=policy_pack_dir), stream, indent=2)
    stream.write("\n")
