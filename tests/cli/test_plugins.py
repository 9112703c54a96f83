"""Third-party plugins end to end: a real package pip-installs and its world, agent and suite show in the CLI.

The package is `tests/plugins/demo_plugin` (the one docs/plugins.md describes). It is installed with
`pip install --no-deps --target DIR` into a temporary directory put on the subprocesses' PYTHONPATH, rather than into
the shared site-packages: other test processes on the same interpreter never see it, and teardown is deleting the
directory. The entry points are read from the installed dist-info exactly as from site-packages.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "tests" / "plugins" / "demo_plugin"


def simyard(*args: str, path: list[Path]) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": os.pathsep.join([*map(str, path), str(REPO)])}
    return subprocess.run([sys.executable, "-m", "simyard", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=REPO)


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """The demo plugin, built and installed by pip into a directory of its own (removed afterwards)."""
    root = tmp_path_factory.mktemp("plugin")
    source, site = root / "src", root / "site"
    shutil.copytree(DEMO, source)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
               "--target", str(site), str(source)]
    if importlib.util.find_spec("wheel") is not None:
        command.insert(5, "--no-build-isolation")  # build with this environment's setuptools, no index needed
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.skip(f"pip could not build the demo plugin here: {done.stderr.strip().splitlines()[-1:]}")
    yield site
    shutil.rmtree(root, ignore_errors=True)


def row(output: str, name: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(f"│ {name} "))
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_an_installed_plugin_shows_in_every_listing(demo_site):
    agents = simyard("agents", "list", path=[demo_site])
    suites = simyard("suites", "list", path=[demo_site])
    worlds = simyard("env", "list", path=[demo_site])
    for done in (agents, suites, worlds):
        assert done.returncode == 0, done.stderr
        assert done.stderr == ""  # no collision, nothing to warn about
    assert row(agents.stdout, "demo-heads")[1:] == ["simyard-demo-plugin", "Always says heads (or whatever `side` "
                                                                           "names): the demo plugin's agent."]
    assert row(suites.stdout, "demo-coins")[1:4] == ["simyard-demo-plugin", "4", "demo-coin"]
    assert row(worlds.stdout, "demo-coin")[1] == "simyard-demo-plugin"
    assert "heads or tails" in row(worlds.stdout, "demo-coin")[2]


def test_a_plugin_agent_and_world_options_are_described(demo_site):
    agent = simyard("agents", "info", "demo-heads", path=[demo_site])
    assert agent.returncode == 0, agent.stderr
    assert row(agent.stdout, "side") == ["side", "str", "'heads'", "The side to name every time."]
    world = simyard("env", "info", "demo-coin", path=[demo_site])
    assert world.returncode == 0, world.stderr
    assert "bias: float = 0.5  Probability of heads" in world.stdout


def test_a_plugin_world_agent_and_suite_run_together(demo_site, tmp_path):
    done = simyard("episode", "run", "demo-coin", "--suite", "demo-coins", "--index", "2", "--agent", "demo-heads",
                   "--agent-opt", "side=tails", "--out", str(tmp_path / "r"), path=[demo_site])
    assert done.returncode == 0, done.stderr
    assert "action='tails'" in done.stdout and "success" in done.stdout


def fake_distribution(where: Path, name: str, entry_points: str, modules: dict[str, str] | None = None) -> Path:
    """A distribution as pip leaves it (a dist-info with METADATA and entry_points.txt), without building one."""
    where.mkdir(parents=True, exist_ok=True)
    info = where / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    for module, source in (modules or {}).items():
        (where / f"{module}.py").write_text(textwrap.dedent(source))
    return where


def test_a_plugin_taking_a_builtin_name_is_reported_and_the_builtin_keeps_it(demo_site, tmp_path):
    clash = fake_distribution(tmp_path / "clash", "clashing-plugin", """
        [simyard.agents]
        random = simyard_demo.agent:AlwaysHeads
    """)
    done = simyard("agents", "list", path=[clash, demo_site])
    assert done.returncode == 0, done.stderr
    (warning,) = done.stderr.strip().splitlines()
    assert warning.startswith("warning: agent 'random' from distribution 'clashing-plugin'")
    assert "built-in agent (simyard.agents.baselines:RandomAgent)" in warning
    assert row(done.stdout, "random")[1] == "builtin"


def test_a_world_whose_optional_dependency_is_missing_names_the_extra(tmp_path):
    if importlib.util.find_spec("ray") is not None:
        pytest.skip("ray is installed here")
    site = fake_distribution(tmp_path / "site", "ray-worlds", """
        [simyard.worlds]
        ray-grid = raygrid:RayGrid
    """, {"raygrid": '''
        """A world that needs ray."""
        import ray  # noqa: F401

        class RayGrid:
            """Never loads here."""
    '''})
    listing = simyard("env", "list", path=[site])
    assert listing.returncode == 0, listing.stderr
    assert "needs the module 'ray'" in listing.stdout and "pip install 'simyard[ray]'" in listing.stdout
    info = simyard("env", "info", "ray-grid", path=[site])
    assert info.returncode == 2, (info.stdout, info.stderr)
    assert info.stderr.strip() == ("error: world 'ray-grid' needs the module 'ray', which is not installed — "
                                   "install it with: pip install 'simyard[ray]'")
