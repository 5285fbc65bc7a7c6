"""The deploy critical path: the longest dependency chain among a plan's resources.

`pulumi up` creates a resource once everything it depends on exists, so the run
takes roughly (longest chain) x (cloud API latency); the engine's parallelism only
shortens the other paths. Nodes are the custom resources that make cloud calls
(provider resources are left out: configuring a provider calls no API). Edges come
from a resource's `dependencies` and `property_dependencies`; a dependency on a
component means a dependency on every custom resource under it, as in the engine.

Linear in resources + edges: a component's depth is computed once and shared by
every resource that depends on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import PlannedResource

PROVIDER_PREFIX = "pulumi:providers:"


def _deps(res: PlannedResource) -> set[str]:
    out = set(res.dependencies)
    for urns in res.property_dependencies.values():
        out.update(urns)
    return out


def critical_path(resources: Iterable[PlannedResource], *, ending_under: str | None = None) -> list[PlannedResource]:
    """The longest chain of custom resources, first to create first (empty if none).

    `ending_under`: a component URN; only chains that end at a resource under it
    count (the chain itself may start anywhere), e.g. the deploy depth of one
    SendingDomain including the shared key store it waits for."""
    res = list(resources)
    by_urn = {r.urn: r for r in res}
    children: dict[str, list[str]] = {}
    for r in res:
        if r.parent is not None and r.parent in by_urn:
            children.setdefault(r.parent, []).append(r.urn)

    def counts(r: PlannedResource) -> bool:
        return r.custom and not r.type.startswith(PROVIDER_PREFIX)

    # best[urn] = (length, the custom resource ending the longest chain); prev links
    # each counted resource to the one before it. For a custom resource the chain
    # ends at it; for a component, at any custom resource under it.
    best: dict[str, tuple[int, str | None]] = {}
    prev: dict[str, str | None] = {}
    state: dict[str, int] = {}  # 1 = in progress (cycle guard), 2 = done

    def visit(urn: str) -> tuple[int, str | None]:
        done = best.get(urn)
        if done is not None:
            return done
        # iterative DFS: frames of (urn, expanded?)
        stack: list[tuple[str, bool]] = [(urn, False)]
        while stack:
            u, expanded = stack.pop()
            if state.get(u) == 2:
                continue
            r = by_urn[u]
            if not r.custom:
                edges = children.get(u, [])
            else:
                edges = [d for d in _deps(r) if d in by_urn]
            if not expanded:
                state[u] = 1
                stack.append((u, True))
                for d in edges:
                    if state.get(d) is None:
                        stack.append((d, False))
                continue
            length, tail = 0, None
            for d in edges:
                if state.get(d) != 2:
                    continue  # a cycle (or a child depending on its own component): ignore the edge
                dl, dt = best[d]
                if dl > length:
                    length, tail = dl, dt
            if counts(r):
                prev[u] = tail
                best[u] = (length + 1, u)
            else:  # a component or a provider: transparent
                best[u] = (length, tail)
            state[u] = 2
        return best[urn]

    top: tuple[int, str | None] = (0, None)
    for r in res:
        got = visit(r.urn)
        if ending_under is not None and not _is_under(r, ending_under, by_urn):
            continue
        if got[0] > top[0]:
            top = got
    path: list[PlannedResource] = []
    cur = top[1]
    while cur is not None:
        path.append(by_urn[cur])
        cur = prev.get(cur)
    path.reverse()
    return path


def _is_under(r: PlannedResource, ancestor: str, by_urn: dict[str, PlannedResource]) -> bool:
    seen = 0
    parent = r.parent
    while parent is not None and seen < 64:
        if parent == ancestor:
            return True
        p = by_urn.get(parent)
        parent = p.parent if p is not None else None
        seen += 1
    return False


def format_path(path: list[PlannedResource]) -> str:
    n = len(path)
    # name (Type): a record and a certificate validation may share a name
    chain = " -> ".join(f"{r.name} ({r.type.rsplit(':', 1)[-1]})" for r in path)
    return f"critical path: {n} resource{'' if n == 1 else 's'}" + (f": {chain}" if chain else "")
