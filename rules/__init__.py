"""Rules: one module per finding id."""
