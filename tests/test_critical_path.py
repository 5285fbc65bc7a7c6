"""mailinfra/graph.py: the deploy critical path, on hand-made plans (no program run)."""

from __future__ import annotations

from mailinfra.engine import Plan, PlannedResource
from mailinfra.graph import critical_path, format_path
from mailinfra.render import plan_to_text

P = "urn:pulumi:dev::proj::"


def res(
    name: str,
    type_: str = "aws:s3/bucket:Bucket",
    *,
    parent: str | None = None,
    deps: tuple[str, ...] = (),
    prop_deps: dict[str, list[str]] | None = None,
    custom: bool = True,
) -> PlannedResource:
    return PlannedResource(
        urn=P + type_ + "::" + name,
        type=type_,
        name=name,
        parent=parent,
        custom=custom,
        inputs={},
        outputs={},
        dependencies=list(deps),
        property_dependencies=prop_deps or {},
        options={},
    )


def names(path: list[PlannedResource]) -> list[str]:
    return [r.name for r in path]


def test_longest_chain_through_dependencies_and_property_dependencies() -> None:
    a = res("a")
    b = res("b", deps=(a.urn,))
    c = res("c", prop_deps={"policy": [b.urn]})
    side = res("side", deps=(a.urn,))
    assert names(critical_path([c, side, b, a])) == ["a", "b", "c"]


def test_dependency_on_a_component_means_on_all_its_children() -> None:
    comp = res("store", "mailinfra:keystore:KeyStore", custom=False)
    key = res("key", "aws:kms/key:Key", parent=comp.urn)
    alias = res("alias", "aws:kms/alias:Alias", parent=comp.urn, deps=(key.urn,))
    user = res("user", deps=(comp.urn,))  # depends on the component: waits for key and alias
    assert names(critical_path([comp, key, alias, user])) == ["key", "alias", "user"]


def test_components_and_providers_are_not_counted() -> None:
    provider = res("us-east-1", "pulumi:providers:aws")
    comp = res("domain", "mailinfra:domain:SendingDomain", custom=False)
    cert = res("cert", "aws:acm/certificate:Certificate", parent=comp.urn, deps=(provider.urn,))
    path = critical_path([provider, comp, cert])
    assert names(path) == ["cert"]
    assert format_path(path) == "critical path: 1 resource: cert (Certificate)"
    assert format_path([]) == "critical path: 0 resources"


def test_ending_under_limits_where_the_chain_ends_not_where_it_starts() -> None:
    shared = res("shared-key", "aws:kms/key:Key")
    d1 = res("d1", "mailinfra:domain:SendingDomain", custom=False)
    d2 = res("d2", "mailinfra:domain:SendingDomain", custom=False)
    s1 = res("secret-1", parent=d1.urn, deps=(shared.urn,))
    x = res("x", parent=d2.urn)
    y = res("y", parent=d2.urn, deps=(x.urn,))
    z = res("z", parent=d2.urn, deps=(y.urn,))
    all_ = [shared, d1, d2, s1, x, y, z]
    assert names(critical_path(all_, ending_under=d1.urn)) == ["shared-key", "secret-1"]
    assert names(critical_path(all_)) == ["x", "y", "z"]


def test_cycles_and_self_dependencies_do_not_hang() -> None:
    comp = res("comp", "mailinfra:x:X", custom=False)
    a = res("a", parent=comp.urn, deps=(comp.urn,))  # a child depending on its own component
    b = res("b", deps=(P + "aws:s3/bucket:Bucket::c",))
    c = res("c", deps=(b.urn,))
    path = critical_path([comp, a, b, c])
    assert 1 <= len(path) <= 2


def test_long_chain_is_linear_not_recursive() -> None:
    chain = [res("r0")]
    for i in range(1, 5000):
        chain.append(res(f"r{i}", deps=(chain[-1].urn,)))
    assert len(critical_path(reversed(chain))) == 5000


def test_text_report_shows_the_critical_path_above_the_count() -> None:
    a = res("a")
    b = res("b", deps=(a.urn,))
    plan = Plan(project="proj", stack="dev", config={}, resources=[a, b], outputs={})
    lines = plan_to_text(plan, []).splitlines()
    assert lines[-3:-1] == ["critical path: 2 resources: a (Bucket) -> b (Bucket)", "2 resources to create"]
    assert lines[-1].startswith("Verdict: passes")  # the verdict closes the report
