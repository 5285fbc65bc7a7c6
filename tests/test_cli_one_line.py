"""Usage errors and unwritable report paths: exit 2 with one line, before any work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args: str, cwd: str = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailinfra.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "args, needle",
    [
        (("plan", "--bogus"), "--bogus"),
        (("plan",), "--stack"),
        (("nosuch",), "nosuch"),
        (("verify", "--stack", "dev", "--timeout", "abc"), "--timeout"),
        (("zone",), "--stack"),
    ],
)
def test_usage_errors_are_one_line(args, needle):
    proc = _run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0] and "Traceback" not in proc.stderr


def test_help_and_version_still_exit_0():
    assert _run("--help").returncode == 0
    assert _run("--version").returncode == 0


def test_verify_output_is_checked_before_any_query(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "report.md"
    proc = _run("verify", "--stack", "dev", "--output", str(missing))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--output" in proc.stderr and str(missing) in proc.stderr
    assert not missing.parent.exists()


def test_zone_output_dir_that_cannot_be_created_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    proc = _run("zone", "--stack", "dev", "--output-dir", str(blocker / "zones"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--output-dir" in proc.stderr
    assert blocker.read_text() == "not a directory\n"
