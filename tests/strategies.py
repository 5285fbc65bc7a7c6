"""Hypothesis strategies shared by the property tests (one definition each)."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
# LDH label: alnum, optional inner run of alnum/hyphen, alnum end (cheaper than from_regex)
LABEL = st.builds(
    lambda first, mid, last: first + mid + last if mid else first,
    st.sampled_from(ALNUM),
    st.text(ALNUM + "-", max_size=8),
    st.sampled_from(ALNUM),
)
TLD = st.sampled_from(["com", "net", "org", "io", "example", "de"])
DOMAIN = st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(LABEL, min_size=1, max_size=3), TLD)
IP4 = st.builds(
    lambda addr, prefix: str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False)),
    st.ip_addresses(v=4),
    st.integers(0, 32),
)
IP6 = st.builds(
    lambda addr, prefix: str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False)),
    st.ip_addresses(v=6),
    st.integers(0, 128),
)
ADDRESS = st.builds(
    lambda local, d: f"{local}@{d}",
    st.builds(lambda a, b: a + b, st.sampled_from(ALNUM), st.text(ALNUM + "._+-", max_size=10)),
    DOMAIN,
)


def hosts(tld: str) -> st.SearchStrategy[str]:
    """Host names of one to three labels under ``tld``."""
    return st.builds(lambda labels: ".".join([*labels, tld]), st.lists(LABEL, min_size=1, max_size=3))
