"""verify reads Cloudflare TXT records back as Cloudflare serves them (Knot plays Cloudflare).

Cloudflare serves TXT content as 255-byte character-strings whether the content was
written quoted (the documented form, what the adapter writes) or as one raw value, and
splits a quoted string longer than 255 bytes itself.
"""

from __future__ import annotations

from typing import Any

from mailinfra.verify import VerifyOptions, run_verify
from mailinfra.policies.mailinfra_policy.providers import CLOUDFLARE
from mailinfra.policies.mailinfra_policy.standards import txt

from .conftest import txt_rdata, zone_text

ZONE = "example.org"
LONG = "v=DKIM1; k=rsa; p=" + "A" * 380  # two character-strings on the wire
RAW = "site-verification=" + "b" * 2982  # 3000 characters: no 2048 limit at Cloudflare


def _record(urn: str, name: str, content: str) -> dict[str, Any]:
    return {
        "urn": urn,
        "type": CLOUDFLARE.record_type,
        "name": urn,
        "inputs": {"zoneId": "cf-zone", "name": name, "type": "TXT", "content": content, "ttl": 1},
        "dependencies": [],
    }


def test_record_check_passes_on_what_cloudflare_serves(knot) -> None:
    declared = {
        f"s1._domainkey.{ZONE}": txt.cloudflare_txt(LONG),  # the adapter's quoted form
        f"s2._domainkey.{ZONE}": LONG,  # a raw value (a hand-written program)
        f"s3._domainkey.{ZONE}": f'"{LONG}"',  # one quoted string over 255 bytes
        f"verify.{ZONE}": RAW,
    }
    plan = {
        "stack": "test",
        "resources": [_record(f"urn:r{i}", name, content) for i, (name, content) in enumerate(declared.items())],
        "outputs": {"zones": {ZONE: {"provider": "cloudflare", "zoneId": "cf-zone"}}},
    }
    served = [
        (name[: -len(ZONE) - 1], "TXT", txt_rdata(txt.join_txt(txt.parse_cloudflare_txt(c)))) for name, c in declared.items()
    ]
    server = knot({ZONE: zone_text(ZONE, served)})
    report, _ = run_verify(
        VerifyOptions(stack="test", plan_data=plan, nameservers=(server.nameserver,), timeout=2.0, progress=False)
    )
    records = {c.name: c for c in report.checks if c.check == "record"}
    assert set(records) == set(declared)
    assert {name: c.status for name, c in records.items()} == dict.fromkeys(declared, "pass"), records
