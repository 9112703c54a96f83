"""`simyard doctor`: the real command on this machine, and goldens tampered on purpose.

The CLI runs in a subprocess: it fixes its process's GL backend, which must not leak into other tests.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from simyard.doctor.checks import Check, run_check
from simyard.doctor.diagnose import _skipped
from simyard.doctor.golden import golden_dir, load_golden, play
from simyard.doctor.make_golden import CATALOGUE


def doctor(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "600", **(env or {})}  # no folding: cells stay greppable
    return subprocess.run([sys.executable, "-m", "simyard", "doctor", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def rows(output: str, first_cell: str) -> list[list[str]]:
    """The table rows of `output` whose first cell is `first_cell`, as lists of stripped cells."""
    found = []
    for line in output.splitlines():
        cells = cells_of(line)
        if cells and cells[0] == first_cell:
            found.append(cells)
    return found


def cells_of(line: str) -> list[str]:
    """The cells of one table row (none for other lines)."""
    return [cell.strip() for cell in line.split("│")[1:-1]]


def copy_goldens(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "goldens"
    folder.mkdir()
    for name in names:
        (folder / f"{name}.json").write_text((golden_dir() / f"{name}.json").read_text())
    return folder


def test_quick_doctor_passes_on_this_machine() -> None:
    run = doctor("--quick")
    assert run.returncode == 0, run.stdout + run.stderr
    check_rows = [cells for line in run.stdout.splitlines()
                  if len(cells := cells_of(line)) == 5]
    assert {"mujoco", "bubblewrap", "torch", "chromium"} <= {cells[0] for cells in check_rows}
    assert [cells for cells in check_rows if cells[1] == "failed"] == []
    quick = [entry.name for entry in CATALOGUE if entry.quick]
    for name in quick:
        (row,) = rows(run.stdout, name)
        assert row[2] == "passed", row
    # Frames compare byte for byte exactly when this machine's GL stack is the one that recorded the golden.
    here = subprocess.run([sys.executable, "-c", "import json; from simyard.doctor.stack import gl_stack; "
                           "print(json.dumps(gl_stack()))"], capture_output=True, text=True, check=True)
    same = json.loads(here.stdout) == load_golden(golden_dir() / "navigation.json")["made_with"]["gl"]
    compared = rows(run.stdout, "navigation")[0][4]
    assert compared.startswith("exact frame hashes" if same else "frame thumbnails"), compared
    assert "OK: 6 golden(s) reproduced, 0 failed, 0 skipped" in run.stdout


def test_tampered_frame_checksum_fails_naming_episode_step_and_field(tmp_path: Path) -> None:
    folder = tmp_path / "goldens"
    made = subprocess.run([sys.executable, "-m", "simyard.doctor.make_golden", "navigation", "--out", str(folder)],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    path = folder / "navigation.json"
    golden = json.loads(path.read_text())
    golden["steps"][2]["frames"]["rgb"]["sha256"] = "0" * 64
    path.write_text(json.dumps(golden))

    run = doctor("--quick", "--world", "navigation", "--goldens", str(folder))

    assert run.returncode == 1, run.stdout + run.stderr
    (row,) = rows(run.stdout, "navigation")
    assert row[2] == "failed"
    assert row[5].startswith("step 3: frames.rgb.sha256: expected '0000"), row
    assert "FAILED: 0 golden(s) reproduced, 1 failed" in run.stdout


def test_another_gl_stack_compares_thumbnails_and_a_tampered_one_fails(tmp_path: Path) -> None:
    # Recorded with EGL here; OSMesa is another stack, so the player compares thumbnails, not hashes.
    folder = copy_goldens(tmp_path, "navigation")
    golden = json.loads((folder / "navigation.json").read_text())
    golden["name"] = "navigation-tampered"
    thumb = bytearray(base64.b64decode(golden["steps"][1]["frames"]["rgb"]["thumb"]))
    golden["steps"][1]["frames"]["rgb"]["thumb"] = base64.b64encode(bytes(255 - v for v in thumb)).decode()
    (folder / "navigation-tampered.json").write_text(json.dumps(golden))

    run = doctor("--quick", "--goldens", str(folder), env={"MUJOCO_GL": "osmesa"})

    assert run.returncode == 1, run.stdout + run.stderr
    (kept,) = rows(run.stdout, "navigation")
    assert kept[2] == "passed" and kept[4].startswith("frame thumbnails within 4/255"), kept
    (tampered,) = rows(run.stdout, "navigation-tampered")
    assert tampered[2] == "failed" and tampered[5].startswith("step 2: frames.rgb.thumbnail"), tampered
    assert "MUJOCO_GL=egl" in tampered[6]


def test_tampered_action_outcome_fails_naming_episode_step_and_field() -> None:
    golden = load_golden(golden_dir() / "sokoban.json")
    golden["steps"][4]["reward"] += 1.0

    result = play(golden, stack=None)

    assert (result.name, result.status, result.steps) == ("sokoban", "failed", 5)
    assert result.reason.startswith("step 5: reward: expected ")
    assert [(d.step, d.field) for d in result.differences] == [(5, "reward")]


def test_tampered_final_state_fails_naming_the_key() -> None:
    golden = load_golden(golden_dir() / "household-text.json")
    state = golden["final"]["state"]
    key = next(iter(state))
    state[key] = "tampered"

    result = play(golden, stack=None)

    assert result.status == "failed"
    assert result.reason.startswith(f"final: state.{key}")


def test_replayed_action_that_no_longer_succeeds_is_reported() -> None:
    golden = load_golden(golden_dir() / "countdown.json")
    golden["steps"][0]["action"] = "1 + 1"  # not the given numbers: the world answers differently from the record

    result = play(golden, stack=None)

    assert result.status == "failed"
    assert result.differences[0].step == 1
    assert result.differences[0].field in {"reward", "success"}


def test_a_stopped_docker_daemon_skips_the_docker_golden_and_the_run_still_passes() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on: the daemon is "not started"
        probe.bind(("127.0.0.1", 0))
        closed = f"tcp://127.0.0.1:{probe.getsockname()[1]}"

    run = doctor("--quick", "--world", "syncmind", env={"DOCKER_HOST": closed})

    assert run.returncode == 0, run.stdout + run.stderr
    (daemon,) = rows(run.stdout, "Docker daemon")
    assert daemon[1] == "missing" and "start dockerd" in daemon[4]
    assert rows(run.stdout, "syncmind")[0][2] == "passed"
    (skipped,) = rows(run.stdout, "syncmind-docker")
    assert skipped[2] == "skipped" and skipped[5].startswith("needs docker (Docker daemon missing"), skipped
    assert "start dockerd" in skipped[6]


def test_goldens_whose_needs_are_missing_are_skipped_with_the_fix() -> None:
    golden = load_golden(golden_dir() / "manipulation.json")
    checks = {"render": Check("MuJoCo rendering", "ok", "egl", provides="render"),
              "franka": Check("Franka Panda model", "missing", "no gymnasium-robotics", "pip install 'simyard[manip]'",
                              "franka")}

    result = _skipped(golden, checks)

    assert result is not None and result.status == "skipped"
    assert "needs franka" in result.reason and result.fix == "pip install 'simyard[manip]'"


def test_a_check_that_crashes_is_reported_failed_not_raised() -> None:
    def broken() -> Check:
        raise OSError("libfoo.so: cannot open shared object file")

    (check,) = run_check("foo", broken)

    assert (check.name, check.status) == ("foo", "failed")
    assert "OSError: libfoo.so" in check.detail


def test_doctor_help_shows_an_example() -> None:
    run = doctor("--help")
    assert run.returncode == 0
    assert "Example" in run.stdout and "simyard doctor --quick" in run.stdout


def test_unknown_world_is_one_line_with_the_known_ones(tmp_path: Path) -> None:
    run = doctor("--world", "atlantis")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "'atlantis'" in run.stderr and "sokoban" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_golden_folder_without_goldens_or_with_a_torn_file_is_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    run = doctor("--goldens", str(empty))
    assert run.returncode == 2 and "no golden files" in run.stderr and "Traceback" not in run.stderr
    run = doctor("--goldens", str(tmp_path / "typo"))
    assert run.returncode == 2 and run.stderr.startswith(f"error: {tmp_path / 'typo'} does not exist — pass --goldens")

    folder = copy_goldens(tmp_path, "bandit")
    (folder / "bandit.json").write_text('{"format": 1, "name": "bandit"')
    run = doctor("--goldens", str(folder))
    assert run.returncode == 2 and "cannot read golden" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.slow
def test_full_doctor_passes_on_this_machine() -> None:
    run = doctor(timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    for entry in CATALOGUE:
        (row,) = rows(run.stdout, entry.name)
        assert row[2] in {"passed", "skipped"}, row
    assert rows(run.stdout, "sokoban")[0][2] == "passed"
