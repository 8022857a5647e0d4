"""The vocabulary every phase shares, with no Django and no I/O: diagnostics, errors, the
schedule values (``schedule``) and the canonical specs, the plan, and the timing of next runs.
Imports nothing else of the app."""
