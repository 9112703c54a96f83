"""The one error family simyard raises for things a user can fix.

The CLI catches `SimyardError` in one place and prints `message` plus `hint`; anything else is a bug and keeps its
traceback. Worlds never raise for a bad action: they answer with `info["valid"] = False` instead.
"""

from __future__ import annotations


class SimyardError(Exception):
    """A mistake the user can fix; `hint` says how."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UnknownNameError(SimyardError):
    """A world, agent, suite, task or option name that nothing answers to."""


class TaskFileError(SimyardError):
    """A task or suite file that cannot be read or does not describe valid tasks."""


class RunDirError(SimyardError):
    """A path given as a run or episode directory that is not one."""


class SandboxError(SimyardError):
    """A sandbox that could not be created, used or released."""


class BackendError(SimyardError):
    """A model backend that failed for good (after its retries)."""


class InfraError(SimyardError):
    """The machinery under an episode failed, not the agent or the world: a lost worker, container or sandbox, a model
    provider that stayed unavailable after retries. Such episodes end as `infra_error`, are retried, and never count
    as failures."""


class MissingExtraError(SimyardError):
    """An optional dependency that is not installed; the hint names the extra."""


def require(module: str, extra: str):
    """Import an optional heavy module, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module!r} is not installed", hint=f"install it with: pip install 'simyard[{extra}]'"
        ) from exc


def describe(exc: BaseException) -> str:
    """`Type: first line of the message`: how an exception is shown in a result row or a one-line warning."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
