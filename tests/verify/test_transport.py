"""verify's DNS transport (mailinfra/verify/transport.py) and its worker processes
(runner.run_all with jobs > 1), against Knot and recording servers on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailinfra.verify import VerifyInputError, run_verify, runner
from mailinfra.verify.report import CheckResult, Report
from mailinfra.verify.resolver import DnsClient, Nameserver
from mailinfra.verify.transport import EDNS_PAYLOAD, PER_SOCKET, answer_only

from .conftest import DOMAIN, options, txt_rdata, zone_text


class Recorder:
    """A UDP server on 127.0.0.1 that records each query (source port, parsed message)
    and forwards it to ``upstream``, or answers ``rcode`` itself."""

    def __init__(self, upstream: int | None = None, rcode: int | None = None, reply: Any = None) -> None:
        self.upstream, self.rcode, self.reply = upstream, rcode, reply  # reply(query) -> wire bytes
        self.queries: list[tuple[int, dns.message.Message]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except OSError:
                return
            query = dns.message.from_wire(data)
            self.queries.append((addr[1], query))
            if self.reply is not None:
                self.sock.sendto(self.reply(query), addr)
                continue
            if self.rcode is not None:
                reply = dns.message.make_response(query)
                reply.set_rcode(self.rcode)
                self.sock.sendto(reply.to_wire(), addr)
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(2)
                up.sendto(data, ("127.0.0.1", self.upstream))
                try:
                    self.sock.sendto(up.recv(65535), addr)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def _ask(servers: list[int], questions: list[tuple[str, str]], **kw: Any) -> list[Any]:
    async def go() -> list[Any]:
        client = DnsClient([Nameserver("127.0.0.1", p) for p in servers], timeout=kw.pop("timeout", 2.0), **kw)
        try:
            return list(await asyncio.gather(*(client.query(n, t) for n, t in questions)))
        finally:
            client.close()

    return asyncio.run(go())


BIG = "v=spf1 " + " ".join(f"ip4:198.51.{i // 250}.{i % 250}" for i in range(120)) + " -all"  # ~2.3 KB


@pytest.fixture
def zone(knot):
    records = [("@", "TXT", txt_rdata("v=spf1 -all")), ("big", "TXT", txt_rdata(BIG))]
    records += [(f"h{i}", "A", f"192.0.2.{i % 250}") for i in range(PER_SOCKET + 40)]
    return knot({"t.example": zone_text("t.example", records)})


def test_an_answer_larger_than_the_edns_payload_comes_over_tcp(zone) -> None:
    assert len(BIG) > EDNS_PAYLOAD
    (answer,) = _ask([zone.port], [("big.t.example", "TXT")])
    assert answer.status == "ok" and answer.txt() == [BIG]


def test_queries_carry_edns0_and_dnssec_ones_do_and_ad(zone) -> None:
    rec = Recorder(upstream=zone.port)
    try:

        async def go() -> None:
            client = DnsClient([Nameserver("127.0.0.1", rec.port)], timeout=2.0)
            await client.query("t.example", "TXT")
            await client.query("t.example", "TXT", dnssec=True)
            client.close()

        asyncio.run(go())
    finally:
        rec.close()
    plain, signed = (q for _, q in rec.queries)
    assert plain.edns == 0 and plain.payload == EDNS_PAYLOAD and not plain.ednsflags & dns.flags.DO
    assert plain.flags & dns.flags.RD and not plain.flags & dns.flags.AD
    assert signed.ednsflags & dns.flags.DO and signed.flags & dns.flags.AD


def test_many_questions_rotate_source_ports_and_all_are_answered(zone) -> None:
    rec = Recorder(upstream=zone.port)
    try:
        names = [(f"h{i}.t.example", "A") for i in range(PER_SOCKET + 40)]
        answers = _ask([rec.port], names)
    finally:
        rec.close()
    assert [a.texts() for a in answers] == [[f"192.0.2.{i % 250}"] for i in range(PER_SOCKET + 40)]
    ports = {port for port, _ in rec.queries}
    assert len(ports) >= 2  # more than PER_SOCKET questions: a second socket (source port)
    ids = [q.id for _, q in rec.queries]
    assert len(set(ids)) > len(ids) * 0.9  # random IDs, not a counter from one value


def test_servfail_from_the_first_server_falls_over_to_the_next(zone) -> None:
    bad = Recorder(rcode=dns.rcode.SERVFAIL)
    try:
        (answer,) = _ask([bad.port, zone.port], [("t.example", "TXT")])
    finally:
        bad.close()
    assert answer.status == "ok" and answer.txt() == ["v=spf1 -all"]
    assert len(bad.queries) == 1


def test_every_server_failing_names_each(zone) -> None:
    one, two = Recorder(rcode=dns.rcode.SERVFAIL), Recorder(rcode=dns.rcode.REFUSED)
    try:
        (answer,) = _ask([one.port, two.port], [("t.example", "TXT")])
    finally:
        one.close()
        two.close()
    assert answer.status == "error"
    assert f"SERVFAIL from 127.0.0.1:{one.port}" in answer.reason and f"REFUSED from 127.0.0.1:{two.port}" in answer.reason


def test_a_closed_port_is_connection_refused_not_a_timeout() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (answer,) = _ask([port], [("t.example", "TXT")], timeout=3.0)
    assert answer.status == "error" and "connection refused" in answer.reason, answer.reason


def test_a_silent_server_is_a_timeout_after_retransmissions() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        (answer,) = _ask([silent.getsockname()[1]], [("t.example", "TXT")], timeout=1.5)
        received = 0
        silent.setblocking(False)
        while True:
            try:
                silent.recv(512)
                received += 1
            except BlockingIOError:
                break
    finally:
        silent.close()
    assert answer.status == "error" and "timeout after 1.5s" in answer.reason
    assert received == 2  # sent again after 1 s, within the 1.5 s


def _nxdomain_with_an_answer(query: dns.message.Message) -> bytes:
    import dns.rrset

    reply = dns.message.make_response(query)
    reply.set_rcode(dns.rcode.NXDOMAIN)
    reply.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.99"))
    return reply.to_wire()


def test_an_answer_no_server_should_give_is_that_servers_failure(zone) -> None:
    bad = Recorder(reply=_nxdomain_with_an_answer)
    try:
        (alone,) = _ask([bad.port], [("h1.t.example", "A")])
        (then_good,) = _ask([bad.port, zone.port], [("h1.t.example", "A")])
    finally:
        bad.close()
    # NXDOMAIN with an answer is no "no such name": could not check, or the next server's answer
    assert alone.status == "error" and f"from 127.0.0.1:{bad.port}" in alone.reason, alone.reason
    assert then_good.status == "ok" and then_good.texts() == ["192.0.2.1"]


def test_an_answer_to_another_type_is_ignored(zone) -> None:
    def other_type(query: dns.message.Message) -> bytes:
        reply = dns.message.make_response(query)
        wire = bytearray(reply.to_wire())
        end = 12 + len(query.question[0].name.to_wire())
        wire[end : end + 2] = (97).to_bytes(2, "big")  # HTTPS (65) is "A" and 97 is "a": not a case of the name
        return bytes(wire)

    bad = Recorder(reply=other_type)
    try:
        (answer,) = _ask([bad.port], [("t.example", "HTTPS")], timeout=1.2)
    finally:
        bad.close()
    assert answer.status == "error" and "timeout" in answer.reason


# ----------------------------------------------------------------------------- workers


def test_workers_give_the_report_one_process_gives(run, world, monkeypatch) -> None:
    monkeypatch.setattr(runner, "MIN_TASKS_PER_JOB", 1)
    one, code_one = run(world, jobs=1)
    two, code_two = run(world, jobs=3)
    assert len(one.checks) > 10
    assert [c for c in two.checks] == [c for c in one.checks]
    assert code_one == code_two


def test_a_worker_that_dies_leaves_errors_not_a_crash(knot, world, pki, https_server, smtp_servers, monkeypatch) -> None:
    monkeypatch.setattr(runner, "MIN_TASKS_PER_JOB", 1)
    server = knot(world.zone_files())
    real = runner._run_tasks

    async def dying(tasks, options, client, progress, sink=None):
        if sink is not None and any(t.name == f"_dmarc.{DOMAIN}" or t.name == DOMAIN for t in tasks):
            import os

            os._exit(3)  # the worker holding the domain's checks dies mid-run
        return await real(tasks, options, client, progress, sink)

    monkeypatch.setattr(runner, "_run_tasks", dying)
    report, code = run_verify(options(world, server.nameserver, pki, https_server, smtp_servers, jobs=2))
    died = [c for c in report.checks if "verify worker exited (3)" in c.message]
    assert died and all(c.status == "error" for c in died)
    assert code == 1


def test_partition_keeps_an_organisational_domain_in_one_worker() -> None:
    names = ["a.example.com", "_dmarc.a.example.com", "https://mta-sts.a.example.com/.well-known/mta-sts.txt"]
    names += ["mx1.example.com:25", "b.example.org", "_smtp._tls.b.example.org", "[2001:db8::1]:25"]
    tasks = [runner.Task(n, "x", lambda: None) for n in names]  # type: ignore[arg-type,return-value]
    parts = runner._partition(tasks, 2)
    where = {names[i]: k for k, part in enumerate(parts) for i in part}
    assert len({where[n] for n in names if "example.com" in n}) == 1
    assert where["b.example.org"] == where["_smtp._tls.b.example.org"]
    assert sorted(i for part in parts for i in part) == list(range(len(names)))
    bad = [runner.Task("https://[2001:db8::1/unsubscribe", "x", lambda: None)]  # type: ignore[arg-type,return-value]
    assert runner._partition(bad * 2, 2)  # a URL urlsplit refuses is grouped by itself, not a crash


# ----------------------------------------------------------------------------- report


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(), st.text(), st.sampled_from(["pass", "warn", "fail", "error"]), st.text(), st.text(), st.text()),
        max_size=6,
    ),
    st.text(),
)
def test_json_report_is_json_dumps_with_indent(rows: list[tuple[str, ...]], stack: str) -> None:
    report = Report(stack, [CheckResult(*row) for row in rows])
    assert report.to_json() == json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def test_a_run_from_a_plan_file_leaves_the_collector_as_it_found_it(
    knot, world, pki, https_server, smtp_servers, tmp_path
) -> None:
    import gc

    server = knot(world.zone_files())
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(world.plan()))
    gc.set_threshold(700, 10, 10)
    before = (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())
    opts = options(world, server.nameserver, pki, https_server, smtp_servers, plan_data=None, plan=str(path))
    report, _ = run_verify(opts)
    assert report.checks
    assert (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()) == before
    gc.disable()
    gc.freeze()  # a caller's own frozen objects and disabled collector
    try:
        frozen = gc.get_freeze_count()
        run_verify(opts)
        # still disabled, still frozen (a few frozen objects may have been freed meanwhile)
        assert not gc.isenabled() and gc.get_freeze_count() > frozen * 0.9
    finally:
        gc.unfreeze()
        gc.enable()
    with pytest.raises(VerifyInputError):  # bad input on the way: the settings are restored all the same
        run_verify(
            options(world, server.nameserver, pki, https_server, smtp_servers, plan_data=None, plan=str(tmp_path / "none.json"))
        )
    assert (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()) == before


# ----------------------------------------------------------------------------- answer only


def _response(rcode: int = dns.rcode.NOERROR, options: list[Any] | None = None, soa: bool = True) -> dns.message.Message:
    import dns.rrset

    query = dns.message.make_query("x.t.example", "TXT", use_edns=0, payload=EDNS_PAYLOAD)
    reply = dns.message.make_response(query)
    reply.use_edns(0, 0, EDNS_PAYLOAD, options=options or [])
    reply.set_rcode(rcode)
    if rcode == dns.rcode.NOERROR:
        reply.answer.append(dns.rrset.from_text("x.t.example.", 60, "IN", "TXT", '"v=spf1 -all"'))
    if soa:
        reply.authority.append(dns.rrset.from_text("t.example.", 60, "IN", "SOA", "ns.t.example. hm.t.example. 1 2 3 4 5"))
    return reply


@pytest.mark.parametrize("rcode", [dns.rcode.NOERROR, dns.rcode.NXDOMAIN])
def test_answer_only_keeps_what_is_read(rcode: int) -> None:
    wire = _response(rcode).to_wire()
    short = answer_only(wire)
    assert short is not None and len(short) == len(wire)
    whole, part = dns.message.from_wire(wire), dns.message.from_wire(short, ignore_trailing=True)
    assert part.rcode() == whole.rcode() == rcode and part.answer == whole.answer and part.id == whole.id
    assert not part.authority and part.question == whole.question


def test_answer_only_steps_aside_for_an_extended_rcode_or_edns_options() -> None:
    import dns.edns
    import dns.rrset

    assert answer_only(_response(dns.rcode.BADVERS).to_wire()) is None  # the RCODE's high bits are in the OPT
    cookie = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"\x01" * 8)
    assert answer_only(_response(options=[cookie]).to_wire()) is None
    glue = _response()
    glue.additional.append(dns.rrset.from_text("ns.t.example.", 60, "IN", "A", "192.0.2.1"))
    assert answer_only(glue.to_wire()) is None  # more than the OPT in the additional section
    assert answer_only(_response(soa=False).to_wire()) is not None


def test_an_extended_rcode_is_an_error_not_no_data(zone) -> None:
    bad = Recorder(rcode=dns.rcode.BADVERS)
    try:
        (answer,) = _ask([bad.port], [("t.example", "TXT")])
    finally:
        bad.close()
    assert answer.status == "error" and "BADVERS" in answer.reason


def test_with_other_threads_running_the_checks_stay_in_this_process_unless_jobs_is_given(run, world, monkeypatch) -> None:
    import multiprocessing

    monkeypatch.setattr(runner, "MIN_TASKS_PER_JOB", 1)
    monkeypatch.setattr(runner, "default_jobs", lambda: 2)
    forked: list[int] = []
    real = multiprocessing.get_context

    def spy(method: str | None = None) -> Any:
        forked.append(1)
        return real(method)

    monkeypatch.setattr(multiprocessing, "get_context", spy)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        report, _ = run(world)  # --jobs not given: a thread is running, so no fork
        assert report.checks and not forked
        report, _ = run(world, jobs=2)  # --jobs 2: the caller's word
        assert report.checks and forked
    finally:
        stop.set()
        other.join()


def test_an_ipv6_nameserver_is_asked_over_ipv6() -> None:
    server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    server.bind(("::1", 0))
    seen: list[str] = []

    def serve() -> None:
        data, addr = server.recvfrom(4096)
        seen.append(addr[0])
        reply = dns.message.make_response(dns.message.from_wire(data))
        reply.set_rcode(dns.rcode.NXDOMAIN)
        server.sendto(reply.to_wire(), addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def go() -> Any:
        client = DnsClient([Nameserver("::1", server.getsockname()[1])], timeout=2.0)
        try:
            return await client.query("x.t.example", "TXT")
        finally:
            client.close()

    try:
        answer = asyncio.run(go())
    finally:
        thread.join(timeout=3)
        server.close()
    assert answer.status == "nxdomain" and seen == ["::1"]


def test_the_progress_bar_in_one_process_and_with_workers(run, world, monkeypatch, capsys) -> None:
    monkeypatch.setattr(runner, "MIN_TASKS_PER_JOB", 1)
    quiet, _ = run(world, jobs=1)
    one, _ = run(world, jobs=1, progress=True)
    two, _ = run(world, jobs=2, progress=True)
    assert one.checks == quiet.checks and two.checks == quiet.checks
