"""The program's shape: one MailStack holds every resource, the exports keep their keys,
components import each other without cycles, and an input error is exit 2."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mailinfra.engine import ProgramError, run_plan

ROOT = Path(__file__).resolve().parent.parent
COMPONENTS = ROOT / "components"
STACK_TYPE = "mailinfra:stack:MailStack"
EXPORTS = {"environment", "zones", "domains", "dsRecords", "senderIps", "keyAlias", "keyAlarmTopicArn", "smtpVpcEndpointId"}
EXPORTS |= {"dnsbls"}  # relay.dnsbls for verify's hygiene checks (heloName: only when declared)
EXPORTS |= {"sesEvents", "reports"}  # the event queue / archive and the report intake (issue 15)
EXPORTS |= {"audit", "keyMaxAgeDays"}  # the trail, the security topic, GuardDuty; verify's key-age bound (issue 14)
DOMAIN_EXPORTS = {
    "provider",
    "zone",
    "records",
    "smtpEndpoint",
    "smtpSecretArn",
    "dkimSecretArns",
    "configurationSet",
    "mtaStsPolicyUrl",
    "keyCreated",  # creation times of the SMTP access keys and BYODKIM keys (verify key-age)
}


@pytest.fixture(scope="module")
def prod():
    return run_plan(str(ROOT), "prod")


def test_every_resource_is_under_one_mail_stack(prod):
    (stack,) = [r for r in prod.resources if r.type == STACK_TYPE]
    assert stack.parent is None and stack.custom is False
    by_urn = {r.urn: r for r in prod.resources}
    for r in prod.resources:
        if r is stack:
            continue
        chain, parent = [], r.parent
        while parent is not None and parent != stack.urn:
            chain.append(parent)
            parent = by_urn[parent].parent
        assert parent == stack.urn, (r.urn, chain)
    # children of a component carry its type in their URN
    firewall = next(r for r in prod.resources if r.type == "mailinfra:firewall:Firewall")
    assert f"::{STACK_TYPE}$mailinfra:firewall:Firewall::firewall" in firewall.urn


def test_exports_keep_their_keys_and_values(prod):
    out = prod.outputs
    assert set(out) == EXPORTS
    assert out["environment"] == "prod"
    assert out["zones"] == {
        "example.com": {"provider": "route53", "zoneId": out["zones"]["example.com"]["zoneId"]},
        "example.org": {"provider": "cloudflare", "zoneId": out["zones"]["example.org"]["zoneId"]},
    }
    assert set(out["domains"]) == {"mail.example.com", "news.example.org"}
    for name, entry in out["domains"].items():
        assert set(entry) == DOMAIN_EXPORTS, name
        assert entry["records"][f"_dmarc.{name}/TXT"][0].startswith("v=DMARC1; p=reject")
    assert out["domains"]["mail.example.com"]["mtaStsPolicyUrl"] == "https://mta-sts.mail.example.com/.well-known/mta-sts.txt"
    assert isinstance(out["senderIps"], list)
    assert out["keyMaxAgeDays"] == 90
    assert out["domains"]["news.example.org"]["keyCreated"]["dkim"] == {"s2026a": "2026-01-05"}
    assert set(out["audit"]) == {"trailArn", "bucket", "securityTopicArn", "guardDutyDetectorId"}


def test_main_only_builds_the_mail_stack_and_exports():
    tree = ast.parse((ROOT / "__main__.py").read_text())
    calls = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert calls == {"MailStack"}  # no resource or other component is built in __main__


def _component_imports(path: Path) -> set[str]:
    """components.* modules that ``path`` imports, at any level (function bodies too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module is None:  # from . import x
                found.update(alias.name for alias in node.names)
            elif node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif node.level == 0 and node.module and node.module.startswith("components."):
                found.add(node.module.split(".")[1])
            elif node.level == 0 and node.module == "components":
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("components."))
    return found - {path.stem}


def test_components_have_no_import_cycle():
    modules = {p.stem for p in COMPONENTS.glob("*.py") if p.stem != "__init__"}
    graph = {m: _component_imports(COMPONENTS / f"{m}.py") & modules for m in modules}
    assert "wiring" in graph["domain"] and "domain" not in graph["wiring"]
    state: dict[str, str] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = "open"
        for n in sorted(graph[m]):
            assert state.get(n) != "open", " -> ".join([*path, m, n])
            if n not in state:
                visit(n, [*path, m])
        state[m] = "done"

    for m in sorted(modules):
        if m not in state:
            visit(m, [])


@pytest.mark.parametrize(
    "order",
    [
        ("mailinfra.components.wiring", "mailinfra.components.domain"),
        ("mailinfra.components.domain", "mailinfra.components.wiring"),
        ("mailinfra.components.stack",),
    ],
)
def test_components_import_in_any_order(order):
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in order)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_a_component_input_error_is_exit_2_on_one_line(tmp_path):
    # A program that uses a component with a bad argument: ArgsError is an InputError,
    # which the engine recognises by its class (no marker attribute, no class name).
    (tmp_path / "Pulumi.yaml").write_text("name: bad-args\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(
        textwrap.dedent(
            """
            from mailinfra.components.firewall import FirewallArgs

            FirewallArgs(region="west", tags={"owner": "o"})
            """
        )
    )
    with pytest.raises(ProgramError) as err:
        run_plan(str(tmp_path), "dev")
    assert err.value.expected is True
    assert err.value.message == "region: must be an AWS region name such as eu-west-1 (got 'west')"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", "plan", "--project", str(tmp_path), "--stack", "dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "region: must be an AWS region name such as eu-west-1 (got 'west')" in out.stderr


def test_an_input_error_subclass_needs_no_marker(tmp_path):
    # The class decides (isinstance InputError), not the foreign-program marker attribute.
    (tmp_path / "Pulumi.yaml").write_text("name: own-input-error\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "__main__.py").write_text(
        "from mailinfra.policies.mailinfra_policy.standards.errors import InputError\n\n\n"
        "class Mine(InputError):\n    pass\n\n\n"
        "assert not hasattr(Mine, 'mailinfra_exit_code')\n"
        "raise Mine('domains[0]: not a domain\\nsecond line')\n"
    )
    with pytest.raises(ProgramError) as err:
        run_plan(str(tmp_path), "dev")
    assert err.value.expected is True and err.value.message == "domains[0]: not a domain second line"
