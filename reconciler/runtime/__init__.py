"""What happens to a run once beat decides to send it: the overlap lease of each schedule whose
policy tracks runs (``lease``), the runs not sent and why (``skips``), and the worker's signals
that mark a run started and finished (``signals``). docs/policies.md says where the state lives
and how it expires."""
