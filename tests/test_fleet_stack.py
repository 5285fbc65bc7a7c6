"""The example fleet stack and bench/genstack.py produce valid, readable configs."""

from __future__ import annotations

import importlib.util
import os

import yaml

from mailinfra.components.config import parse_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _raw(text: str) -> tuple[dict, str]:
    cfg = yaml.safe_load(text)["config"]
    return {k.split(":", 1)[1]: v for k, v in cfg.items() if k.startswith("mailinfra:")}, cfg["aws:region"]


def _genstack():
    spec = importlib.util.spec_from_file_location("genstack", os.path.join(ROOT, "bench", "genstack.py"))
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_fleet_stack_bare_names_inherit_the_defaults() -> None:
    with open(os.path.join(ROOT, "stacks", "Pulumi.fleet.yaml"), encoding="utf-8") as f:
        raw, region = _raw(f.read())
    cfg = parse_config(raw, stack="fleet", region=region)
    assert len(cfg.domains) == 20
    by_name = {d.name: d for d in cfg.domains}
    news = by_name["news.brand-a.example"]
    assert news.zone.name == "brand-a.example" and news.spf.includes == ("amazonses.com",)
    assert news.dmarc.policy == "reject" and news.dmarc.rua == ("mailto:dmarc-reports@ops.example.net",)
    assert by_name["mail.brand-c.example"].dkim.mode == "byodkim"
    assert by_name["mail.brand-d.example"].dmarc.rua == news.dmarc.rua  # deep merge keeps the default rua
    assert by_name["alerts.brand-b.example"].marketing is False


def test_genstack_writes_n_domains(tmp_path) -> None:
    gen = _genstack()
    path = gen.make_project(25, str(tmp_path / "fleet"))
    with open(path, encoding="utf-8") as f:
        raw, region = _raw(f.read())
    cfg = parse_config(raw, stack="bench", region=region)
    assert [d.name for d in cfg.domains] == gen.domain_names(25)
    assert len({d.zone.name for d in cfg.domains}) == 3
    assert os.path.islink(tmp_path / "fleet" / "__main__.py")
