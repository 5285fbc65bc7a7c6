"""The floor: the same program and stack config on the SDK's bare mock engine.

    python bench/floor.py PROJECT_DIR STACK

`pulumi.runtime.set_mocks` with a Mocks that returns the inputs as outputs (no
recording, no policies, no report), preview mode, the program run the way the
unit tests run it under `set_mocks` (`run_pulumi_func` around `runpy.run_path`, which waits for every outstanding registration). The config is the
stack file's, encoded as the engine hands it to a program.
"""

from __future__ import annotations

import asyncio
import os
import runpy
import sys

import pulumi
from pulumi.runtime import config as pulumi_config
from pulumi.runtime.stack import run_pulumi_func

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Trivial(pulumi.runtime.Mocks):
    """Outputs = inputs. The one addition: the three Easy DKIM tokens SES returns for
    an identity, because the program indexes them (a real preview leaves them unknown)."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == "aws:sesv2/emailIdentity:EmailIdentity":
            attrs = dict(args.inputs.get("dkimSigningAttributes") or {})
            stem = "".join(c for c in args.name.lower() if c.isalnum())[:56]  # SES tokens: letters, digits
            attrs.setdefault("tokens", [f"{stem}{i}" for i in range(3)])
            return f"{args.name}-id", {**args.inputs, "dkimSigningAttributes": attrs}
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:  # type: ignore[override]
        return {}


def main() -> int:
    project_dir, stack = os.path.abspath(sys.argv[1]), sys.argv[2]
    sys.path.insert(0, ROOT)
    from mailinfra.project import load_project, load_stack_config  # the YAML -> engine config encoding only

    project = load_project(project_dir)
    cfg = load_stack_config(project, stack)
    sys.path.remove(ROOT)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(Trivial(), project=project.name, stack=cfg.stack, preview=True)
    pulumi_config.set_all_config(dict(cfg.engine_config), list(cfg.secret_keys))
    os.chdir(project.program_dir)
    sys.path.insert(0, project.program_dir)
    sys.argv = [project.main]

    def program() -> None:
        runpy.run_path(project.main, run_name="__main__")

    loop.run_until_complete(run_pulumi_func(program))
    return 0


if __name__ == "__main__":
    sys.exit(main())
