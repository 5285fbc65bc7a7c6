"""Where the CrossGuard pack is: ``mailinfra/policies`` (in a checkout a symlink to the
repository's ``policies/``, in an installed wheel a real directory with the same files),
so ``pulumi preview --policy-pack "$(mailinfra policy-pack path)"`` works from any project.

No pulumi import: the command answers instantly.
"""

from __future__ import annotations

from pathlib import Path

import click

from .cliutil import InputError


def pack_dir() -> Path:
    """The pack's directory, symlinks resolved (the CLI creates its ``venv/`` there)."""
    return (Path(__file__).parent / "policies").resolve()


def environments() -> list[str]:
    """The environments the pack ships a policy config for (``config/<env>.json``)."""
    return sorted(p.stem for p in (pack_dir() / "config").glob("*.json"))


def config_file(env: str) -> Path:
    """``config/<env>.json``, the file to pass as ``--policy-pack-config``."""
    path = pack_dir() / "config" / f"{env}.json"
    if not path.is_file():
        raise InputError(f"--config: no policy config for {env!r} (choose from: {', '.join(environments())})")
    return path


@click.group("policy-pack")
def policy_pack() -> None:
    """The CrossGuard pack that ships with mailinfra."""


@policy_pack.command("path")
@click.option(
    "--config", "env", default=None, metavar="ENV", help="Print the pack's config file for ENV instead (dev, staging, prod)."
)
def policy_pack_path(env: str | None) -> None:
    """Print the pack's directory (for pulumi --policy-pack) or, with --config, its config file."""
    directory = pack_dir()
    if not (directory / "PulumiPolicy.yaml").is_file():
        raise InputError(f"the policy pack is missing from the installation ({directory}); reinstall mailinfra")
    click.echo(str(config_file(env) if env is not None else directory))
