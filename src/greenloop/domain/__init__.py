"""Pure rules: no HTTP, database, web or CLI imports (enforced by a test)."""
