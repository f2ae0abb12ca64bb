"""The local SQLite store, its hash-chained audit log and the officers' accounts."""
