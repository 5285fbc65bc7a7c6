"""What a run imports: heavy packages load only when the run needs them (issue 7).

Each case runs in a fresh interpreter, so modules other tests loaded do not count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PLAN = """
import json, sys
from mailinfra.engine import run_plan
plan = run_plan({root!r}, {stack!r})
print(json.dumps({{"resources": len(plan.resources),
                  "cloudflare": "pulumi_cloudflare" in sys.modules,
                  "cloudflare_resources": sum(r.type.startswith("cloudflare:") for r in plan.resources)}}))
"""

VERIFY = """
import json, sys
import mailinfra.cli, mailinfra.verify, mailinfra.verify.runner, mailinfra.verify.expect, mailinfra.zone
print(json.dumps(sorted(m for m in ("pulumi", "pulumi_policy", "pulumi_aws", "pulumi_cloudflare") if m in sys.modules)))
"""


def _run(code: str) -> object:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_route53_only_stack_does_not_import_cloudflare() -> None:
    result = _run(PLAN.format(root=ROOT, stack="dev"))
    assert result["resources"] > 50
    assert result["cloudflare_resources"] == 0
    assert result["cloudflare"] is False


def test_stack_with_a_cloudflare_zone_imports_it() -> None:
    result = _run(PLAN.format(root=ROOT, stack="prod"))
    assert result["cloudflare_resources"] > 0
    assert result["cloudflare"] is True


def test_verify_and_zone_import_no_pulumi() -> None:
    assert _run(VERIFY) == []


def test_policy_rules_still_load_on_first_use() -> None:
    code = (
        "import json, sys\n"
        "import mailinfra.policies.mailinfra_policy as p\n"
        "before = 'pulumi_policy' in sys.modules\n"
        "names = [x.name for x in p.ALL]\n"
        "print(json.dumps([before, 'pulumi_policy' in sys.modules, len(names), len(set(names)), p.level_for is p.common.level_for]))\n"
    )
    before, after, n, distinct, same = _run(code)  # type: ignore[misc]
    assert before is False and after is True
    assert n == distinct >= 38
    assert same is True


def test_registries_are_complete_whichever_name_is_imported_first() -> None:
    code = (
        "import json\n"
        "from mailinfra.policies.mailinfra_policy import policy_config_for, LEVELS\n"
        "cfg = policy_config_for('dev')\n"
        "import mailinfra.policies.mailinfra_policy as p\n"
        "print(json.dumps([len(cfg), len(LEVELS), len(p.ALL), cfg['kms-key-protected']['enforcementLevel']]))\n"
    )
    n_cfg, n_levels, n_all, level = _run(code)  # type: ignore[misc]
    assert n_cfg == n_levels == n_all >= 38
    assert level == "advisory"
