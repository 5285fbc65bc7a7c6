"""The error contract, as test helpers (tests/test_bad_input.py, test_secrets_output.py,
test_error_contract_props.py).

Contract: invalid input ends in exit 2 with exactly one line on stderr and nothing on
stdout; anything else ends in exit 0 or 1 with a valid report; never a traceback, and
never the text of a secret (on the mock engine a `secure:` value is the placeholder
"mock-secret-<key>", so that string must appear in no output).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
STACKS = ROOT / "stacks"
SECRET_MARK = "mock-secret-"  # mailinfra.project.SECRET_PLACEHOLDER_PREFIX
SARIF_SCHEMA = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text())


def make_project(directory: Path, stacks: tuple[str, ...] = ("dev", "staging", "prod")) -> Path:
    """A project that runs this repo's program with its own stacks directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text(
        f"name: mailinfra\nruntime: python\nmain: {ROOT / '__main__.py'}\nstackConfigDir: stacks\n"
    )
    (directory / "stacks").mkdir(exist_ok=True)
    for stack in stacks:
        shutil.copy(STACKS / f"Pulumi.{stack}.yaml", directory / "stacks" / f"Pulumi.{stack}.yaml")
    return directory


def write_stack(project: Path, name: str, text: str) -> str:
    (project / "stacks" / f"Pulumi.{name}.yaml").write_text(text, encoding="utf-8")
    return name


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


def cli(*args: str) -> Outcome:
    """`mailinfra ARGS` in this process (click's runner: the same code as the command)."""
    from mailinfra.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # an exception click did not turn into an exit: the traceback the user would see
        import traceback

        text = "".join(traceback.format_exception(result.exception))
        return Outcome(99, result.stdout, result.stderr + "Traceback (most recent call last):\n" + text)
    return Outcome(result.exit_code, result.stdout, result.stderr)


def cli_process(*args: str, timeout: float = 120, **kwargs: object) -> Outcome:
    """`python -m mailinfra.cli ARGS` as a separate process."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mailinfra.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kwargs,  # type: ignore[arg-type]
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def assert_input_error(out: Outcome, *needles: str) -> str:
    """Exit 2, one line on stderr (each needle in it), nothing on stdout. Returns the line."""
    assert out.code == 2, (out.code, out.stderr[-2000:])
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stderr.endswith("\n") and out.stderr.count("\n") == 1, out.stderr[-2000:]
    assert out.stdout == "", out.stdout[:500]
    for needle in needles:
        assert needle in out.stderr, (needle, out.stderr)
    return out.stderr.strip()


def assert_contract(out: Outcome, fmt: str = "text", *, allow_program_failure: bool = False) -> None:
    """Whatever the input: exit 0/1 with a valid report, or exit 2 with one line."""
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, out.stderr[-3000:]
    assert SECRET_MARK not in out.stdout and SECRET_MARK not in out.stderr, "a secret reached the output"
    if out.code == 2:
        line = assert_input_error(out)
        if not allow_program_failure:
            # "program failed: KeyError ..." is a crash of the program dressed as exit 2
            assert "program failed:" not in line, line
        return
    assert out.code in (0, 1), (out.code, out.stderr[-3000:])
    assert_report(out.stdout, fmt)


def assert_report(text: str, fmt: str) -> None:
    if fmt == "json":
        data = json.loads(text)
        assert isinstance(data["resources"], list) and isinstance(data["violations"], list)
    elif fmt == "sarif":
        import jsonschema

        jsonschema.validate(json.loads(text), SARIF_SCHEMA)
    elif fmt == "markdown":
        assert text.startswith("### mailinfra plan")
    else:
        assert text.strip(), "empty report"


@cache
def real_plan_json() -> str:
    """The JSON plan of the shipped prod stack (Route53 and Cloudflare records), made
    once per test process."""
    import io

    from mailinfra import render
    from mailinfra.engine import run_plan

    buf = io.StringIO()
    render.plan_to_json(run_plan(str(ROOT), "prod"), buf)
    return buf.getvalue()
