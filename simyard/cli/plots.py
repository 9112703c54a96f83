"""`bench report --plot`: success per subset with 95% Wilson intervals, one bar group per run (matplotlib, Agg).

The numbers are the report's own (`platform.metrics.summarize`), so the chart and the table never disagree. Each run
is a group; inside it one bar per subset (world/subset), coloured the same in every group so runs compare at a
glance, with the interval as an error bar. A run with one subset gets one bar, labelled by its world. matplotlib is
imported only here, and with the Agg backend, so plotting works on a headless machine and costs nothing elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from simyard.platform.episode import EpisodeResult
from simyard.platform.errors import SimyardError
from simyard.platform.metrics import GroupStats, summarize
from simyard.platform.rundir import RunDir

#: Image formats `--plot` writes, by file extension.
PLOT_FORMATS = (".png", ".svg", ".pdf")


class PlotError(SimyardError):
    """A plot that cannot be written (an unknown format, a folder that does not exist or is read-only)."""


@dataclass(frozen=True, slots=True)
class PlotSummary:
    """What was drawn: the run labels (groups) and the subsets (bars per group)."""

    path: Path
    groups: list[str]
    subsets: list[str]


def run_label(run: RunDir) -> str:
    """`agent`, with its model when it has one."""
    config = run.manifest.config
    model = config.agent_options.get("model")
    return f"{config.agent} ({model})" if model else config.agent


def unique_labels(groups: Sequence[tuple[str, RunDir]]) -> list[tuple[str, RunDir]]:
    """Labels that tell groups apart: a label two groups share gets each one's folder name beneath it."""
    counts: dict[str, int] = {}
    for label, _ in groups:
        counts[label] = counts.get(label, 0) + 1
    return [(f"{label}\n{_folder(run.path)}" if counts[label] > 1 else label, run) for label, run in groups]


def _folder(path: Path) -> str:
    """A run's folder name; a matrix arm's as `matrix/arm`."""
    from simyard.platform.matrix import ARMS_DIR

    return f"{path.parent.parent.name}/{path.name}" if path.parent.name == ARMS_DIR else path.name


def subset_rows(rows: list[GroupStats]) -> list[GroupStats]:
    """The bars of one run: its subsets, else its worlds, else the whole run."""
    for group in ("subset", "world"):
        chosen = [row for row in rows if row.group == group]
        if chosen:
            return chosen
    return [row for row in rows if row.group == "all"]


def check_writable(path: Path, flag: str) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    if path.suffix.lower() not in PLOT_FORMATS and flag == "--plot":
        raise PlotError(f"{flag} {path}: unknown image format {path.suffix or '(no extension)'!r}",
                        hint=f"end the file name in one of {', '.join(PLOT_FORMATS)}")
    folder = path.parent
    if path.is_dir():
        raise PlotError(f"{flag} {path} is a folder", hint="name a file, e.g. out.png")
    if not folder.is_dir():
        raise PlotError(f"{flag} {path}: the folder {folder} does not exist", hint="create it, or pick another path")
    import os

    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise PlotError(f"{flag} {path} cannot be written (permission denied)", hint="pick a path you can write to")


def plot_runs(paths: Sequence[Path], path: Path) -> PlotSummary:
    """The `--plot` of `bench report`: each run directory a group, each arm of a matrix run a group of its own.

    Raises:
        PlotError: `path` cannot be written.
        RunDirError: A path is not a run.
    """
    from simyard.cli.bench import existing_run
    from simyard.platform.matrix import arm_dir, is_matrix, read_plan
    from simyard.platform.rundir import RUN_FILE, open_run

    check_writable(path, "--plot")
    groups: list[tuple[str, RunDir]] = []
    for item in paths:
        if is_matrix(item):
            groups.extend((arm.name, open_run(arm_dir(item, arm.name))) for arm in read_plan(item).arms
                          if (arm_dir(item, arm.name) / RUN_FILE).is_file())
        else:
            run = existing_run(item)
            groups.append((run_label(run), run))
    return plot_success(unique_labels(groups), path)


def plot_success(groups: Sequence[tuple[str, RunDir]], path: Path) -> PlotSummary:
    """Draw the success chart of labelled runs into `path` (PNG, SVG or PDF, by extension).

    Raises:
        PlotError: `path` cannot be written.
    """
    check_writable(path, "--plot")
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    labels = [label for label, _ in groups]
    runs = [run for _, run in groups]
    per_run = [_bars(run.results()) for run in runs]
    subsets = sorted({name for bars in per_run for name in bars})
    width = 0.8 / max(1, len(subsets))
    figure, axes = plt.subplots(figsize=(max(6.0, 1.2 + len(runs) * (0.6 + 0.45 * len(subsets))), 4.5), dpi=100)
    try:
        colours = plt.get_cmap("tab10" if len(subsets) <= 10 else "tab20")
        for position, subset in enumerate(subsets):
            xs, heights, below, above = [], [], [], []
            for group, bars in enumerate(per_run):
                row = bars.get(subset)
                if row is None or row.n == 0:
                    continue
                xs.append(group - 0.4 + width * (position + 0.5))
                heights.append(row.success_rate)
                below.append(row.success_rate - row.success_low)
                above.append(row.success_high - row.success_rate)
            axes.bar(xs, heights, width * 0.92, yerr=[below, above], capsize=3, label=subset,
                     color=colours(position % colours.N), ecolor="#333333", linewidth=0)
        axes.set_xticks(range(len(runs)), labels)
        axes.set_xlim(-0.6, len(runs) - 0.4)
        axes.set_ylim(0, 1.05)
        axes.set_ylabel("success rate")
        axes.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        axes.set_title("Success per subset (95% Wilson intervals)")
        axes.grid(axis="y", alpha=0.3)
        axes.set_axisbelow(True)
        if len(subsets) > 1:
            axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        figure.tight_layout()
        try:
            figure.savefig(path)
        except OSError as exc:
            raise PlotError(f"--plot {path} cannot be written: {exc.strerror or exc}",
                            hint="pick a path you can write to") from None
    finally:
        plt.close(figure)
    return PlotSummary(path, labels, subsets)


def _bars(results: list[EpisodeResult]) -> dict[str, GroupStats]:
    """A run's bars by name; a run of one subset names its single bar by that subset too, so runs line up."""
    bars: dict[str, GroupStats] = {}
    for row in subset_rows(summarize(results)):
        name = row.name
        if row.group == "all":
            kinds = {f"{result.world}/{result.subset}" for result in results}
            name = kinds.pop() if len(kinds) == 1 else "all"
        elif row.group == "world":
            name = f"{row.name}/all"
        bars[name] = row
    return bars
