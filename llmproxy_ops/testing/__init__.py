"""Test support: the fake LLM provider (the project's one stand-in for real providers)."""
