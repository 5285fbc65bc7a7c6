"""DNS rules on Route53 ``Record`` and Cloudflare ``DnsRecord`` TXT records.

Syntax and limits come from ``standards`` (the single source of truth); this module
only finds the records and maps the standards' problems to violations. A TXT value is
the logical (unsplit) text: Route53 entries are read with ``txt.parse_route53_txt``
(``first""rest``), Cloudflare content with ``txt.parse_cloudflare_txt``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pulumi_policy import ResourceValidationArgs, Severity, StackValidationArgs

from .common import (
    PROD_ONLY,
    PROD_STAGING,
    ResourceCheck,
    StackView,
    as_list,
    get,
    is_unknown,
    resource_policy,
    stack_policy,
)
from .standards import bimi, dkim, dmarc, mtasts, spf, tlsrpt, txt
from .standards._common import organizational_domain
from .standards.errors import StandardError

ROUTE53_RECORD = "aws:route53/record:Record"
CF_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
RECORD_TYPES = (ROUTE53_RECORD, CF_RECORD)


@dataclass
class RecordView:
    """One DNS record resource: normalized name (None if unknown), type, logical values."""

    name: str | None
    type: str | None
    values: list[Any] = field(default_factory=list)  # str or UNKNOWN
    raw: list[Any] = field(default_factory=list)     # provider form of each value

    @property
    def texts(self) -> list[str]:
        """The known values."""
        return [v for v in self.values if isinstance(v, str) and not is_unknown(v)]


def _name(props: dict[str, Any]) -> str | None:
    name = get(props, "name")
    if not isinstance(name, str) or is_unknown(name):
        return None
    return name.strip().lower().rstrip(".")


def record_view(type_: str, props: dict[str, Any]) -> RecordView:
    rtype = get(props, "type")
    rtype = rtype.upper() if isinstance(rtype, str) and not is_unknown(rtype) else None
    view = RecordView(_name(props), rtype)
    if type_ == ROUTE53_RECORD:
        raw = get(props, "records")
        entries = [raw] if is_unknown(raw) else as_list(raw)
    elif type_ == CF_RECORD:
        content = get(props, "content")
        entries = [] if content is None else [content]
    else:
        return view
    for entry in entries:
        view.raw.append(entry)
        if not isinstance(entry, str) or is_unknown(entry):
            view.values.append(entry if is_unknown(entry) else None)
            continue
        if rtype != "TXT":
            view.values.append(entry)
            continue
        try:
            strings = txt.parse_route53_txt(entry) if type_ == ROUTE53_RECORD else txt.parse_cloudflare_txt(entry)
            view.values.append(txt.join_txt(strings))
        except StandardError:
            view.values.append(entry)  # unparseable quoting: judged as written
    return view


def txt_values(type_: str, props: dict[str, Any]) -> tuple[str | None, list[str]]:
    """(name, known TXT values) of a TXT record resource; ([], ...) for other records."""
    view = record_view(type_, props)
    return view.name, view.texts if view.type == "TXT" else []


def _label_kind(name: str | None) -> str:
    if name is None:
        return ""
    if "._report._dmarc." in name:
        return "dmarc-report-auth"
    if name.startswith("_dmarc."):
        return "dmarc"
    if "._domainkey." in name:
        return "dkim"
    if name.startswith("_mta-sts."):
        return "mta-sts"
    if name.startswith("_smtp._tls."):
        return "tls-rpt"
    if "._bimi." in name:
        return "bimi"
    return ""


# --------------------------------------------------------------------- rules

Values = Callable[[str, dict[str, Any]], list[str]]


def _spf(type_: str, props: dict[str, Any]) -> list[str]:
    """The SPF records among a record resource's TXT values (parse_spf rejects more than
    MAX_DNS_LOOKUPS querying terms, so spf-lookup-limit is a parse check)."""
    return spf.spf_records(txt_values(type_, props)[1])


def _kind(kind: str) -> Values:
    """The TXT values of a record resource whose name is a ``kind`` label (see _label_kind)."""
    def values(type_: str, props: dict[str, Any]) -> list[str]:
        name, texts = txt_values(type_, props)
        return texts if _label_kind(name) == kind else []
    return values


def _each(values: Values, parse: Callable[[str], Any], judge: Callable[[Any, dict[str, Any]], Iterable[str]] | None = None,
          *, unparsed: Callable[[StandardError], str] | None = None) -> ResourceCheck:
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


def _spf_permissive(record: spf.SpfRecord, cfg: dict[str, Any]) -> Iterator[str]:
    qualifier = spf.all_qualifier(record)
    if qualifier in ("+", "?"):
        yield f"SPF record ends in '{qualifier}all', which lets any host send as the domain"


def _spf_hard_fail(record: spf.SpfRecord, cfg: dict[str, Any]) -> Iterator[str]:
    qualifier = spf.all_qualifier(record)
    if qualifier == "-" or (qualifier is None and spf.redirect(record) is not None):
        return
    got = "no 'all'" if qualifier is None else f"'{qualifier}all'"
    yield f"SPF record must end in '-all' (got {got})"


def _txt_length(type_: str, props: dict[str, Any], args: ResourceValidationArgs, cfg: dict[str, Any]) -> Iterator[str]:
    view = record_view(type_, props)
    if view.type != "TXT":
        return
    for index, raw in enumerate(view.raw):
        if not isinstance(raw, str) or is_unknown(raw):
            continue
        if type_ == ROUTE53_RECORD:
            for problem in txt.check_route53_txt(raw):
                yield f"records[{index}]: {problem}"
        else:
            try:
                strings = txt.parse_cloudflare_txt(raw)
                txt.cloudflare_txt(txt.join_txt(strings))
            except StandardError as exc:
                yield str(exc)
                continue
            for i, size in enumerate(txt.chunk_sizes(strings)):
                if size > txt.MAX_STRING_BYTES:
                    yield f"quoted TXT string {i} is {size} bytes, over {txt.MAX_STRING_BYTES}"


def _dmarc_valid(record: dmarc.DmarcRecord, cfg: dict[str, Any]) -> Iterator[str]:
    if record.p is None:
        yield "DMARC record has no 'p' tag (none, quarantine or reject)"
    if record.unknown_tags:
        yield f"DMARC record has tags that are not RFC 9989 tags: {', '.join(record.unknown_tags)}"


def _dmarc_removed(record: dmarc.DmarcRecord, cfg: dict[str, Any]) -> Iterator[str]:
    if record.removed_tags:
        yield f"DMARC record uses tags removed by RFC 9989: {', '.join(record.removed_tags)}"


def _dmarc_enforcing(record: dmarc.DmarcRecord, cfg: dict[str, Any]) -> Iterator[str]:
    if not dmarc.is_enforcing(record):
        testing = " in testing mode (t=y)" if record.testing else ""
        yield f"DMARC policy is p={record.policy}{testing}; quarantine or reject is required"


def _dkim_unparsed(exc: StandardError) -> str:
    return f"DKIM key record does not parse: {exc}"


def _dkim_strength(record: dkim.DkimKeyRecord, cfg: dict[str, Any]) -> Iterator[str]:
    minimum = int(cfg["minRsaBits"])
    if record.revoked:
        return  # a retired selector publishes an empty p=
    if record.key_type == "rsa" and record.key_bits is not None and record.key_bits < minimum:
        yield f"DKIM RSA key is {record.key_bits} bits; at least {minimum} required"


def stack_records(view: StackView) -> list[tuple[Any, RecordView]]:
    """Every DNS record resource of the stack with its view (one pass per stack view)."""
    records = view.cache.get("dns-records")
    if records is None:
        records = [(r, record_view(r.resource_type, view.props[r.urn])) for r in view.of_type(*RECORD_TYPES)]
        view.cache["dns-records"] = records
    return records  # type: ignore[no-any-return]


def _of_kind(records: list[tuple[Any, RecordView]], kind: str) -> list[tuple[Any, RecordView]]:
    return [(resource, record) for resource, record in records if record.type == "TXT" and _label_kind(record.name) == kind]


def _one_spf(args: StackValidationArgs, cfg: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    seen: dict[str, str] = {}
    for resource, record in stack_records(StackView.of(args)):
        if record.type != "TXT" or record.name is None:
            continue
        for value in record.texts:
            if spf.is_spf(value):
                if record.name in seen:
                    yield ((f"{record.name} has more than one SPF record (also in {seen[record.name]}); "
                           "receivers return permerror"), resource.urn)
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
                policies[record.name[len("_dmarc."):]] = _parse_dmarc(value)
            except StandardError:
                policies[record.name[len("_dmarc."):]] = None
    for resource, record in _of_kind(records, "bimi"):
        if record.name is None:
            continue
        domain = record.name.split("._bimi.", 1)[1]
        for value in record.texts:
            try:
                if bimi.parse_bimi(value).declined:
                    continue
            except StandardError:
                continue  # bimi-syntax reports it
            policy = policies.get(domain, policies.get(organizational_domain(domain)))
            if policy is None:
                yield (f"BIMI record for {domain} but no parseable DMARC record for it in the stack", resource.urn)
            elif not dmarc.is_enforcing(policy):
                yield ((f"BIMI record for {domain} needs DMARC quarantine or reject (got p={policy.policy}"
                       f"{', t=y' if policy.testing else ''})"), resource.urn)


POLICIES = [
    stack_policy(
        "dns-one-spf-per-name",
        "Each DNS name publishes at most one SPF record (RFC 7208 3.2).",
        check=_one_spf, severity=Severity.HIGH,
        remediation="Merge the SPF records of the name into one (the AuthRecords component does).",
    ),
    resource_policy(
        "spf-no-permissive-all",
        "SPF records never end in '+all' or '?all'.",
        types=RECORD_TYPES, check=_each(_spf, spf.parse_spf, _spf_permissive), severity=Severity.CRITICAL,
        remediation="End the SPF record in '-all' (or '~all' while testing in dev).",
    ),
    resource_policy(
        "spf-hard-fail",
        "SPF records end in '-all' (advisory outside prod, where '~all' may be used while testing).",
        types=RECORD_TYPES, check=_each(_spf, spf.parse_spf, _spf_hard_fail), severity=Severity.MEDIUM,
        remediation="Set the SPF 'all' qualifier to '-' (spf.allQualifier in the stack config).",
        levels=PROD_ONLY,
    ),
    resource_policy(
        "spf-lookup-limit",
        "SPF records parse (RFC 7208) and use at most 10 DNS-querying terms (include, a, mx, ptr, exists, redirect).",
        types=RECORD_TYPES, check=_each(_spf, spf.parse_spf, unparsed=str), severity=Severity.HIGH,
        remediation="Remove or flatten includes until the record has 10 or fewer DNS-querying terms.",
    ),
    resource_policy(
        "dns-txt-string-length",
        "TXT character-strings are at most 255 bytes: Route53 values are split as first\"\"rest; "
        "Cloudflare content is taken whole (up to 2048 characters).",
        types=RECORD_TYPES, check=_txt_length, severity=Severity.HIGH,
        remediation="Write Route53 TXT values with route53_txt() (chunks joined by \"\"); Cloudflare with cloudflare_txt().",
    ),
    resource_policy(
        "dmarc-valid",
        "DMARC records are valid RFC 9989 records with a p tag.",
        types=RECORD_TYPES, check=_each(_kind("dmarc"), _parse_dmarc, _dmarc_valid, unparsed=str), severity=Severity.HIGH,
        remediation="Build DMARC with build_dmarc(): v=DMARC1 first, p, and only RFC 9989 tags.",
    ),
    resource_policy(
        "dmarc-no-removed-tags",
        "DMARC records do not use pct, rf or ri (removed by RFC 9989).",
        types=RECORD_TYPES, check=_each(_kind("dmarc"), _parse_dmarc, _dmarc_removed), severity=Severity.LOW,
        remediation="Drop pct/rf/ri; use t=y for a testing rollout instead of pct.",
        levels=PROD_STAGING,
    ),
    resource_policy(
        "dmarc-enforcing",
        "DMARC policies enforce (p=quarantine or p=reject, not t=y); dev may monitor.",
        types=RECORD_TYPES, check=_each(_kind("dmarc"), _parse_dmarc, _dmarc_enforcing), severity=Severity.HIGH,
        remediation="Set dmarc.policy to quarantine or reject for the stack (prod rejects).",
        levels=PROD_ONLY,
    ),
    resource_policy(
        "dkim-key-strength",
        "Published DKIM keys parse and RSA keys are at least minRsaBits (2048) bits.",
        types=RECORD_TYPES, check=_each(_kind("dkim"), dkim.parse_dkim_record, _dkim_strength, unparsed=_dkim_unparsed), severity=Severity.HIGH,
        remediation="Generate a 2048-bit RSA (or Ed25519) key and publish it with dkim_txt_from_public_key().",
        config={"minRsaBits": {"type": "integer", "default": dkim.MIN_RSA_BITS, "minimum": 1024}},
    ),
    resource_policy(
        "mta-sts-syntax",
        "MTA-STS TXT records are 'v=STSv1; id=<1..32 alphanumerics>' (RFC 8461).",
        types=RECORD_TYPES, check=_each(_kind("mta-sts"), mtasts.parse_txt, unparsed=str), severity=Severity.MEDIUM,
        remediation="Build the record with mtasts.build_txt(mtasts.policy_id(policy)).",
    ),
    resource_policy(
        "tls-rpt-syntax",
        "TLS-RPT TXT records are 'v=TLSRPTv1; rua=...' with mailto:/https: destinations (RFC 8460).",
        types=RECORD_TYPES, check=_each(_kind("tls-rpt"), tlsrpt.parse_tlsrpt, unparsed=str), severity=Severity.MEDIUM,
        remediation="Build the record with tlsrpt.build_tlsrpt(rua).",
    ),
    resource_policy(
        "bimi-syntax",
        "BIMI assertion records parse: v=BIMI1, https .svg logo, https .pem authority.",
        types=RECORD_TYPES, check=_each(_kind("bimi"), bimi.parse_bimi, unparsed=str), severity=Severity.LOW,
        remediation="Build the record with bimi.build_bimi(logo_url, authority_url).",
    ),
    stack_policy(
        "bimi-requires-enforcing-dmarc",
        "BIMI records are published only where DMARC is quarantine or reject.",
        check=_bimi_dmarc, severity=Severity.MEDIUM,
        remediation="Enforce DMARC on the domain before publishing BIMI, or remove the BIMI record.",
    ),
]
