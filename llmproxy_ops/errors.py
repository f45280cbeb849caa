"""One error root with typed subclasses; constructors never print."""

from __future__ import annotations


class OpsError(Exception):
    """An expected operational failure: reported to the user, exit code 1."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, details: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def __str__(self) -> str:
        return self.message


class UsageError(OpsError):
    """The command line asked for something impossible (exit code 2)."""

    exit_code = 2


class ConfigError(OpsError):
    """Configuration could not be loaded or failed validation."""


class LayerError(ConfigError):
    """A layer file is missing, unreadable, not YAML, or the layers form a cycle."""

    def __init__(
        self, message: str, *, file: str, line: int = 1, col: int = 1, hint: str | None = None
    ):
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line
        self.col = col


class UnsafePathError(OpsError):
    """A path the tool would write through is a symlink, or a path from a file leaves its
    folder: refused, never followed."""


class RenderError(OpsError):
    """Rendering or writing the build output failed."""


class EnvFileError(OpsError):
    """The env file (secret store) is unreadable or malformed."""


class RuntimeStateError(OpsError):
    """The runtime is not in the state the command needs (already running, not running...)."""


class StackError(OpsError):
    """Starting, stopping or probing the running proxy failed."""


class SmokeTestFailed(OpsError):
    """One or more smoke-test checks failed."""


class CommandFailed(OpsError):
    """A subprocess failed; carries the command, exit code and output."""

    def __init__(self, cmd: list[str], returncode: int, stdout: str = "", stderr: str = ""):
        super().__init__(f"command failed with exit code {returncode}: {' '.join(cmd)}")
        self.cmd = cmd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class ValidationFailed(ConfigError):
    """Validation found errors; nothing was rendered or started."""

    def __init__(
        self, findings: list, *, errors: int
    ):  # list[Finding]; kept untyped to avoid a cycle
        super().__init__(
            f"{errors} error(s) in the configuration; nothing was written or started",
            hint="fix the findings above, then run the command again",
        )
        self.findings = findings


class BackupError(OpsError):
    """A backup could not be written, verified, restored or pruned."""


class CopilotLoginError(OpsError):
    """GitHub Copilot's device login did not finish (timed out, refused, GitHub unreachable)."""
