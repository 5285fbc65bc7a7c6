"""DKIM key lifecycle: Easy DKIM (default) and BYODKIM with selector rotation by dual publishing.

Easy DKIM: SES generates, publishes (through three CNAMEs) and rotates RSA 2048 keys;
:func:`easy_dkim_signing_attributes` gives the identity's signing attributes.

BYODKIM: :class:`DkimKeyPair` is a Pulumi dynamic resource whose provider generates an
RSA 2048 key pair with ``cryptography`` once, in ``create``; the key then lives in
state, its private halves as secrets (``additional_secret_outputs``). ``diff`` reports
no change unless the selector or the key size changes (both force a replacement: a new
key under a published selector would break every signature in flight, so
:class:`ByoDkim` names the resource after the selector and a selector never changes
on an existing resource; rotate by adding a selector instead). ``update`` keeps the key.

Selector rotation (:func:`plan_selectors`, pure, injectable ``today``):

1. the config lists the selectors, oldest first, each with its ``published`` date;
2. a new selector is published (its TXT record declared) from its ``published`` date;
3. signing switches to the newest selector only once it has been published for at
   least ``overlap_days`` (resolvers and caches have its key); a selector without a
   date is published but never trusted to sign, except the very first one (bootstrap:
   nothing signs before it);
4. the old selector stays published ``overlap_days`` after it stopped signing (mail in
   flight and delayed verifications), or until its explicit ``retire_after`` date
   (which may not be earlier), and is withdrawn afterwards.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pulumi
import pulumi.dynamic
import pulumi_aws as aws
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .keystore import KeyStoreError, SecretStore
from mailinfra.policies.mailinfra_policy.standards import dkim as dkim_std
from mailinfra.policies.mailinfra_policy.standards.errors import DkimError

__all__ = [
    "DKIM_KEY_SIZE",
    "ByoDkim",
    "ByoDkimArgs",
    "DkimKeyPair",
    "DkimKeyPairProvider",
    "DkimSelector",
    "SelectorPlan",
    "SelectorPlanError",
    "easy_dkim_signing_attributes",
    "generate_key_material",
    "plan_selectors",
]

DKIM_KEY_SIZE = 2048  # SES accepts RSA 1024/2048 only; we publish 2048 (RFC 8301, standards.dkim.MIN_RSA_BITS)
SECRET_OUTPUTS = ["private_key_pem", "private_key_b64"]
DEFAULT_OVERLAP_DAYS = 7


class SelectorPlanError(KeyStoreError):
    """The configured selectors cannot be rotated safely; names the selector and the value."""


# ---------------------------------------------------------------------------------
# Selector rotation (pure)
# ---------------------------------------------------------------------------------


class SelectorLike(Protocol):
    """Anything with the fields of a configured selector (mailinfra.components.config.DkimSelector fits)."""

    @property
    def name(self) -> str: ...
    @property
    def published(self) -> _dt.date | None: ...
    @property
    def retire_after(self) -> _dt.date | None: ...


@dataclass(frozen=True)
class DkimSelector:
    """A configured BYODKIM selector.

    ``published``: the first day its TXT record is (to be) declared; None = published
    from now on without a known date, never old enough to take over signing.
    ``retire_after``: keep it published up to and including this day (not before it
    has stopped signing plus the overlap); without it the selector is withdrawn the day
    after ``<day it stopped signing> + overlap_days``.
    """

    name: str
    published: _dt.date | None = None
    retire_after: _dt.date | None = None


@dataclass(frozen=True)
class SelectorPlan:
    today: _dt.date
    signing: str  # the selector SES signs with
    publish: tuple[str, ...]  # selectors whose TXT record is declared (config order)
    pending: tuple[str, ...]  # listed, published date still in the future
    retired: tuple[str, ...]  # withdrawn after the overlap
    next_change: _dt.date | None  # the next day on which this plan changes (deploy then)


def _check_selectors(selectors: Sequence[SelectorLike], overlap_days: int) -> None:
    if isinstance(overlap_days, bool) or not isinstance(overlap_days, int) or not 1 <= overlap_days <= 365:
        raise SelectorPlanError("overlap_days", overlap_days, "must be an integer from 1 to 365")
    if not selectors:
        raise SelectorPlanError("selectors", [], "BYODKIM needs at least one selector")
    seen: set[str] = set()
    last_date: _dt.date | None = None
    undated_seen = False
    for i, s in enumerate(selectors):
        where = f"selectors[{i}]"
        try:
            name = dkim_std.validate_selector(s.name)
        except DkimError:
            raise SelectorPlanError(
                f"{where}.name", s.name, "must be a DKIM selector (lowercase letters, digits, inner hyphens)"
            ) from None
        if name != s.name or len(name) > 63:
            raise SelectorPlanError(f"{where}.name", s.name, "must be lowercase and at most 63 characters (SES limit)")
        if name in seen:
            raise SelectorPlanError(f"{where}.name", name, "is listed twice")
        seen.add(name)
        for attr in ("published", "retire_after"):
            v = getattr(s, attr)
            if v is not None and (not isinstance(v, _dt.date) or isinstance(v, _dt.datetime)):
                raise SelectorPlanError(f"{where}.{attr}", v, "must be a date")
        if s.published is None:
            undated_seen = True
        else:
            if undated_seen:
                raise SelectorPlanError(
                    f"{where}.published",
                    s.published,
                    "a dated selector may not follow an undated one; list selectors oldest first",
                )
            if last_date is not None and s.published <= last_date:
                raise SelectorPlanError(
                    f"{where}.published",
                    s.published,
                    f"must be after the previous selector's date {last_date.isoformat()}; list selectors oldest first",
                )
            last_date = s.published
        if s.retire_after is not None and s.published is not None and s.retire_after < s.published:
            raise SelectorPlanError(f"{where}.retire_after", s.retire_after, "is before the selector's published date")


def _ready(s: SelectorLike, overlap: _dt.timedelta) -> _dt.date | None:
    """First day the selector may sign: published for at least the overlap."""
    return None if s.published is None else s.published + overlap


def _stops_signing(selectors: Sequence[SelectorLike], i: int, overlap: _dt.timedelta) -> _dt.date | None:
    """The day a later selector takes over signing from selectors[i] (None: never, as configured)."""
    for later in selectors[i + 1 :]:
        ready = _ready(later, overlap)
        if ready is not None:
            return ready
    return None


def _last_published_day(selectors: Sequence[SelectorLike], i: int, overlap: _dt.timedelta) -> _dt.date | None:
    """Last day selectors[i] is published (None: indefinitely). Validates ``retire_after``."""
    s = selectors[i]
    stop = _stops_signing(selectors, i, overlap)
    if stop is None:
        if s.retire_after is not None:
            raise SelectorPlanError(
                f"selectors[{i}].retire_after",
                s.retire_after,
                f"selector {s.name!r} has no dated successor to take over signing; add one before retiring it",
            )
        return None
    earliest = stop + overlap
    if s.retire_after is None:
        return earliest
    if s.retire_after < earliest:
        raise SelectorPlanError(
            f"selectors[{i}].retire_after",
            s.retire_after,
            f"selector {s.name!r} stops signing on {stop.isoformat()} and must stay published "
            f"{overlap.days} days more, until at least {earliest.isoformat()}",
        )
    return s.retire_after


def _plan_on(
    selectors: Sequence[SelectorLike], today: _dt.date, overlap: _dt.timedelta
) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], list[_dt.date]]:
    """(signing, publish, pending, retired) on ``today``, and the days on which that may change."""
    publish: list[str] = []
    pending: list[str] = []
    retired: list[str] = []
    changes: list[_dt.date] = []
    signing: str | None = None
    for i, s in enumerate(selectors):
        last_day = _last_published_day(selectors, i, overlap)
        ready = _ready(s, overlap)
        if s.published is not None:
            changes.append(s.published)
        if last_day is not None:
            changes.append(last_day + _dt.timedelta(days=1))
        if ready is not None:
            changes.append(ready)
        if s.published is not None and s.published > today:
            pending.append(s.name)
        elif last_day is not None and today > last_day:
            retired.append(s.name)
        else:
            publish.append(s.name)
        if ready is not None and ready <= today:
            signing = s.name  # the newest selector old enough wins
    if signing is None:
        if not publish:
            raise SelectorPlanError("selectors", [s.name for s in selectors], f"no selector is published on {today.isoformat()}")
        # Bootstrap: nothing is old enough yet, so nothing signed before; the first
        # selector (declared in the same deployment) signs.
        signing = publish[0]
        if signing != selectors[0].name:
            raise SelectorPlanError(
                "selectors", signing, f"no selector has been published for {overlap.days} days on {today.isoformat()}"
            )
    assert signing in publish  # a selector retires only after a successor took over
    return (signing, tuple(publish), tuple(pending), tuple(retired)), sorted({d for d in changes if d > today})


def plan_selectors(selectors: Sequence[SelectorLike], today: _dt.date, overlap_days: int = DEFAULT_OVERLAP_DAYS) -> SelectorPlan:
    """Which selectors to publish and which one signs on ``today`` (see the module docstring)."""
    if not isinstance(today, _dt.date) or isinstance(today, _dt.datetime):
        raise SelectorPlanError("today", today, "must be a date")
    _check_selectors(selectors, overlap_days)
    overlap = _dt.timedelta(days=overlap_days)
    state, candidates = _plan_on(selectors, today, overlap)
    next_change = None
    for day in candidates:
        try:
            changed = _plan_on(selectors, day, overlap)[0] != state
        except SelectorPlanError:
            changed = True  # that day's plan is refused: the operator must act by then
        if changed:
            next_change = day
            break
    signing, publish, pending, retired = state
    return SelectorPlan(today=today, signing=signing, publish=publish, pending=pending, retired=retired, next_change=next_change)


# ---------------------------------------------------------------------------------
# Key generation and the dynamic provider
# ---------------------------------------------------------------------------------


def generate_key_material(selector: str, key_size: int = DKIM_KEY_SIZE) -> dict[str, Any]:
    """A fresh RSA key pair for ``selector``: the outputs of :class:`DkimKeyPair`.

    ``private_key_pem``: PKCS#8 PEM (for Secrets Manager and any signer);
    ``private_key_b64``: the PEM body on one line (base64 of the PKCS#8 DER), the form
    SES's ``DomainSigningPrivateKey`` expects; ``public_key_b64``: base64 SPKI DER;
    ``dkim_txt``: the selector's TXT value ``v=DKIM1; k=rsa; p=...``.
    """
    if key_size != DKIM_KEY_SIZE:
        raise DkimError(f"DKIM key size must be {DKIM_KEY_SIZE} (got {key_size!r})")
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    public = key.public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "selector": selector,
        "key_size": key_size,
        "private_key_pem": pem.decode("ascii"),
        "private_key_b64": base64.b64encode(der).decode("ascii"),
        "public_key_b64": base64.b64encode(spki).decode("ascii"),
        "public_key_sha256": hashlib.sha256(spki).hexdigest(),
        "dkim_txt": dkim_std.dkim_txt_from_public_key(public, "rsa"),
    }


def _plain(value: Any) -> Any:
    """Unwrap a secret kept by the dynamic provider host's ``keep_secrets`` deserialization."""
    if isinstance(value, dict) and "value" in value and len(value) == 2:
        return value["value"]
    return value


class DkimKeyPairProvider(pulumi.dynamic.ResourceProvider):
    """Generates the key once (create); never again unless the selector or size changes.

    - ``check``: selector and key size valid, else a failure naming the property.
    - ``diff``: ``replaces`` = the changed ones of selector/key_size; an in-place update
      when only the stored provider differs (its pickle names the module by path: state
      written under the top-level ``components`` must be re-stored before a refresh or
      destroy can load it); no change otherwise (a refresh or a re-run keeps the key).
    - ``update``: only reachable for changes without replacement; keeps the stored key.
    - ``read``: returns the stored state (refresh cannot see the key anywhere else).
    - ``delete``: nothing outside state (the Secrets Manager copy is its own resource).
    """

    serialize_as_secret_always = True

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures = []
        try:
            dkim_std.validate_selector(news.get("selector"))  # type: ignore[arg-type]
        except DkimError as e:
            failures.append(pulumi.dynamic.CheckFailure("selector", str(e)))
        if news.get("key_size") != DKIM_KEY_SIZE:
            failures.append(pulumi.dynamic.CheckFailure("key_size", f"must be {DKIM_KEY_SIZE} (got {news.get('key_size')!r})"))
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        selector = dkim_std.validate_selector(props["selector"])
        outs = generate_key_material(selector, int(props.get("key_size", DKIM_KEY_SIZE)))
        return pulumi.dynamic.CreateResult(id_=f"{selector}-{outs['public_key_sha256'][:16]}", outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        replaces = [k for k in ("selector", "key_size") if _plain(olds.get(k)) != _plain(news.get(k))]
        # Delete and Read unpickle the provider stored in the outputs, never the program's:
        # a moved module (issue 13) is re-stored by an update that keeps the key.
        moved = "__provider" in news and _plain(olds.get("__provider")) != _plain(news["__provider"])
        return pulumi.dynamic.DiffResult(
            changes=bool(replaces) or moved,
            replaces=replaces,
            stables=["private_key_pem", "private_key_b64", "public_key_b64", "public_key_sha256", "dkim_txt"],
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        outs = {k: v for k, v in olds.items() if k != "__provider"}
        return pulumi.dynamic.UpdateResult(outs=outs)

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        return pulumi.dynamic.ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class DkimKeyPair(pulumi.dynamic.Resource, module="mailinfra", name="DkimKeyPair"):
    """Type ``pulumi-python:dynamic/mailinfra:DkimKeyPair``; private outputs are secrets."""

    selector: pulumi.Output[str]
    key_size: pulumi.Output[int]
    private_key_pem: pulumi.Output[str]
    private_key_b64: pulumi.Output[str]
    public_key_b64: pulumi.Output[str]
    public_key_sha256: pulumi.Output[str]
    dkim_txt: pulumi.Output[str]

    def __init__(
        self, name: str, selector: str, key_size: int = DKIM_KEY_SIZE, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        props: dict[str, Any] = {
            "selector": selector,
            "key_size": key_size,
            "private_key_pem": None,
            "private_key_b64": None,
            "public_key_b64": None,
            "public_key_sha256": None,
            "dkim_txt": None,
        }
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS))
        super().__init__(DkimKeyPairProvider(), name, props, pulumi.ResourceOptions.merge(opts, secret_opts))


# ---------------------------------------------------------------------------------
# Components
# ---------------------------------------------------------------------------------


def easy_dkim_signing_attributes() -> aws.sesv2.EmailIdentityDkimSigningAttributesArgs:
    """Easy DKIM (the default): SES generates and rotates RSA 2048 keys."""
    return aws.sesv2.EmailIdentityDkimSigningAttributesArgs(next_signing_key_length="RSA_2048_BIT")


@dataclass(frozen=True)
class ByoDkimArgs:
    domain: str
    selectors: tuple[SelectorLike, ...]
    overlap_days: int = DEFAULT_OVERLAP_DAYS
    today: _dt.date | None = None  # injectable; default: the day the program runs
    key_size: int = DKIM_KEY_SIZE

    def __post_init__(self) -> None:
        try:
            dkim_std.dkim_name("s", self.domain)
        except DkimError:
            raise KeyStoreError("domain", self.domain, "must be a DNS domain name") from None
        if self.domain != self.domain.lower().rstrip("."):
            raise KeyStoreError("domain", self.domain, "must be lowercase without a trailing dot")
        if self.key_size != DKIM_KEY_SIZE:
            raise KeyStoreError("key_size", self.key_size, f"must be {DKIM_KEY_SIZE}")
        object.__setattr__(self, "selectors", tuple(self.selectors))
        if self.today is None:
            object.__setattr__(self, "today", _dt.date.today())
        self.plan()  # validates selectors, dates, overlap and retirement order

    def plan(self) -> SelectorPlan:
        assert self.today is not None
        return plan_selectors(self.selectors, self.today, self.overlap_days)


class ByoDkim(pulumi.ComponentResource):
    """BYODKIM for one domain: a key pair per published selector, its secret, its TXT record.

    ``records``: ``[(name, value)]`` with ``name = "<selector>._domainkey.<domain>"`` and
    ``value`` an ``Output[str]`` (``v=DKIM1; k=rsa; p=...``) for AuthRecords (purpose
    "dkim"). ``signing_attributes``: the EmailIdentity's ``dkim_signing_attributes``
    (the signing selector and its private key as a secret). Make the EmailIdentity depend
    on the DNS records so the record of a new signing selector exists first.
    """

    def __init__(self, name: str, args: ByoDkimArgs, keystore: SecretStore, opts: pulumi.ResourceOptions | None = None) -> None:
        if not isinstance(args, ByoDkimArgs):
            raise KeyStoreError("args", type(args).__name__, "must be a ByoDkimArgs")
        if not isinstance(keystore, SecretStore):
            raise KeyStoreError("keystore", type(keystore).__name__, "must be a KeyStore")
        plan = args.plan()
        super().__init__("mailinfra:dkim:ByoDkim", name, None, opts)
        self.plan = plan
        self.key_pairs: dict[str, DkimKeyPair] = {}
        self.secrets: dict[str, aws.secretsmanager.Secret] = {}
        self.records: list[tuple[str, pulumi.Output[str]]] = []
        for selector in plan.publish:
            slug = selector.replace(".", "-")
            pair = DkimKeyPair(
                f"{name}-{slug}", selector=selector, key_size=args.key_size, opts=pulumi.ResourceOptions(parent=self)
            )
            self.key_pairs[selector] = pair
            self.secrets[selector] = keystore.secret(
                f"{name}-{slug}",
                pulumi.Output.secret(pair.private_key_pem),
                f"BYODKIM private key of selector {selector} for {args.domain} (PKCS#8 PEM)",
            )
            self.records.append((dkim_std.dkim_name(selector, args.domain), pair.dkim_txt))
        signer = self.key_pairs[plan.signing]
        self.signing_selector: str = plan.signing
        self.signing_private_key: pulumi.Output[str] = pulumi.Output.secret(signer.private_key_b64)
        self.signing_attributes = aws.sesv2.EmailIdentityDkimSigningAttributesArgs(
            domain_signing_selector=plan.signing,
            domain_signing_private_key=self.signing_private_key,
        )
        pulumi.log.info(
            f"DKIM {args.domain}: signing {plan.signing}; publishing {', '.join(plan.publish)}"
            + (f"; pending {', '.join(plan.pending)}" if plan.pending else "")
            + (f"; retired {', '.join(plan.retired)}" if plan.retired else "")
            + (f"; next change on {plan.next_change.isoformat()}" if plan.next_change else ""),
            resource=self,
        )
        self.register_outputs(
            {
                "signing_selector": plan.signing,
                "published_selectors": list(plan.publish),
                "records": {n: v for n, v in self.records},
            }
        )
