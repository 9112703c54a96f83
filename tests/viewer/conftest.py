"""Real runs for the viewer's tests (recorded by `run_bench` in this process), the viewer serving them on loopback,
and headless Chromium driven by Selenium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "viewer"
TASKS = 6


def sokoban_tasks(count: int = TASKS) -> list:
    """The suite's first Sokoban tasks with pictures on, so every step records a frame."""
    from simyard.platform.registry import load_suite

    tasks = [task for task in load_suite("ragen") if task.world == "sokoban"][:count]
    return [task.model_copy(update={"config": {**task.config, "render": True}}) for task in tasks]


def record_run(root: Path, name: str, agent: str, tasks: list, frames: str | None = None) -> Path:
    """A finished run of `agent` over `tasks` in `root/name`, recorded the way `simyard bench run` records one."""
    from simyard.platform.bench import run_bench
    from simyard.platform.taskfiles import write_task_file

    task_file = root / f"{name}-tasks.jsonl"
    write_task_file(task_file, tasks)
    run_bench(str(task_file), agent, out=root / name, imports=["tests.viewer.replying_agent"], seed=7,
              frames=frames)
    return root / name


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("viewer-runs")


@pytest.fixture(scope="session")
def replying_run(runs_root) -> Path:
    """Sokoban with frames, played by the solver answering like a model (replies, reasoning, tokens)."""
    return record_run(runs_root, "replying", "viewer-replying", sokoban_tasks())


@pytest.fixture(scope="session")
def random_run(runs_root) -> Path:
    """The same tasks and seeds played at random: most of them fail, so pairing shows differences."""
    return record_run(runs_root, "random", "random", sokoban_tasks())


@pytest.fixture()
def copy_run(tmp_path):
    """A writable copy of a run, to damage."""

    def copy(run: Path) -> Path:
        target = tmp_path / run.name
        shutil.copytree(run, target)
        return target

    return copy


@pytest.fixture()
def viewer():
    """Start a viewer over run directories on a free loopback port; stopped after the test."""
    from simyard.viewer.server import ViewerServer

    started = []

    def start(*paths: Path) -> ViewerServer:
        server = ViewerServer(list(paths), host="127.0.0.1", port=0).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium through chromedriver; skipped only when Chromium is not installed."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"needs Chromium and chromedriver ({CHROMIUM}, {CHROMEDRIVER}): apt-get install chromium "
                    f"chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture()
def screenshot(chromium):
    """Save the browser's page as test-artifacts/viewer/<name>.png."""

    def save(name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        chromium.save_screenshot(str(path))
        return path

    return save
