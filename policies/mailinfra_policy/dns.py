"""DNS rules on Route53 ``Record`` and Cloudflare ``DnsRecord`` TXT records.

Syntax and limits come from ``standards`` (the single source of truth); this module
only finds the records and maps the standards' problems to violations. A TXT value is
the logical (unsplit) text, read by the provider's adapter (``providers``); what a record
is comes from the registry of record kinds (``standards.kinds``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from .common import (
    PROD_ONLY,
    PROD_STAGING,
    ResourceCheck,
    StackView,
    get,
    is_unknown,
    resource_policy,
    resource_region,
    stack_policy,
)
from . import providers
from .standards import bimi, dkim, dmarc, kinds, mtasts, spf, tlsrpt, txt
from .standards._common import normalize_host, organizational_domain
from .standards.errors import Problem, StandardError

RECORD_TYPES = providers.RECORD_TYPES
# SES custom MAIL FROM: (type, property naming the identity's domain).
MAIL_FROM = "aws:sesv2/emailIdentityMailFromAttributes:EmailIdentityMailFromAttributes"
MAIL_FROM_TYPES = ((MAIL_FROM, "emailIdentity"), ("aws:ses/mailFrom:MailFrom", "domain"))
# SES identities: (type, property naming the identity).
IDENTITY_TYPES = (("aws:sesv2/emailIdentity:EmailIdentity", "emailIdentity"), ("aws:ses/domainIdentity:DomainIdentity", "domain"))


# One DNS record resource, read by its provider's adapter: normalized name (None if
# unknown), type, logical values (None where unknown) and the provider form of each.
RecordView = providers.Record


def record_view(type_: str, props: dict[str, Any]) -> RecordView:
    try:
        return providers.read(type_, props, unknown=is_unknown)
    except providers.UnknownProviderError:
        return RecordView(provider="", name=None, type=None)


def txt_values(type_: str, props: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(name, known TXT values) of a TXT record resource; ([], ...) for other records."""
    view = record_view(type_, props)
    return view.name, view.texts if view.type == "TXT" else []


def _classified(record: RecordView) -> tuple[str, str]:
    """(purpose, domain) of a record from the registry of kinds; ("", "") if its name is unknown."""
    if record.name is None or record.type is None:
        return "", ""
    return kinds.classify(record.name, record.type, record.texts)


# --------------------------------------------------------------------- rules

Values = Callable[[str, dict[str, Any]], list[str]]


def _spf(type_: str, props: dict[str, Any]) -> list[str]:
    """The SPF records among a record resource's TXT values (the standard selects them)."""
    return spf.spf_records(txt_values(type_, props)[1])


def _kind(kind: str) -> Values:
    """The TXT values of a record resource of purpose ``kind`` (the registry classifies)."""

    def values(type_: str, props: dict[str, Any]) -> list[str]:
        record = record_view(type_, props)
        return record.texts if record.type == "TXT" and _classified(record)[0] == kind else []

    return values


def _each(
    values: Values,
    parse: Callable[[str], Any],
    judge: Callable[[Any, dict[str, Any]], Iterable[str]] | None = None,
    *,
    unparsed: Callable[[StandardError], str] | None = None,
) -> ResourceCheck:
    """Check every value of ``values`` parsed with ``parse``: ``judge(record, config)`` yields the
    messages for a parsed one, ``unparsed(error)`` is the message for one that does not parse
    (None: skipped, another rule reports it)."""

    def check(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
        for value in values(type_, props):
            try:
                record = parse(value)
            except StandardError as exc:
                if unparsed is not None:
                    yield unparsed(exc)
                continue
            if judge is not None:
                yield from judge(record, cfg)

    return check


_parse_dmarc = partial(dmarc.parse_dmarc, strict=False)

Check = Callable[[str, dict[str, Any]], list[Problem]]
_CODES = frozenset(spf.CODES + dmarc.CODES + dkim.CODES + mtasts.CODES + tlsrpt.CODES + txt.CODES)


def _problems(values: Values, check: Check, *codes: str) -> ResourceCheck:
    """The problems ``check(value, config)`` finds with one of ``codes``, for every value of
    ``values``: the standard judges, the rule only picks which of its findings it enforces."""
    wanted = frozenset(codes)
    if not wanted <= _CODES:
        raise ValueError(f"unknown problem codes {sorted(wanted - _CODES)}")

    def run(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
        for value in values(type_, props):
            yield from (str(problem) for problem in check(value, cfg) if problem.code in wanted)

    return run


def _check_spf(value: str, cfg: dict[str, Any]) -> list[Problem]:
    return spf.check_spf(value)


def _check_dmarc(value: str, cfg: dict[str, Any]) -> list[Problem]:
    return dmarc.check_dmarc(value, min_policy="quarantine")


def _check_dkim(value: str, cfg: dict[str, Any]) -> list[Problem]:
    return dkim.check_dkim(value, min_rsa_bits=int(cfg["minRsaBits"]))


def _check_mtasts(value: str, cfg: dict[str, Any]) -> list[Problem]:
    return mtasts.check_txt(value)


def _check_tlsrpt(value: str, cfg: dict[str, Any]) -> list[Problem]:
    return tlsrpt.check_tlsrpt(value)


def _txt_length(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    view = record_view(type_, props)
    if view.type != "TXT":
        return
    adapter = providers.adapter_for_type(type_)
    for index, raw in enumerate(view.raw):
        if not isinstance(raw, str) or is_unknown(raw):
            continue
        where = f"records[{index}]: " if not adapter.one_value_per_resource else ""
        for problem in adapter.check_txt(raw, view.name):
            yield f"{where}{problem}"


def stack_records(view: StackView) -> list[tuple[Any, RecordView]]:
    """Every DNS record resource of the stack with its view (one pass per stack view)."""
    records = view.cache.get("dns-records")
    if records is None:
        records = [(r, record_view(r.resource_type, view.props[r.urn])) for r in view.of_type(*RECORD_TYPES)]
        view.cache["dns-records"] = records
    return records  # type: ignore[no-any-return]


def _of_kind(records: list[tuple[Any, RecordView]], kind: str) -> list[tuple[Any, RecordView]]:
    return [(resource, record) for resource, record in records if record.type == "TXT" and _classified(record)[0] == kind]


def _domain(record: RecordView) -> str:
    """The domain a record serves (``example.com`` for ``_dmarc.example.com``), from the registry."""
    return _classified(record)[1]


def _one_spf(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    seen: dict[str, str] = {}
    for resource, record in stack_records(StackView.of(args)):
        if record.type != "TXT" or record.name is None:
            continue
        for _ in spf.spf_records(record.texts):
            if record.name in seen:
                yield (
                    (f"{record.name} has more than one SPF record (also in {seen[record.name]}); receivers return permerror"),
                    resource.urn,
                )
            else:
                seen[record.name] = resource.urn


def _bimi_dmarc(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    records = stack_records(StackView.of(args))
    policies: dict[str, Any] = {}  # domain -> DmarcRecord or None (unparseable)
    for _, record in _of_kind(records, "dmarc"):
        if record.name is None:
            continue
        for value in record.texts:
            try:
                policies[_domain(record)] = _parse_dmarc(value)
            except StandardError:
                policies[_domain(record)] = None
    for resource, record in _of_kind(records, "bimi"):
        if record.name is None:
            continue
        domain = _domain(record)
        for value in record.texts:
            try:
                if bimi.parse_bimi(value).declined:
                    continue
            except StandardError:
                continue  # bimi-syntax reports it
            policy = policies.get(domain, policies.get(organizational_domain(domain)))
            if policy is None:
                yield (f"BIMI record for {domain} but no parseable DMARC record for it in the stack", resource.urn)
            else:
                for problem in bimi.dmarc_precondition(policy):  # the one BIMI precondition
                    yield f"BIMI record for {domain}: {problem}", resource.urn


def _dmarc_policies(records: list[tuple[Any, RecordView]]) -> dict[str, dmarc.DmarcRecord]:
    """Domain -> the DMARC record receivers would apply: the standard selects it among the
    name's TXT values (across resources) and it parses, read leniently as receivers do."""
    values: dict[str, list[str]] = {}
    for _, record in _of_kind(records, "dmarc"):
        if record.name is not None:
            values.setdefault(_domain(record), []).extend(record.texts)
    policies: dict[str, dmarc.DmarcRecord] = {}
    for domain, texts in values.items():
        try:
            policies[domain] = _parse_dmarc(dmarc.select(texts))
        except StandardError:
            continue  # none, several or unparseable: no policy applies (dmarc-valid reports syntax)
    return policies


def _spf_alignment(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    policies: dict[str, dmarc.DmarcRecord] | None = None
    for type_, identity_key in MAIL_FROM_TYPES:
        for resource in view.of_type(type_):
            props = view.props[resource.urn]
            identity, mail_from = get(props, identity_key), get(props, "mailFromDomain")
            if not isinstance(identity, str) or not isinstance(mail_from, str) or not mail_from:
                continue  # unknown or missing: nothing else decides
            if policies is None:
                policies = _dmarc_policies(stack_records(view))
            domain = identity.rsplit("@", 1)[-1].lower().rstrip(".")
            # RFC 9989 policy discovery, offline: the domain's record, else its organisational domain's.
            policy = policies.get(domain) or policies.get(organizational_domain(domain))
            if policy is None:
                continue  # compliance-domain-authentication reports a domain without DMARC
            problem = dmarc.spf_alignment_problem(policy.aspf, domain, mail_from)
            if problem is not None:
                yield f"{domain}: {problem}", resource.urn


def _ses_regions(view: StackView) -> dict[str, set[str]] | None:
    """Domain -> the regions of its SES identities (own region, else the provider's, else
    aws:region). A domain with an identity of unknown region is left out; None when an
    identity's name is unknown (it may be any domain's)."""
    regions: dict[str, set[str]] = {}
    undecided: set[str] = set()
    for type_, key in IDENTITY_TYPES:
        for resource in view.of_type(type_):
            props = view.props[resource.urn]
            identity = get(props, key)
            if not isinstance(identity, str):
                if is_unknown(identity):
                    return None
                continue
            domain, region = normalize_host(identity.rsplit("@", 1)[-1]), resource_region(props, resource.provider)
            if isinstance(region, str):
                regions.setdefault(domain, set()).add(region)
            elif is_unknown(region):
                undecided.add(domain)
    return {domain: found for domain, found in regions.items() if domain not in undecided}


def _easy_dkim_target(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    view = StackView.of(args)
    regions: dict[str, set[str]] | None = None
    for resource, record in stack_records(view):
        if record.type != "CNAME" or _classified(record)[0] != "easy-dkim":
            continue
        if regions is None:
            regions = _ses_regions(view)
            if regions is None:
                return
        identity_regions = regions.get(_domain(record))
        if not identity_regions or record.name is None:
            continue  # no SES identity of the domain in the stack: not SES's record to judge
        for target in record.values:
            if target is None:
                continue  # unknown in preview
            problem = dkim.easy_dkim_target_problem(record.name, target, identity_regions)  # the one rule
            if problem is not None:
                yield str(problem), resource.urn


def _section(purpose: str) -> str:
    """The stack config section of a record kind's rules (reports point there)."""
    return kinds.get(purpose).top_section


POLICIES = [
    stack_policy(
        "dns-one-spf-per-name",
        "Each DNS name publishes at most one SPF record (RFC 7208 3.2).",
        section=_section("spf"),
        check=_one_spf,
        severity=Severity.HIGH,
        remediation="Merge the SPF records of the name into one (the AuthRecords component does).",
    ),
    resource_policy(
        "spf-no-permissive-all",
        "SPF records never end in '+all' or '?all'.",
        section=_section("spf"),
        types=RECORD_TYPES,
        severity=Severity.CRITICAL,
        check=_problems(_spf, _check_spf, "spf-permissive-all"),
        remediation="End the SPF record in '-all' (or '~all' while testing in dev).",
    ),
    resource_policy(
        "spf-hard-fail",
        "SPF records end in '-all' (advisory outside prod, where '~all' may be used while testing).",
        section=_section("spf"),
        types=RECORD_TYPES,
        severity=Severity.MEDIUM,
        check=_problems(_spf, _check_spf, "spf-not-fail-all"),
        remediation="Set the SPF 'all' qualifier to '-' (spf.all in the stack config).",
        levels=PROD_ONLY,
    ),
    resource_policy(
        "spf-lookup-limit",
        "SPF records parse (RFC 7208) and use at most 10 DNS-querying terms (include, a, mx, ptr, exists, redirect).",
        section=_section("spf"),
        types=RECORD_TYPES,
        severity=Severity.HIGH,
        check=_problems(_spf, _check_spf, "spf-syntax", "spf-too-many-lookups"),
        remediation="Remove or flatten includes until the record has 10 or fewer DNS-querying terms.",
    ),
    resource_policy(
        "dns-txt-string-length",
        'TXT character-strings are at most 255 bytes: Route53 values are split as first""rest, '
        "at most 4,000 characters per value; "
        "Cloudflare content is quoted 255-byte strings or a raw value, at most 4,096 bytes per record in wire format.",
        section="domains",
        types=RECORD_TYPES,
        check=_txt_length,
        severity=Severity.HIGH,
        remediation='Write Route53 TXT values with route53_txt() (chunks joined by ""); Cloudflare with cloudflare_txt().',
    ),
    resource_policy(
        "dmarc-valid",
        "DMARC records are valid RFC 9989 records with a p tag.",
        section=_section("dmarc"),
        types=RECORD_TYPES,
        severity=Severity.HIGH,
        check=_problems(_kind("dmarc"), _check_dmarc, "dmarc-syntax", "dmarc-no-policy", "dmarc-unknown-tag"),
        remediation="Build DMARC with build_dmarc(): v=DMARC1 first, p, and only RFC 9989 tags.",
    ),
    resource_policy(
        "dmarc-no-removed-tags",
        "DMARC records do not use pct, rf or ri (removed by RFC 9989).",
        section=_section("dmarc"),
        types=RECORD_TYPES,
        severity=Severity.LOW,
        check=_problems(_kind("dmarc"), _check_dmarc, "dmarc-removed-tag"),
        remediation="Drop pct/rf/ri; use t=y for a testing rollout instead of pct.",
        levels=PROD_STAGING,
    ),
    resource_policy(
        "dmarc-enforcing",
        "DMARC policies enforce (p=quarantine or p=reject, not t=y); dev may monitor.",
        section=_section("dmarc"),
        types=RECORD_TYPES,
        severity=Severity.HIGH,
        check=_problems(_kind("dmarc"), _check_dmarc, "dmarc-weak-policy", "dmarc-testing"),
        remediation="Set dmarc.policy to quarantine or reject for the stack (prod rejects).",
        levels=PROD_ONLY,
    ),
    stack_policy(
        "dmarc-spf-alignment",
        "Where SES sends with a custom MAIL FROM domain, the From domain's DMARC record lets SPF align: "
        "aspf=s never matches the MAIL FROM subdomain (bounce.<domain>), leaving DMARC to DKIM alone.",
        section=_section("dmarc"),
        check=_spf_alignment,
        severity=Severity.MEDIUM,
        remediation="Set dmarc.aspf to r (relaxed, RFC 9989's default) for the domain in the stack config, "
        "or publish aspf=r in the DMARC record; keep the MAIL FROM domain under the From domain.",
        levels=PROD_STAGING,
    ),
    resource_policy(
        "dkim-key-strength",
        "Published DKIM keys parse and RSA keys are at least minRsaBits (2048) bits.",
        section=_section("dkim"),
        types=RECORD_TYPES,
        severity=Severity.HIGH,
        check=_problems(_kind("dkim"), _check_dkim, "dkim-syntax", "dkim-rsa-too-short"),
        remediation="Generate a 2048-bit RSA (or Ed25519) key and publish it with dkim_txt_from_public_key().",
        config={"minRsaBits": {"type": "integer", "default": dkim.MIN_RSA_BITS, "minimum": 1024}},
    ),
    stack_policy(
        "easy-dkim-cname-target",
        "SES Easy DKIM CNAMEs point at the Easy DKIM domain of the region of the domain's SES identity "
        "(a regional one in regions such as af-south-1: AWS General Reference, Easy DKIM domains).",
        section=_section("easy-dkim"),
        check=_easy_dkim_target,
        severity=Severity.HIGH,
        remediation="Build the three CNAMEs with dkim.easy_dkim_cname(domain, token, region) for the region of "
        "the SES identity (the SendingDomain component does), or copy the targets SES shows for the identity.",
    ),
    resource_policy(
        "mta-sts-syntax",
        "MTA-STS TXT records are 'v=STSv1; id=<1..32 alphanumerics>' (RFC 8461).",
        section=_section("mta-sts"),
        types=RECORD_TYPES,
        severity=Severity.MEDIUM,
        check=_problems(_kind("mta-sts"), _check_mtasts, "mta-sts-txt-syntax"),
        remediation="Build the record with mtasts.build_txt(mtasts.policy_id(policy)).",
    ),
    resource_policy(
        "tls-rpt-syntax",
        "TLS-RPT TXT records are 'v=TLSRPTv1; rua=...' with mailto:/https: destinations (RFC 8460).",
        section=_section("tls-rpt"),
        types=RECORD_TYPES,
        severity=Severity.MEDIUM,
        check=_problems(_kind("tls-rpt"), _check_tlsrpt, "tls-rpt-syntax"),
        remediation="Build the record with tlsrpt.build_tlsrpt(rua).",
    ),
    resource_policy(
        "bimi-syntax",
        "BIMI assertion records parse: v=BIMI1, https .svg logo, https .pem authority.",
        section=_section("bimi"),
        types=RECORD_TYPES,
        check=_each(_kind("bimi"), bimi.parse_bimi, unparsed=str),
        severity=Severity.LOW,
        remediation="Build the record with bimi.build_bimi(logo_url, authority_url).",
    ),
    stack_policy(
        "bimi-requires-enforcing-dmarc",
        "BIMI records are published only where DMARC is quarantine or reject.",
        section=_section("bimi"),
        check=_bimi_dmarc,
        severity=Severity.MEDIUM,
        remediation="Enforce DMARC on the domain before publishing BIMI, or remove the BIMI record.",
    ),
]
