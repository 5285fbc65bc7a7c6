"""The built wheel, not the checkout (issue 13 item 8): build it, install it into a fresh
venv, and use it the way a user would - from a directory that is not this repository.

- the pack's files are inside it and ``mailinfra policy-pack path`` prints their directory
  (what ``pulumi preview --policy-pack "$(mailinfra policy-pack path)"`` needs);
- a user's own Pulumi program imports ``mailinfra.components`` and plans under the SDK's
  mock runtime, judged by the installed pack;
- no generic top-level ``components`` or ``policies`` package lands in site-packages.

The build runs without build isolation (setuptools is a pinned test dependency) and the
install takes the pinned dependencies from pip's configured indexes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# what the sdist/wheel is built from; everything else in the checkout is not packaged
SOURCES = ("pyproject.toml", "README.md", "mailinfra", "components", "policies")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "venv", ".venv", "*.egg-info", "build")

USER_PROGRAM = """
import pulumi

from mailinfra.components import KeyStore, KeyStoreArgs, SendingDomain, SendingDomainArgs, config

cfg = config.load()
keys = KeyStore(
    "keys",
    KeyStoreArgs(
        environment=cfg.environment,
        alias_name="shop-mail",
        account_id=cfg.account_id,
        region=cfg.region,
        admin_principals=cfg.keys.admins,
        tags=cfg.tags,
    ),
)
zones = {z.name: (z.provider, z.zone_id) for z in cfg.zones}
for d in cfg.domains:
    SendingDomain(d.slug, SendingDomainArgs(domain=d, stack=cfg, keystore=keys, zones=zones))
pulumi.export("domains", [d.name for d in cfg.domains])
"""


def _run(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    # no PYTHONPATH, no checkout on the path: only what the venv holds
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the built wheel (and its pinned dependencies) installed."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            # symlinks=True: mailinfra/components and mailinfra/policies stay links, as in git
            shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=IGNORE)
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = base / "dist"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(src)],
        cwd=base,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = dist.glob("mailinfra-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    done = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=base)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return venv


def _site_packages(venv: Path) -> Path:
    (site,) = venv.glob("lib/python3*/site-packages")
    return site


def test_wheel_installs_one_mailinfra_namespace(installed: Path) -> None:
    site = _site_packages(installed)
    assert (site / "mailinfra" / "components" / "domain.py").is_file()
    assert (site / "mailinfra" / "policies" / "mailinfra_policy" / "standards").is_dir()
    assert not (site / "mailinfra" / "components").is_symlink()
    assert not (site / "components").exists() and not (site / "policies").exists()
    # nothing else of the checkout (tests, stacks, the repo's own program) is packaged
    top = {p.name for p in site.iterdir() if not p.name.endswith((".dist-info", ".pth")) and p.name != "__pycache__"}
    assert "tests" not in top and "stacks" not in top and "__main__.py" not in top


def test_policy_pack_path_points_at_the_installed_pack(installed: Path, tmp_path: Path) -> None:
    out = _run([str(installed / "bin" / "mailinfra"), "policy-pack", "path"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    pack = Path(out.stdout.strip())
    assert pack == _site_packages(installed) / "mailinfra" / "policies"
    for name in (
        "PulumiPolicy.yaml",
        "requirements.txt",
        "__main__.py",
        "config/dev.json",
        "config/staging.json",
        "config/prod.json",
    ):
        assert (pack / name).is_file(), name
    assert (pack / "PulumiPolicy.yaml").read_bytes() == (ROOT / "policies" / "PulumiPolicy.yaml").read_bytes()
    assert (pack / "requirements.txt").read_bytes() == (ROOT / "policies" / "requirements.txt").read_bytes()

    cfg = _run([str(installed / "bin" / "mailinfra"), "policy-pack", "path", "--config", "prod"], cwd=tmp_path)
    assert cfg.returncode == 0, cfg.stderr
    assert Path(cfg.stdout.strip()) == pack / "config" / "prod.json"
    assert json.loads(Path(cfg.stdout.strip()).read_text()) == json.loads(
        (ROOT / "policies" / "config" / "prod.json").read_text()
    )

    bad = _run([str(installed / "bin" / "mailinfra"), "policy-pack", "path", "--config", "qa"], cwd=tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "--config" in bad.stderr and "'qa'" in bad.stderr and "prod" in bad.stderr


def test_the_installed_pack_runs_where_the_cli_runs_it(installed: Path) -> None:
    # CrossGuard runs `python -m pulumi.policy <addr> .` with cwd = the pack: its own
    # mailinfra_policy must import from there, without the mailinfra package.
    pack = _site_packages(installed) / "mailinfra" / "policies"
    code = "import mailinfra_policy as p; print(len(p.ALL), p.PACK_NAME, p.__file__)"
    out = _run([str(installed / "bin" / "python"), "-I", "-c", f"import sys; sys.path.insert(0, '.'); {code}"], cwd=pack)
    assert out.returncode == 0, out.stderr
    n, name, where = out.stdout.split()
    assert int(n) >= 38 and name == "mailinfra-security" and where.startswith(str(pack))


def test_generic_top_level_names_are_refused(installed: Path, tmp_path: Path) -> None:
    site = _site_packages(installed)
    for name in ("components", "policies"):
        out = _run(
            [
                str(installed / "bin" / "python"),
                "-c",
                f"import sys; sys.path.insert(0, {str(site / 'mailinfra')!r}); import {name}",
            ],
            cwd=tmp_path,
        )
        assert out.returncode == 1 and f"import mailinfra.{name}, not {name!r}" in out.stderr, out.stderr


def test_user_program_plans_with_the_installed_components(installed: Path, tmp_path: Path) -> None:
    project = tmp_path / "shop-mail"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: shop-mail\nruntime:\n  name: python\n")
    stack = (ROOT / "stacks" / "Pulumi.dev.yaml").read_text()
    (project / "Pulumi.dev.yaml").write_text(stack.replace("secretsprovider:", "# secretsprovider:"))
    (project / "__main__.py").write_text(textwrap.dedent(USER_PROGRAM))
    out = _run(
        [str(installed / "bin" / "mailinfra"), "plan", "--project", str(project), "--stack", "dev", "--format", "json"],
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]  # the dev config is compliant: no mandatory violation
    plan = json.loads(out.stdout)
    types = {r["type"] for r in plan["resources"]}
    assert {"mailinfra:domain:SendingDomain", "mailinfra:keystore:KeyStore", "aws:sesv2/emailIdentity:EmailIdentity"} <= types, (
        types
    )
    assert not any(t.endswith(":MailStack") for t in types)  # the user's program, not the repo's
    # judged by the installed pack (advisories about the user's own resources)
    assert plan["violations"] and all(v["enforcement"] == "advisory" for v in plan["violations"])
    assert any("::shop-mail::" in v["urn"] for v in plan["violations"])
    assert str(ROOT) not in out.stdout + out.stderr
