"""Operations outside git, shared by the CLI, the admin and the API: suspend and resume a
managed schedule, run a schedule or a registered task now."""
from __future__ import annotations

from .run import AdHocRun, argument_problem, beat_message, run_schedule, run_task
from .suspension import ResumeResult, resume, suspend

__all__ = ["AdHocRun", "ResumeResult", "argument_problem", "beat_message", "resume", "run_schedule", "run_task",
           "suspend"]
