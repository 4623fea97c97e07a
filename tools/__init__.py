"""Operator and developer tools: the `veritas` command, the local launcher (Triton and the
services on this machine, supervised), training, cluster status and trace views.

They stand above the runtime (`veritas/`), the deployables and `models/`; no service
imports them and no service image copies them.
"""
