"""SMTP access to the SES relay through least-privilege IAM credentials.

`smtp_password_from_secret_key` is the published SES algorithm that turns an IAM
secret access key into an SMTP password (SigV4 signature of "SendRawEmail" with the
fixed date 11111111, prefixed by version byte 0x04, base64).

`SmtpAccess` declares an IAM user under /mailinfra/, an inline policy whose only
statement allows ses:SendRawEmail and ses:SendEmail on the domain's identity (and
configuration set) for From addresses of the domain, and one access key per entry
of `key_generations` (one or two: IAM's limit). The SMTP password of the
`active_key` is derived from that key's secret as a secret Output and stored, with the
username, endpoint and port, in a Secrets Manager secret created by the caller's
`secret_factory` (the KeyStore: under its CMK). Only the username (the access key
id), the secret's ARN and the endpoint are exposed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from .config import KEY_GENERATION
from mailinfra.policies.mailinfra_policy.standards import aws as aws_std
from mailinfra.policies.mailinfra_policy.standards import quotas
from .relay import check_domain, check_region, check_tags, smtp_endpoint_for
from .errors import ArgsError

__all__ = [
    "SMTP_PORTS",
    "SecretFactory",
    "SmtpAccess",
    "SmtpAccessArgs",
    "SmtpArgsError",
    "secret_slug",
    "send_policy_document",
    "smtp_password_from_secret_key",
]

# The fixed inputs of the SES SMTP password algorithm (do not change).
_DATE = "11111111"
_SERVICE = "ses"
_TERMINAL = "aws4_request"
_MESSAGE = "SendRawEmail"
_VERSION = 0x04

SMTP_PORTS: frozenset[int] = frozenset({25, 465, 587, 2465, 2587})
SEND_ACTIONS: tuple[str, ...] = aws_std.SES_SEND_ACTIONS
MAX_ACCESS_KEYS = quotas.BY_KEY["iamAccessKeysPerUser"].default  # IAM's fixed quota per user

SecretFactory = Callable[[str, Output[str], str], Any]
"""(name, secret value Output, description) -> the Secrets Manager secret's ARN (Input[str])
or the secret resource itself (anything with `.arn`, e.g. `KeyStore.secret`). `name` is
a slug (lowercase letters, digits, hyphens; at most 64) derived from the component name."""


def secret_slug(name: str) -> str:
    """A KeyStore secret slug derived from a resource name."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "smtp-credentials"


class SmtpArgsError(ArgsError):
    """An invalid SmtpAccess argument: `"<argument>: <reason> (got <value!r>)"`."""


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def smtp_password_from_secret_key(secret_access_key: str, region: str) -> str:
    """The SES SMTP password (SigV4) for an IAM secret access key in `region`.

    The secret never appears in an error message.
    """
    if not isinstance(secret_access_key, str) or not secret_access_key:
        raise SmtpArgsError("secret_access_key", "<redacted>", "must be a non-empty str")
    check_region("region", region, SmtpArgsError)
    signature = _sign(("AWS4" + secret_access_key).encode("utf-8"), _DATE)
    for part in (region, _SERVICE, _TERMINAL, _MESSAGE):
        signature = _sign(signature, part)
    return base64.b64encode(bytes([_VERSION]) + signature).decode("ascii")


def send_policy_document(
    domain: str | Sequence[str],
    resource_arns: list[str],
    *,
    source_vpce: str | None = None,
    source_cidrs: Sequence[str] = (),
) -> str:
    """What SMTP users get: send, on these ARNs, from addresses of `domain` (or of each of
    several domains: a sending system's credentials), and only from where they should:
    through the SMTP interface endpoint (``aws:SourceVpce``) or from the allowed networks
    (``aws:SourceIp``). One statement per source (statements OR, conditions within one
    AND), so a leaked password sends from nowhere else."""
    domains = [domain] if isinstance(domain, str) else list(domain)
    arns = sorted(set(resource_arns))
    if not arns or any(not a.startswith("arn:") or "*" in a for a in arns):
        raise SmtpArgsError("resource_arns", arns, "must be explicit ARNs without wildcards")
    froms = [f"*@{d}" for d in domains]
    base = {"Effect": "Allow", "Action": list(SEND_ACTIONS), "Resource": arns}
    from_domain = {"ses:FromAddress": froms[0] if len(froms) == 1 else froms}
    statements: list[dict[str, object]] = []
    if source_vpce is None and not source_cidrs:
        # no network declared: bound by From address only (the pack's iam-ses-send-source-bound flags it)
        statements.append({"Sid": "SendFromDomainOnly", **base, "Condition": {"StringLike": from_domain}})
    if source_vpce is not None:
        statements.append(
            {
                "Sid": "SendFromDomainThroughEndpoint",
                **base,
                "Condition": {"StringLike": from_domain, "StringEquals": {"aws:SourceVpce": source_vpce}},
            }
        )
    if source_cidrs:
        statements.append(
            {
                "Sid": "SendFromDomainFromAllowedNetworks",
                **base,
                "Condition": {"StringLike": from_domain, "IpAddress": {"aws:SourceIp": sorted(source_cidrs)}},
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, sort_keys=True)


@dataclass(frozen=True)
class SmtpAccessArgs:
    """Arguments of SmtpAccess. Validated at construction (SmtpArgsError)."""

    domain: str
    region: str
    identity_arn: Input[str]
    secret_factory: SecretFactory
    configuration_set_arn: Input[str] | None = None
    port: int = 587
    key_generations: tuple[str, ...] = ("1",)
    active_key: str | None = None  # None: the last of key_generations
    # where the credentials may be used from: the SMTP interface endpoint, the allowed CIDRs
    source_vpce: Input[str] | None = None
    source_cidrs: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    # a sending system's credentials send for more domains than `domain`: their names and
    # the ARNs (identities, configuration sets) they send on
    system: str | None = None
    extra_domains: tuple[str, ...] = ()
    extra_resource_arns: tuple[Input[str], ...] = ()

    def __post_init__(self) -> None:
        check_domain("domain", self.domain, SmtpArgsError)
        for extra in self.extra_domains:
            check_domain("extra_domains", extra, SmtpArgsError)
        if self.extra_domains and self.system is None:
            raise SmtpArgsError("system", None, "must name the sending system whose credentials serve several domains")
        check_region("region", self.region, SmtpArgsError)
        for argument in ("identity_arn", "configuration_set_arn"):
            value = getattr(self, argument)
            if value is None and argument == "configuration_set_arn":
                continue
            if value is None or (isinstance(value, str) and (not value.startswith("arn:") or "*" in value)):
                raise SmtpArgsError(argument, value, "must be an explicit ARN without wildcards")
        if not callable(self.secret_factory):
            raise SmtpArgsError(
                "secret_factory",
                self.secret_factory,
                "must be callable (name, value, description)",
            )
        if isinstance(self.port, bool) or self.port not in SMTP_PORTS:
            raise SmtpArgsError("port", self.port, f"must be one of {sorted(SMTP_PORTS)}")
        gens = tuple(self.key_generations) if not isinstance(self.key_generations, str) else ()
        if (
            not 1 <= len(gens) <= MAX_ACCESS_KEYS
            or len(set(gens)) != len(gens)
            or not all(isinstance(g, str) and KEY_GENERATION.match(g) for g in gens)
        ):
            raise SmtpArgsError(
                "key_generations",
                self.key_generations,
                "must be 1 or 2 distinct short slugs (IAM allows two access keys per user)",
            )
        object.__setattr__(self, "key_generations", gens)
        active = gens[-1] if self.active_key is None else self.active_key
        if active not in gens:
            raise SmtpArgsError("active_key", self.active_key, f"must be one of {list(gens)}")
        object.__setattr__(self, "active_key", active)
        cidrs = tuple(self.source_cidrs) if not isinstance(self.source_cidrs, str) else (self.source_cidrs,)
        for i, c in enumerate(cidrs):
            try:
                ipaddress.ip_network(c, strict=True)
            except (TypeError, ValueError):
                raise SmtpArgsError(f"source_cidrs[{i}]", c, "must be a CIDR such as 198.51.100.0/24") from None
        object.__setattr__(self, "source_cidrs", cidrs)
        if isinstance(self.source_vpce, str) and not self.source_vpce.startswith("vpce-"):
            raise SmtpArgsError("source_vpce", self.source_vpce, "must be a VPC endpoint id (vpce-...)")
        object.__setattr__(self, "tags", check_tags("tags", self.tags, SmtpArgsError))

    @property
    def smtp_endpoint(self) -> str:
        return smtp_endpoint_for(self.region)

    @property
    def domains(self) -> tuple[str, ...]:
        return (self.domain, *self.extra_domains)


class SmtpAccess(pulumi.ComponentResource):
    """Send-only IAM credentials for the SES SMTP interface, stored in Secrets Manager."""

    username: Output[str]
    secret_arn: Output[str]
    smtp_endpoint: str

    def __init__(self, name: str, args: SmtpAccessArgs, opts: ResourceOptions | None = None) -> None:
        if not isinstance(args, SmtpAccessArgs):
            raise SmtpArgsError("args", type(args).__name__, "must be SmtpAccessArgs")
        super().__init__("mailinfra:smtp:SmtpAccess", name, None, opts)
        child = ResourceOptions(parent=self)

        user = aws.iam.User(f"{name}-user", path="/mailinfra/", tags=dict(args.tags), opts=child)
        arns: list[Input[str]] = [args.identity_arn]
        if args.configuration_set_arn is not None:
            arns.append(args.configuration_set_arn)
        arns.extend(args.extra_resource_arns)
        aws.iam.UserPolicy(
            f"{name}-send-only",
            user=user.name,
            policy=Output.all(Output.from_input(args.source_vpce), *arns).apply(
                lambda a: send_policy_document(args.domains, list(a[1:]), source_vpce=a[0], source_cidrs=args.source_cidrs)
            ),
            opts=child,
        )
        # one AccessKey per generation (at most two): rotation = add, swap, delete
        keys = {gen: aws.iam.AccessKey(f"{name}-key-{gen}", user=user.name, opts=child) for gen in args.key_generations}
        key = keys[args.active_key or args.key_generations[-1]]

        region = args.region
        # a value transform of the key's secret, not a resource: allowed inside apply.
        # (None only under a mock that returns no `secret`; the real provider always does.)
        derived = key.secret.apply(lambda s: smtp_password_from_secret_key(s, region) if s else None)
        password: Output[str] = Output.secret(cast(Output[str], derived))
        credentials: Output[str] = Output.secret(
            Output.json_dumps(
                {
                    "username": key.id,
                    "password": password,
                    "endpoint": args.smtp_endpoint,
                    "port": args.port,
                }
            )
        )
        stored = args.secret_factory(
            secret_slug(f"{name}-credentials"),
            credentials,
            (
                f"SES SMTP credentials for sending system {args.system} ({len(args.domains)} domains)"
                if args.system
                else f"SES SMTP credentials for {args.domain}"
            )
            + f" ({args.smtp_endpoint}:{args.port})",
        )
        # KeyStore.secret returns the Secret resource; a plain factory may return the ARN
        self.secret_arn = cast(Any, stored).arn if isinstance(stored, pulumi.CustomResource) else Output.from_input(stored)
        self.username = key.id
        # creation time of every access key: `mailinfra verify --outputs` reports keys past keys.maxAgeDays
        self.key_created = {gen: k.create_date for gen, k in keys.items()}
        self.smtp_endpoint = args.smtp_endpoint
        self.register_outputs(
            {
                "username": self.username,
                "secret_arn": self.secret_arn,
                "smtp_endpoint": self.smtp_endpoint,
            }
        )
