"""What the README and docs/CONTRACTS.md claim is true of the repository."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_example_error_lists_the_shipped_stacks():
    shipped = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
    listed = re.findall(r"\(stacks found: ([a-z0-9, -]+)\)", README)
    assert listed and all(entry.split(", ") == shipped for entry in listed)


def test_docs_name_no_path_outside_the_repository():
    # A user's clone has nothing beside it: no parent-relative path, no absolute workplace path.
    for doc in (ROOT / "docs" / "CONTRACTS.md", ROOT / "README.md"):
        text = doc.read_text()
        assert not re.search(r"(?<![.\w])\.\./", text) and "/work/" not in text, doc.name  # ".../x" is an ellipsis


def test_workflow_variables_are_documented():
    used = set()
    for wf in (ROOT / ".github" / "workflows").glob("*.yml"):
        used |= set(re.findall(r"vars\.([A-Z_]+)", wf.read_text()))
    assert used, "no repository variables found"
    for name in used:
        assert f"vars.{name}" in README, name


def test_encryptedkey_claim_matches_the_stack_files():
    # The README must not say the shipped stack files carry encryptedkey: lines unless they do.
    carries = any("encryptedkey:" in p.read_text() for p in (ROOT / "stacks").glob("*.yaml"))
    assert carries or "shipped files have none" in README


def test_documented_shell_completion_works():
    assert "_MAILINFRA_COMPLETE=bash_source mailinfra" in README
    env = dict(os.environ, _MAILINFRA_COMPLETE="bash_source")
    proc = subprocess.run(
        [sys.executable, "-c", "from mailinfra.cli import main; main(prog_name='mailinfra')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0 and "_mailinfra_completion" in proc.stdout
