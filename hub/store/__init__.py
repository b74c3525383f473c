"""Storage: SQLite (WAL) by default, PostgreSQL for several processes."""
