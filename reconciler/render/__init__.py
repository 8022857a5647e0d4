"""Renderers: pure functions of a result, chosen once from a table of formats."""
from __future__ import annotations
