"""Review in the pull request: the declarations at a git ref, a plan against them without a
database, next runs, and the comment a CI bot posts."""
from __future__ import annotations
