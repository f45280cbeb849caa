"""llmproxy-ops: validated, layered configuration and operations for the stock LiteLLM proxy."""

__version__ = "0.1.0"
LITELLM_PIN = "1.108.7"
