"""The database: our two backends (subclasses of Django's) and plain-SQL helpers for hot paths."""
