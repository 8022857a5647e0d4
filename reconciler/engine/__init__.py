"""Declared specs + the database → a plan → the database: read the actual state, diff it into
an immutable plan (``diff`` is pure), apply that plan in one transaction, record history."""
