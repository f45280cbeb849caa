"""JSON Schema of our own `stack:` section (LiteLLM never sees it; the renderer does)."""

from __future__ import annotations

from typing import Any

_PATH = {"type": "string", "minLength": 1}

STACK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "llmproxy-ops deployment settings; stripped from the rendered config.yaml",
    "additionalProperties": False,
    "properties": {
        "runtime": {"enum": ["local", "compose"], "description": "where the proxy runs"},
        "host": {"type": "string", "minLength": 1, "description": "address the proxy binds"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "env_file": {**_PATH, "description": "secret store: values for os.environ/ references"},
        "env_example": {**_PATH, "description": "documents every variable name the configs use"},
        "workers": {
            "oneOf": [{"type": "integer", "minimum": 1, "maximum": 64}, {"const": "auto"}],
            "description": "worker processes; 'auto' = CPUs available to the process",
        },
        "server": {"enum": ["uvicorn", "gunicorn", "granian"]},
        "startup_timeout": {"type": "number", "exclusiveMinimum": 0},
        "run_dir": {**_PATH, "description": "pid and log files of the local runtime"},
        "build_dir": {**_PATH, "description": "rendered output: <build_dir>/<env>/"},
        "environment": {
            "type": "object",
            "description": "non-secret runtime variables (e.g. LITELLM_LOG); never secrets",
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": {"type": ["string", "number", "boolean"]},
        },
    },
}
