"""`mailinfra plan --fleet CORE --live`: every shard's declared SPF/DMARC against live DNS
(the local Knot), so a fleet's first deploy cannot drop a live sender either."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from mailinfra.cli import main

from .conftest import txt_rdata, zone_text

REPO = Path(__file__).resolve().parents[2]
FLEET = ("fleet-core", "fleet-shard-0", "fleet-shard-1")


def _project(tmp_path: Path) -> Path:
    (tmp_path / "stacks").mkdir()
    (tmp_path / "Pulumi.yaml").write_text(
        f"name: mailinfra\nruntime: python\nmain: {REPO}\nstackConfigDir: stacks\n", encoding="utf-8"
    )
    for stack in FLEET:
        shutil.copy(REPO / "stacks" / f"Pulumi.{stack}.yaml", tmp_path / "stacks")
    return tmp_path


def _plan(project: Path, nameserver: str) -> tuple[int, dict]:
    res = CliRunner().invoke(
        main,
        ["plan", "--fleet", "fleet-core", "--project", str(project), "--jobs", "1",
         "--live", "--nameserver", nameserver, "--format", "json"],
    )  # fmt: skip
    assert res.exit_code in (0, 1), res.output
    return res.exit_code, json.loads(res.stdout)


def test_a_shards_domain_that_would_drop_a_live_sender_fails_the_fleet(knot, tmp_path):
    # news.brand-a.example already sends through a CRM; the fleet declares amazonses.com only
    live = knot(
        {
            "brand-a.example": zone_text(
                "brand-a.example",
                [("news", "TXT", txt_rdata("v=spf1 include:amazonses.com include:_spf.salesforce.com -all"))],
            )
        }
    )
    code, report = _plan(_project(tmp_path), live.nameserver)
    lost = [v for v in report["violations"] if v["policy"] == "live-sender-preserved"]
    assert len(lost) == 1, lost
    assert "include:_spf.salesforce.com" in lost[0]["message"] and "Salesforce" in lost[0]["message"]
    assert lost[0]["enforcement"] == "mandatory"  # the fleet is prod
    # named on the shard that declares the domain, not on the core
    assert lost[0]["urn"].startswith("urn:pulumi:fleet-shard-") and "news-brand-a-example" in lost[0]["urn"]
    assert code == 1


def test_a_fleet_matching_what_is_live_passes(knot, tmp_path):
    live = knot(
        {"brand-a.example": zone_text("brand-a.example", [("news", "TXT", txt_rdata("v=spf1 include:amazonses.com -all"))])}
    )
    code, report = _plan(_project(tmp_path), live.nameserver)
    assert [v for v in report["violations"] if v["policy"] == "live-sender-preserved"] == []
    assert code == 0
