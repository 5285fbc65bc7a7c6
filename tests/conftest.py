"""Shared pytest fixtures.

`pulumi_mocks` installs Pulumi's mock runtime for one test and returns a recorder that
lists every registered resource (type, name, inputs, options as seen by the monitor).
Component tests build a component, then return an Output from a
`@pulumi.runtime.test` function (an assert inside an un-returned `apply` passes silently).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks as pulumi_mocks_mod
from pulumi.runtime import rpc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@dataclass
class Registered:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    parent: str
    protect: bool
    provider: str
    dependencies: list[str]
    additional_secret_outputs: list[str]
    raw_inputs: Any = None


@dataclass
class Recorder(pulumi.runtime.Mocks):
    registered: list[Registered] = field(default_factory=list)
    calls: list[pulumi.runtime.MockCallArgs] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        state = dict(args.inputs)
        rid = f"{args.name}-id"
        state.setdefault("arn", f"arn:aws:mock:us-east-1:123456789012:{args.typ.split(':')[-1].lower()}/{args.name}")
        if args.typ == "aws:sesv2/emailIdentity:EmailIdentity":
            # what SES returns for Easy DKIM: three tokens (lowercase letters and digits)
            dkim = dict(state.get("dkimSigningAttributes") or {})
            if not dkim.get("domainSigningPrivateKey"):
                stem = "".join(c for c in args.name.lower() if c.isalnum())[:56]
                dkim["tokens"] = [f"{stem}tok{i}" for i in range(1, 4)]
            state["dkimSigningAttributes"] = dkim
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.calls.append(args)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/test", "userId": "AIDTEST"}
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": "eu-west-1", "region": "eu-west-1", "id": "eu-west-1"}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}
        return {}

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.registered if r.type == type_]


class RecordingMonitor(pulumi_mocks_mod.MockMonitor):
    """MockMonitor that also keeps what MockResourceArgs lacks (protect, parent, deps)."""

    def __init__(self, recorder: Recorder):
        super().__init__(recorder)
        self.recorder = recorder

    def RegisterResource(self, request):  # noqa: N802 - gRPC name
        resp = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorder.registered.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=resp.urn,
                    inputs=rpc.deserialize_properties(request.object),
                    parent=request.parent,
                    protect=bool(request.protect),
                    provider=request.provider,
                    dependencies=list(request.dependencies),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                    raw_inputs=request.object,
                )
            )
        return resp


@pytest.fixture
def pulumi_mocks():
    """Fresh mock runtime per test (preview=False so outputs resolve)."""
    recorder = Recorder()
    monitor = RecordingMonitor(recorder)
    pulumi.runtime.set_mocks(recorder, project="mailinfra", stack="dev", preview=False, monitor=monitor)
    yield recorder
