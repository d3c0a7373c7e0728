"""Tables, migrations, engine setup and repository functions (callers own transactions)."""
