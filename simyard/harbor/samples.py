"""Generated Harbor task folders: `HarborEnv.sample_task(seed)` (`simyard episode run harbor --seed 3`) and the
conformance checker play them, so the world can be tried without writing a task first.

Every seed shares one environment (simyard's base image and `WORKDIR /app`), so only one image is ever built; the
seed picks the numbers, which live in the instruction, the tests and the solution only.
"""

from __future__ import annotations

import os
import random
import shutil
import uuid
from pathlib import Path

from simyard.sandboxes.docker import BASE_IMAGE

__all__ = ["sample_folder", "write_sum_task"]

_VERSION = 1  # bump when the files change, so stale cached folders are not reused


def _cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "simyard" / "harbor-samples"


def write_sum_task(folder: Path, first: int, second: int, base_image: str = BASE_IMAGE) -> Path:
    """Write a task folder asking for `first + second` in /app/answer.txt (with a solution); returns `folder`."""
    folder = Path(folder)
    for sub in ("environment", "tests", "solution"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "instruction.md").write_text(
        f"Write the sum of {first} and {second}, in decimal digits, to the file /app/answer.txt.\n"
    )
    (folder / "task.toml").write_text(
        'version = "1.0"\n\n[metadata]\ncategory = "arithmetic"\ngenerated_by = "simyard"\n\n'
        "[agent]\ntimeout_sec = 60.0\n\n[verifier]\ntimeout_sec = 30.0\n\n"
        "[environment]\nbuild_timeout_sec = 600.0\ncpus = 1\nmemory_mb = 512\nallow_internet = false\n"
    )
    (folder / "environment" / "Dockerfile").write_text(f"FROM {base_image}\nWORKDIR /app\n")
    (folder / "tests" / "test.sh").write_text(
        "#!/bin/bash\n"
        "# 1 when /app/answer.txt holds the sum (surrounding blanks ignored), else 0\n"
        'answer="$(tr -d "[:space:]" < /app/answer.txt 2>/dev/null)"\n'
        f'if [ "$answer" = "{first + second}" ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt\n'
    )
    (folder / "solution" / "solve.sh").write_text(f"#!/bin/bash\necho {first + second} > /app/answer.txt\n")
    return folder


def sample_folder(seed: int) -> Path:
    """The generated task folder of `seed`, written once per machine (atomically, so parallel callers agree)."""
    folder = _cache() / f"v{_VERSION}-sum-{seed}"
    if folder.is_dir():
        return folder
    rng = random.Random(seed)
    staging = folder.with_name(f"{folder.name}.{uuid.uuid4().hex[:8]}.tmp")
    write_sum_task(staging, rng.randint(10, 999), rng.randint(10, 999))
    try:
        staging.rename(folder)
    except OSError:  # another process made it first
        shutil.rmtree(staging, ignore_errors=True)
    return folder
