"""Regenerate the golden episodes: `python -m simyard.doctor.make_golden [NAME...] [--out DIR]`.

Run it after changing a world on purpose (and review the diff of `simyard/doctor/golden/`): it plays each catalogue
entry's task with the world's oracle and writes what happened, with the GL stack that drew the frames. With names,
only those goldens are remade.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simyard.doctor.golden import FORMAT, golden_dir, record


@dataclass(frozen=True)
class Entry:
    """One golden to make: which suite task, the world's options, the reset seed, and what it needs."""

    name: str
    suite: str
    task_id: str
    world_options: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    quick: bool = False
    needs: tuple[str, ...] = ()
    #: Read the task from its suite at play time: its config names files this machine makes (a repository cache).
    from_suite: bool = False


_PICTURES = {"render": "auto", "resolution": 96}

CATALOGUE = (
    Entry("sokoban", "ragen", "sokoban-8x8-2b-003", quick=True),
    Entry("frozenlake-slippery", "ragen", "frozenlake-4x4-slip-004", seed=11, quick=True),
    Entry("bandit", "ragen", "bandit-test-002", seed=5, quick=True),
    Entry("countdown", "ragen", "countdown-4n-007", quick=True),
    Entry("household-text", "eb-alfred", "eb-alfred-base-03", {"render": "none"}, quick=True),
    Entry("navigation", "eb-navigation", "eb-navigation-base-02", _PICTURES, quick=True, needs=("render",)),
    Entry("household-pictures", "eb-alfred", "eb-alfred-long_horizon-01", _PICTURES, needs=("render",)),
    Entry("rearrange", "eb-habitat", "eb-habitat-base-04", {"render": "none"}),
    Entry("manipulation", "eb-manipulation", "eb-manipulation-base-01", {"render": "auto", "resolution": 96},
          needs=("render", "franka")),
    Entry("syncmind", "syncmind-mini", "mini0__callee__tinykit.ledger__Ledger.add__0cadb1e2ed__tests.test_ledger__"
          "independent", {"sandbox": "bwrap"}, needs=("bwrap", "git"), from_suite=True),
    Entry("syncmind-docker", "syncmind-mini", "mini0__caller__tests.test_shapes__expected_area__0cadb1e2ed__"
          "collaborative", {"sandbox": "docker"}, needs=("docker", "git"), from_suite=True),
)


def make(entry: Entry) -> dict[str, Any]:
    """The golden for `entry`, recorded on this machine."""
    import simyard
    from simyard.platform.registry import find_task, load_suite

    tasks = load_suite(entry.suite)
    task = find_task(tasks, entry.task_id, entry.suite)
    stack = None
    if "render" in entry.needs:
        from simyard.doctor.stack import gl_stack

        stack = gl_stack()
    body = record(task.world, task, entry.seed, entry.world_options)
    return {
        "format": FORMAT,
        "name": entry.name,
        "world": task.world,
        "quick": entry.quick,
        "needs": list(entry.needs),
        "task_source": "suite" if entry.from_suite else "file",
        "made_with": {"simyard": simyard.__version__, "gl": stack},
        "suite": entry.suite,
        "world_options": entry.world_options,
        "seed": entry.seed,
        "task": task.model_dump(mode="json"),
        **body,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="goldens to remake (default: all)")
    parser.add_argument("--out", type=Path, default=golden_dir(), help="folder to write (default: the package's)")
    args = parser.parse_args(argv)
    known = {entry.name: entry for entry in CATALOGUE}
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        parser.error(f"unknown goldens {', '.join(unknown)}; known: {', '.join(known)}")
    args.out.mkdir(parents=True, exist_ok=True)
    for entry in [known[name] for name in args.names] or CATALOGUE:
        golden = make(entry)
        path = args.out / f"{entry.name}.json"
        path.write_text(json.dumps(golden, indent=1, sort_keys=False) + "\n")
        print(f"{entry.name}: {golden['final']['steps']} steps, success={golden['final']['success']} -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
