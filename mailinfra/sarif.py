"""SARIF 2.1.0 for a judged plan (GitHub code scanning).

One rule per policy of the pack (id = policy name, help = remediation,
defaultConfiguration.level = error for mandatory / warning for advisory in the plan's
environment), one result per violation with the resource URN as a logical location
and a physical location in the program: the line of the stack file
(`Pulumi.<stack>.yaml`) that configures the resource's domain, or the config section
of the rule's concern (the policy's ``config_section``, set where the rule is registered),
else the program's main file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from typing import IO, Any

from .policyrun import (
    LoadedPack,
    PolicyPackError,
    Violation,
    _pack_process_env,
    load_pack,
)
from .values import redactor_for

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/mailinfra/mailinfra"


def _level(enforcement: str) -> str:
    return "error" if enforcement == "mandatory" else "warning"


class _Locator:
    """Finds a file and line in the program for a violation."""

    def __init__(self, plan: Any, project_dir: str | None, sections: dict[str, str] | None = None) -> None:
        self.sections = sections or {}  # policy name -> its config section (the rule's config_section)
        self.root = os.path.abspath(project_dir or ".")
        self.stack_file: str | None = None
        self.main = "__main__.py"
        self.lines: list[str] = []
        try:
            from .project import find_stack_file, load_project

            project = load_project(self.root)
            self.stack_file = find_stack_file(project, plan.stack)
            self.main = project.main
            with open(self.stack_file, encoding="utf-8") as handle:
                self.lines = handle.read().splitlines()
        except Exception:  # noqa: BLE001 - no stack file: fall back to the main file
            self.stack_file = None
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

    def _section_line(self, section: str) -> int | None:
        pattern = re.compile(rf"^\s*[\w-]+:{re.escape(section)}\s*:")
        for number, line in enumerate(self.lines, 1):
            if pattern.match(line):
                return number
        return None

    def locate(self, violation: Violation) -> tuple[str, int]:
        if self.stack_file is not None:
            haystack = f"{violation.resource_name} {violation.urn.rsplit('::', 1)[-1]} {violation.message}".lower()
            for domain, number in self.domains:
                if domain in haystack or domain.replace(".", "-") in haystack:
                    return self.uri(self.stack_file), number
            section = self.sections.get(violation.policy)
            if section:
                found = self._section_line(section)
                if found is not None:
                    return self.uri(self.stack_file), found
            return self.uri(self.stack_file), 1
        return self.uri(self.main if os.path.isabs(self.main) else os.path.join(self.root, self.main)), 1


def _rules(pack: LoadedPack | None, plan: Any, violations: list[Violation]) -> list[dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}
    if pack is not None:
        with _pack_process_env(plan, None):
            for policy in pack.policies:
                level = policy.enforcement_level or pack.enforcement_level
                enforcement = getattr(level, "value", "advisory")
                rules[policy.name] = {
                    "id": policy.name,
                    "name": policy.name,
                    "shortDescription": {"text": policy.description.split(" Remediation:")[0]},
                    "fullDescription": {"text": policy.description},
                    "help": {"text": getattr(policy, "remediation_steps", None) or policy.description},
                    "defaultConfiguration": {"level": _level(enforcement)},
                    "properties": {
                        "severity": policy.severity.value if policy.severity is not None else "unspecified",
                        "tags": ["security", "pulumi-policy"],
                    },
                }
    for violation in violations:
        if violation.policy not in rules:
            rules[violation.policy] = {
                "id": violation.policy,
                "name": violation.policy,
                "shortDescription": {"text": violation.description or violation.policy},
                "help": {"text": violation.remediation or violation.description or violation.policy},
                "defaultConfiguration": {"level": _level(violation.enforcement)},
                "properties": {"severity": violation.severity},
            }
    return list(rules.values())


def plan_to_sarif(
    plan: Any, violations: Iterable[Violation], *, project_dir: str | None = None, policy_pack_dir: str | None = None
) -> dict[str, Any]:
    found = list(violations)
    try:
        pack: LoadedPack | None = load_pack(policy_pack_dir)
    except PolicyPackError:
        pack = None
    rules = _rules(pack, plan, found)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    # A policy of this pack carries its config section (common.SECTION); another pack's may not.
    sections = {
        p.name: section for p in (pack.policies if pack else []) if isinstance(section := getattr(p, "config_section", None), str)
    }
    locator = _Locator(plan, project_dir, sections)
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
                "partialFingerprints": {"mailinfraViolation/v1": f"{v.policy}|{v.urn}|{v.message}"},
                "properties": {"severity": v.severity, "enforcement": v.enforcement, "stack": plan.stack},
            }
        )
    # Messages and fingerprints quote what a policy judged: never the text of a secret.
    return redactor_for(plan).jsonable(
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
                    "automationDetails": {"id": f"mailinfra-plan/{plan.stack}/"},
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
