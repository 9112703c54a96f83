"""What a test needs from the machine, said once: Docker tests run for real wherever Docker can run at all.

They are skipped only with no docker binary or when not root (the base image is built with debootstrap and
containers are started as root), never because the daemon is down: then they fail, as CI must notice.
"""

from __future__ import annotations

import os
import shutil

#: Built-in worlds that cannot run without Docker.
DOCKER_WORLDS = frozenset({"harbor"})
#: Built-in worlds that play a world behind a server and so need its URL (tested with a live server).
SERVER_WORLDS = frozenset({"remote"})


def docker_skip_reason() -> str | None:
    """Why the docker tests cannot run on this machine at all (None: they must run)."""
    if shutil.which("docker") is None and shutil.which("dockerd") is None:
        return "no docker binary on this machine (apt-get install docker.io)"
    if os.geteuid() != 0:
        return "not root: the base image is built with debootstrap and containers are started as root"
    return None


def world_skip_reason(name: str) -> str | None:
    """Why a built-in world cannot be checked here (None: it must be)."""
    if name in SERVER_WORLDS:
        return "plays a world served elsewhere: tests/envserve checks it against a live `simyard env serve`"
    return docker_skip_reason() if name in DOCKER_WORLDS else None
