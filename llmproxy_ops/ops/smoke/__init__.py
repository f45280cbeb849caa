"""`smoke` commands: one module per step of the family."""
