"""Choosing a sandbox by name: what a world calls with its `sandbox=` option, so it never names an implementation.

    sandbox = make_sandbox(options.sandbox, workspace, Limits(timeout_s=30), resources=resources, image=image)

Implementations are imported on first use (the Docker SDK only when `docker` is asked for).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from simyard.platform.errors import UnknownNameError
from simyard.platform.resources import Resources
from simyard.sandboxes.base import Limits, Sandbox

__all__ = ["DEFAULT_SANDBOX", "SANDBOXES", "make_sandbox", "sandbox_help"]

DEFAULT_SANDBOX = "bwrap"

#: name -> ("module:class", one line of help). The help is what `--world-opt sandbox=` lists.
SANDBOXES: dict[str, tuple[str, str]] = {
    "bwrap": (
        "simyard.sandboxes.bwrap:BwrapSandbox",
        "bubblewrap namespaces on the host's /usr: no network, only the workspace writable, limits (default)",
    ),
    "docker": (
        "simyard.sandboxes.docker:DockerSandbox",
        "a Docker container per sandbox (image per repository environment), network off, the same limits",
    ),
    "local": (
        "simyard.sandboxes.local:LocalSandbox",
        "UNSAFE: a plain subprocess with the host's files, network and environment; for debugging only",
    ),
}


def sandbox_class(kind: str) -> type[Sandbox]:
    """The implementation registered as `kind`. Raises `UnknownNameError` for a name not in `SANDBOXES`."""
    if kind not in SANDBOXES:
        raise UnknownNameError(f"no sandbox named {kind!r}", hint=f"known sandboxes: {', '.join(sorted(SANDBOXES))}")
    module, _, attr = SANDBOXES[kind][0].partition(":")
    return getattr(importlib.import_module(module), attr)


def make_sandbox(
    kind: str,
    workspace: Path,
    limits: Limits | None = None,
    resources: Resources | None = None,
    **options: Any,
) -> Sandbox:
    """A new sandbox of `kind` on `workspace`.

    Args:
        kind: `bwrap`, `docker` or `local` (see `SANDBOXES`).
        workspace: The host directory the commands work in (it must exist).
        limits: Per-command limits (default `Limits()`).
        resources: The worker's scope; the Docker sandbox shares its client (one connection pool per worker) there.
        options: Passed to the implementation (both: `ro_binds` and `binds`, host path -> path inside, `tmp_mb`;
            `docker`: `image`, `run_id`, `base_url`, `read_only`, `network`).

    Raises:
        UnknownNameError: `kind` is not a sandbox.
        SandboxError: the implementation cannot start here (bwrap missing, an image that cannot be found).
        SandboxLost: the Docker daemon is not reachable (an `InfraError`: the episode is retried).
        MissingExtraError: `docker` without the Docker SDK installed.
    """
    cls = sandbox_class(kind)
    limits = limits or Limits()
    if kind == "docker":
        options.setdefault("resources", resources)
    return cls(Path(workspace), limits, **options)


def sandbox_help() -> str:
    """One line per sandbox, for a CLI's help text."""
    return "\n".join(f"{name}: {text}" for name, (_, text) in SANDBOXES.items())
