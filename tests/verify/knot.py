"""Knot DNS on loopback: the set-up the verify tests and bench/verify.py share.

Plain functions, no pytest: `free_port()` and `write_setup()` write the zone files
and a knot.conf that serves them from 127.0.0.1 at one port; the caller starts
`knotd -c <conf>`, waits for it and stops it by its pid.
"""

from __future__ import annotations

import os
import shutil
import socket

KNOTD = shutil.which("knotd") or ("/usr/sbin/knotd" if os.path.exists("/usr/sbin/knotd") else None)
INSTALL_HINT = "Knot DNS is required: apt-get install knot (Debian package `knot`, provides /usr/sbin/knotd)"


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (best effort)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


def write_setup(work: str, zones: dict[str, str], port: int, *, tcp_workers: int = 2) -> str:
    """Write `zones` (origin -> zone-file text) under `work` and a knot.conf; return its path."""
    zdir = os.path.join(work, "zones")
    os.makedirs(zdir, exist_ok=True)
    for origin, text in zones.items():
        with open(os.path.join(zdir, f"{origin}.zone"), "w", encoding="utf-8") as f:
            f.write(text)
    zone_lines = "\n".join(f"  - domain: {origin}" for origin in zones)
    conf = os.path.join(work, "knot.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(
            f"""server:
    rundir: "{work}"
    listen: 127.0.0.1@{port}
    background-workers: 1
    udp-workers: 2
    tcp-workers: {tcp_workers}

control:
    listen: "{work}/knot.sock"

database:
    storage: "{work}/db"

log:
  - target: stderr
    any: error

template:
  - id: default
    storage: "{zdir}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off

zone:
{zone_lines}
"""
        )
    return conf
