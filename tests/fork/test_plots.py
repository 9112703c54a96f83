"""`bench report --plot` and `episode replay --gif/--sheet`: the pictures show what a person would look for.

Runs are real bench runs of RAGEN tasks (three subsets); the chart is read back as pixels: one bar per subset colour
in each run's group, bar heights ordered as the success rates the report prints. Episode pictures come from a real
household episode's saved frames.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from simyard.cli import app

REPO = Path(__file__).resolve().parents[2]
SUBSETS = [("bandit", "base"), ("frozenlake", "base"), ("frozenlake", "slippery")]
TAB10 = [(31, 119, 180), (255, 127, 14), (44, 160, 44)]  # matplotlib's first three bar colours, in subset order


def invoke(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def user_error(*args: str, cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, env={**os.environ, "COLUMNS": "250", "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    return line


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    """random (seed 0), oracle, random (seed 5) on 8 tasks from each of three subsets."""
    from simyard.platform import registry
    from simyard.platform.taskfiles import write_task_file

    root = tmp_path_factory.mktemp("runs")
    tasks = registry.load_suite("ragen")
    picked = [task for key in SUBSETS for task in [t for t in tasks if (t.world, t.subset) == key][:8]]
    write_task_file(root / "mix.jsonl", picked)
    made = []
    for name, agent, seed in (("random0", "random", "0"), ("oracle", "oracle", "0"), ("random5", "random", "5")):
        invoke("bench", "run", str(root / "mix.jsonl"), "--agent", agent, "--seed", seed, "--out", str(root / name))
        made.append(root / name)
    return made


def success_rates(run: Path) -> dict[str, float]:
    report = json.loads(invoke("bench", "report", str(run), "--format", "json"))
    return {row["name"]: row["success_rate"] for row in report["rows"] if row["group"] == "subset"}


def bars(picture: np.ndarray, colour: tuple[int, int, int]) -> list[tuple[int, int]]:
    """(centre column, height in pixels) of each bar of `colour`, left to right, below the legend."""
    mask = np.all(picture[:, :, :3] == colour, axis=2)
    mask[: picture.shape[0] // 2, picture.shape[1] * 3 // 4:] = False  # the legend's swatches, top right
    rows = np.nonzero(mask.any(axis=1))[0]
    bottom = rows.max()
    line = mask[bottom - 1]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], line.astype(int), [0]])))
    found = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        beside_error_bar = start + (stop - start) // 4  # the interval's line runs down the bar's middle
        found.append(((start + stop) // 2, int(mask[:, beside_error_bar].sum())))
    return found


def test_the_plot_has_a_bar_group_per_run_and_bar_heights_follow_the_success_rates(runs, tmp_path):
    out = tmp_path / "success.png"
    invoke("bench", "report", *map(str, runs), "--plot", str(out))
    picture = np.asarray(Image.open(out).convert("RGB"))
    rates = [success_rates(run) for run in runs]
    for colour, (world, subset) in zip(TAB10, SUBSETS, strict=True):
        found = bars(picture, colour)
        expected = [rate[f"{world}/{subset}"] for rate in rates]
        visible = [value for value in expected if value > 0]
        assert len(found) == len(visible), (world, subset, found, expected)
        heights = [height for _, height in found]
        for height, value in zip(heights, visible, strict=True):  # heights are proportional to success
            assert abs(height / max(heights) - value / max(visible)) < 0.02, (heights, visible)
    centres = sorted(centre for colour in TAB10 for centre, _ in bars(picture, colour))
    gaps = np.diff(centres)
    assert (gaps > 1.5 * np.median(gaps)).sum() == len(runs) - 1, "three groups, set apart from each other"


def test_an_unwritable_plot_path_is_one_line_and_the_runs_stay(runs, tmp_path):
    before = (runs[0] / "results.jsonl").read_bytes()
    line = user_error("bench", "report", str(runs[0]), "--plot", str(tmp_path / "missing" / "x.png"), cwd=tmp_path)
    assert line.startswith("error: --plot") and "does not exist" in line
    line = user_error("bench", "report", str(runs[0]), "--plot", str(tmp_path / "x.txt"), cwd=tmp_path)
    assert "unknown image format '.txt'" in line and ".png" in line
    assert (runs[0] / "results.jsonl").read_bytes() == before


@pytest.fixture(scope="module")
def household(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("household") / "run"
    invoke("episode", "run", "household", "--suite", "eb-alfred", "--index", "0", "--agent", "random",
           "--max-steps", "7", "--world-opt", "resolution=96", "--out", str(out))
    return next((out / "episodes").iterdir())


def test_the_gif_has_one_labelled_frame_per_saved_frame(household, tmp_path):
    out = tmp_path / "episode.gif"
    output = invoke("episode", "replay", str(household), "--gif", str(out), "--fps", "4")
    saved = sorted((household / "frames").glob("step_*_rgb.png"))
    assert len(saved) == 8 and "GIF: 8 frames of view rgb, 96x96 px" in output
    with Image.open(out) as gif:
        assert gif.n_frames == 8 and gif.size == (96, 96) and gif.info["duration"] == 250
        for index, path in enumerate(saved):
            gif.seek(index)
            shown = np.asarray(gif.convert("RGB")).astype(int)
            original = np.asarray(Image.open(path).convert("RGB")).astype(int)
            below_label = (slice(24, None), slice(None))  # the step label covers the top-left corner
            assert np.abs(shown[below_label] - original[below_label]).mean() < 6, path.name


def test_the_contact_sheet_tiles_every_frame_in_a_grid(household, tmp_path):
    out = tmp_path / "sheet.png"
    output = invoke("episode", "replay", str(household), "--sheet", str(out))
    with Image.open(out) as sheet:
        width, height = sheet.size
        tiles = np.asarray(sheet.convert("RGB"))
    assert (width, height) == (3 * 160, 3 * (160 + 16)) and "8 frames" in output  # 8 tiles: 3 columns, 3 rows
    empty = tiles[2 * 176: 2 * 176 + 160, 2 * 160:]  # the ninth place of the grid
    assert (empty == 255).all()
    assert (tiles[2 * 176: 2 * 176 + 160, 160:320] != 255).any()  # the eighth holds a frame


def test_an_unwritable_gif_a_missing_view_or_an_episode_without_frames_is_one_line(household, tmp_path):
    line = user_error("episode", "replay", str(household), "--gif", str(tmp_path / "no" / "x.gif"), cwd=tmp_path)
    assert line.startswith("error: --gif") and "does not exist" in line
    line = user_error("episode", "replay", str(household), "--gif", str(tmp_path / "x.gif"), "--view", "depth",
                      cwd=tmp_path)
    assert "no frames of view 'depth'" in line and "its views: rgb" in line
    invoke("episode", "run", "sokoban", "--agent", "random", "--max-steps", "2", "--out", str(tmp_path / "text"))
    line = user_error("episode", "replay", str(tmp_path / "text"), "--sheet", str(tmp_path / "s.png"), cwd=tmp_path)
    assert "kept no frames" in line and not (tmp_path / "s.png").exists()


def test_two_runs_of_one_agent_are_labelled_by_their_folders(runs, tmp_path):
    from simyard.cli.plots import plot_runs

    drawn = plot_runs([runs[0], runs[1], runs[2]], tmp_path / "p.svg")
    assert drawn.groups == ["random\nrandom0", "oracle", "random\nrandom5"]
    assert drawn.subsets == ["bandit/base", "frozenlake/base", "frozenlake/slippery"]
    assert "<svg" in (tmp_path / "p.svg").read_text()[:500]


def test_a_frame_rate_of_zero_is_one_line_that_speaks_of_frames_per_second(household, tmp_path):
    line = user_error("episode", "replay", str(household), "--gif", str(tmp_path / "x.gif"), "--fps", "0",
                      cwd=tmp_path)
    assert line == "error: --fps must be a positive number of frames per second, got 0 — e.g. --fps 2"
    assert not (tmp_path / "x.gif").exists()
