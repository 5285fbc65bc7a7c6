"""The CrossGuard pack's directory, as the package ``mailinfra.policies`` (``mailinfra/policies``
links to it; the wheel installs it there) so the tool and your programs reach the
standards as ``mailinfra.policies.mailinfra_policy.standards``.

The Pulumi CLI never imports this file: it runs ``python -m pulumi.policy <engine> .`` with
this directory as cwd, and ``__main__.py`` imports its own top-level ``mailinfra_policy``.
"""

if __name__ != "mailinfra.policies":
    # a generic top-level ``policies`` would put a second copy of every standard (and its
    # exception classes) beside mailinfra.policies.mailinfra_policy
    raise ImportError(f"import mailinfra.policies, not {__name__!r} (issue 13: the pack lives in the mailinfra package)")
