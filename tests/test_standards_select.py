"""Each standard selects its own record among a name's TXT values, and owns the rules
verify used to restate: SPF's redirect-with-all and MX address-lookup limit, MTA-STS's
served-policy rules (issue 11)."""

from __future__ import annotations

import pytest

from mailinfra.policies.mailinfra_policy.standards import dkim, dmarc, mtasts, spf, tlsrpt
from mailinfra.policies.mailinfra_policy.standards.errors import StandardError

UNRELATED = ["google-site-verification=abc", "MS=ms123", ""]


@pytest.mark.parametrize(
    "module,record,other_version",
    [
        (spf, "v=spf1 include:_spf.example.com -all", "v=spf10 -all"),
        (dkim, "v=DKIM1; k=rsa; p=MIIB", "v=DKIM2; p=x"),
        (dmarc, "v=DMARC1; p=reject", "v=DMARC10; p=none"),
        (mtasts, "v=STSv1; id=20240101", "v=STSv10; id=1"),
        (tlsrpt, "v=TLSRPTv1; rua=mailto:tls@example.com", "v=TLSRPTv10; rua=mailto:x@example.com"),
    ],
)
def test_select_finds_the_one_record(module, record, other_version):
    assert module.select([*UNRELATED, other_version, record]) == record
    with pytest.raises(StandardError, match="^no "):
        module.select([*UNRELATED, other_version])
    with pytest.raises(StandardError, match="^2 "):
        module.select([record, record.replace("example", "other"), *UNRELATED])


def test_dkim_select_takes_a_key_record_without_version():
    # v= is optional in a DKIM key record (RFC 6376 3.6.1); a p= tag makes it one
    assert dkim.select(["k=rsa; p=MIIB", "v=spf1 -all"]) == "k=rsa; p=MIIB"
    assert dkim.is_dkim("p=") and not dkim.is_dkim("v=spf1 -all")


def test_dmarc_report_authorisation():
    assert dmarc.report_authorisation(["unrelated", "v=DMARC1"]) == "v=DMARC1"
    assert dmarc.report_authorisation(["unrelated"]) is None


def test_effective_redirect_is_ignored_with_an_all():
    with_all = spf.parse_spf("v=spf1 ip4:192.0.2.1 redirect=_spf.example.com -all")
    without = spf.parse_spf("v=spf1 ip4:192.0.2.1 redirect=_spf.example.com")
    assert spf.redirect(with_all) == "_spf.example.com"
    assert spf.effective_redirect(with_all) is None
    assert spf.effective_redirect(without) == "_spf.example.com"
    assert spf.count_dns_lookups(with_all) == 0 and spf.count_dns_lookups(without) == 1


def test_mx_address_lookup_limit():
    assert spf.MAX_ADDRESS_LOOKUPS == 10
    assert spf.mx_address_problem("example.com: mx", 10) is None
    problem = spf.mx_address_problem("example.com: mx", 11)
    assert problem is not None and problem.code == "spf-mx-too-many-hosts"
    assert "11 MX records, over the limit of 10" in problem


def test_mta_sts_served_policy():
    assert mtasts.check_served(200, "text/plain; charset=utf-8") == []
    [status] = mtasts.check_served(301, "text/html")
    assert status.code == "mta-sts-http-status" and "301" in status
    [ctype] = mtasts.check_served(200, "application/octet-stream")
    assert ctype.code == "mta-sts-content-type"
    withdrawn = mtasts.build_policy("none", [], 86400)
    assert [p.code for p in mtasts.check_policy(withdrawn)] == ["mta-sts-mode-none"]
