"""Helpers shared by the component tests (mock runtime from conftest's ``pulumi_mocks``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi


def build(make: Callable[[], Any], **outputs_of: Callable[[Any], Any]) -> tuple[Any, dict[str, Any]]:
    """Construct under the mock runtime; return (component, resolved outputs).

    `pulumi.runtime.test` waits for every outstanding registration before returning,
    so assertions on the recorder afterwards see every child. Each named output is
    resolved inside the returned Output and read afterwards (a missing key fails).
    """
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        comp = make()
        holder["component"] = comp
        names = list(outputs_of)
        outs = [outputs_of[n](comp) for n in names]
        return pulumi.Output.all(*outs).apply(lambda vals: holder.update(zip(names, vals)))

    run()
    comp = holder.pop("component")
    return comp, holder
