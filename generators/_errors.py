"""The project's exceptions: one base class, one subclass per kind of failure.

Every message names the field, echoes the offending value and says what is allowed,
so that the CLI can print it as a single ``error: ...`` line.
"""

from __future__ import annotations

__all__ = ["ConfigError", "HighfiveError", "InvalidParameter", "ModelError", "RunDirError"]


class HighfiveError(Exception):
    """Base class of every error the project raises on purpose."""


class InvalidParameter(HighfiveError, ValueError):
    """A parameter, argument or input value is outside what is allowed."""


class ConfigError(HighfiveError, ValueError):
    """A configuration file (TOML) is malformed or has unknown or invalid keys."""


class ModelError(HighfiveError):
    """A model file is missing, corrupt, or does not describe itself as required."""


class RunDirError(HighfiveError):
    """A run directory is missing, incomplete, or belongs to another configuration."""
