"""What is specific to PostgreSQL or SQLite: bulk writes, locks, the row digest computed in SQL,
beat's wake-up (LISTEN/NOTIFY) and beat's lease."""
