"""The runs a viewer shows: those named on the command line (a matrix run as one run per arm), then the forks it
opens while it serves (a fork made from the page, a fork's parent, the forks found beside an episode)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from simyard.platform.errors import RunDirError, SimyardError
from simyard.viewer.runs import RunView


def expand(paths: Sequence[str | Path]) -> list[tuple[Path, str | None]]:
    """Each path as (run directory, label): a matrix run becomes its arms, labelled `matrix/arm`, in plan order.

    Raises:
        RunDirError: A matrix run none of whose arms has started (there is nothing to show yet).
    """
    from simyard.platform.matrix import arm_dir, is_matrix, read_plan
    from simyard.platform.rundir import RUN_FILE

    found: list[tuple[Path, str | None]] = []
    for path in paths:
        path = Path(path)
        if not is_matrix(path):
            found.append((path, None))
            continue
        arms = [(arm_dir(path, arm.name), f"{path.resolve().name}/{arm.name}") for arm in read_plan(path).arms]
        started = [(where, label) for where, label in arms if (where / RUN_FILE).is_file()]
        if not started:
            raise RunDirError(f"{path} is a matrix run whose arms have not started yet",
                              hint=f"resume it with `simyard bench run --resume {path}`, then view it")
        found.extend(started)
    return found


class OpenRuns:
    """The viewer's runs by number (a run's id in URLs): the listed ones first, then those opened while serving.

    Only the listed runs appear in the run list and can be paired; an opened one (a fork) is reached from the
    episode it came from. Opening is thread-safe and opens a directory once.
    """

    def __init__(self, paths: Sequence[str | Path]) -> None:
        if not paths:
            raise SimyardError("no run directory given", hint="simyard view RUN_DIR [RUN_DIR ...]")
        self._lock = threading.Lock()
        self._views = [RunView(path, number, label) for number, (path, label) in enumerate(expand(paths))]
        self.listed = len(self._views)

    def __getitem__(self, number: int) -> RunView:
        if number < 0:
            raise IndexError(number)
        return self._views[number]

    def __len__(self) -> int:
        return len(self._views)

    def __iter__(self) -> Iterator[RunView]:
        return iter(list(self._views))

    def listed_views(self) -> list[RunView]:
        """The runs named on the command line (a matrix's arms), as the run list shows them."""
        return self._views[:self.listed]

    def find(self, path: str | Path) -> RunView | None:
        """The open run at `path`, if any."""
        wanted = Path(path).resolve()
        return next((view for view in self._views if view.path == wanted), None)

    def open(self, path: str | Path, label: str | None = None) -> RunView:
        """The run at `path`, opened now if it is not open yet (`RunDirError` when it is not a run)."""
        with self._lock:
            view = self.find(path)
            if view is None:
                view = RunView(path, len(self._views), label)
                self._views.append(view)
            return view
