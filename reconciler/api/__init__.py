"""The REST API: the catalogue of registered tasks, each schedule's status, validate, plan,
and run one now. Thin shells over the pipeline; staff only."""
