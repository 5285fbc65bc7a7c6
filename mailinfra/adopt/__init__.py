"""``mailinfra adopt``: declare a domain that already sends mail without breaking its senders.

- :mod:`.senders`: the one table of known senders (SPF includes, DKIM selectors,
  verification TXT, DMARC report services) and the classification of a live term;
- :mod:`.live`: what is live for a domain, read through verify's :class:`DnsClient`;
- :mod:`.fragment`: the stack-config entry that keeps everything live;
- :mod:`.changes`: what the first ``pulumi up`` changes, record by record, and which
  live sender each change would cut off;
- :mod:`.importfile`: the ``pulumi import --file`` JSON for what exists and is declared.
"""
