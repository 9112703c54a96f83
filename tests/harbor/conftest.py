"""Harbor task folders for the tests, written here in Harbor's own layout, on simyard's locally built base image.

Docker tests run for real (CI starts dockerd; `bash scripts/setup.sh` builds the base image, and the `base_image`
fixture builds it once if it is missing). They are skipped only where Docker cannot run at all: no docker binary,
or not root. A daemon that is down fails them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simyard.platform.api import Action, Agent, Observation
from simyard.sandboxes.docker import BASE_IMAGE
from tests.needs import docker_skip_reason

RUN_ID = f"tests-harbor-{os.getpid()}"
PASS_IF_HELLO = """#!/bin/bash
if [ "$(cat /app/hello.txt 2>/dev/null)" = "hello" ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt
"""


def write_task(
    root: Path,
    name: str,
    *,
    test_sh: str = PASS_IF_HELLO,
    solve_sh: str | None = "#!/bin/bash\necho hello > /app/hello.txt\n",
    toml: str = "[agent]\ntimeout_sec = 60\n\n[verifier]\ntimeout_sec = 30\n\n[environment]\nmemory = \"1G\"\n",
    instruction: str = "Write the word hello to /app/hello.txt.\n",
    dockerfile: str = f"FROM {BASE_IMAGE}\nWORKDIR /app\n",
    tests: dict[str, str] | None = None,
    environment: dict[str, str] | None = None,
) -> Path:
    """A Harbor task folder `root/name`; `None` or an empty string for a file leaves it out."""
    folder = root / name
    files = {"instruction.md": instruction, "task.toml": toml, "environment/Dockerfile": dockerfile,
             "tests/test.sh": test_sh, "solution/solve.sh": solve_sh,
             **{f"tests/{k}": v for k, v in (tests or {}).items()},
             **{f"environment/{k}": v for k, v in (environment or {}).items()}}
    for relative, text in files.items():
        if text is None:
            continue
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


@pytest.fixture(scope="session")
def base_image() -> str:
    """simyard's base image, built once when scripts/setup.sh has not built it already."""
    reason = docker_skip_reason()
    if reason:
        pytest.skip(reason)
    from simyard.sandboxes.images import ensure_base_image

    return ensure_base_image()


@pytest.fixture
def world(base_image):
    """A fresh `harbor` world, closed after the test (its container removed)."""
    from simyard.harbor.world import HarborEnv

    env = HarborEnv(run_id=RUN_ID)
    yield env
    env.close()


class Script(Agent):
    """Sends the given commands in order, then `done`; keeps every observation it read."""

    name = "script"

    def __init__(self, *commands: str) -> None:
        self.commands = list(commands)
        self.seen: list[str] = []

    def act(self, observation: Observation) -> Action:
        self.seen.append(observation.text)
        return self.commands.pop(0) if self.commands else "done"


def do_nothing() -> Script:
    """The do-nothing agent: says `done` at once."""
    return Script()
