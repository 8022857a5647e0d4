"""Subcommands of ``manage.py reconcile``: each module has ``add_arguments`` and ``run``.

A ``run`` returns an exit code; fatal errors are ``ReconcilerError``s, mapped to exit codes
in one place (the management command).
"""
from __future__ import annotations
