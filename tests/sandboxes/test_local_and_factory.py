"""The unsafe `local` sandbox, the factory's names, and output capping."""

from __future__ import annotations

import time

import pytest

from simyard.platform.errors import SandboxError, UnknownNameError
from simyard.sandboxes._capture import Capped
from simyard.sandboxes.factory import SANDBOXES, make_sandbox, sandbox_help
from simyard.sandboxes.local import LocalSandbox
from tests.sandboxes.conftest import LIMITS


def test_local_runs_commands_and_is_labelled_unsafe(make, monkeypatch):
    monkeypatch.setenv("SIMYARD_LOCAL_PROBE", "host-value")
    sandbox = make("local")
    assert isinstance(sandbox, LocalSandbox) and not sandbox.isolated
    assert "UNSAFE" in (LocalSandbox.__doc__ or "") and "UNSAFE" in sandbox_help()
    assert sandbox.run("echo $SIMYARD_LOCAL_PROBE; pwd").stdout.split() == ["host-value", str(sandbox.workspace)]
    assert sandbox.run("cat", stdin="x").stdout == "x"
    with pytest.raises(SandboxError):
        sandbox.read_file("../outside")


def test_local_time_limit_kills_its_process_group(make):
    sandbox = make("local")
    started = time.monotonic()
    result = sandbox.run("sleep 30 & sleep 30", timeout_s=0.5)
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - started < 4
    started = time.monotonic()
    assert sandbox.run("sleep 30 >/dev/null 2>&1 & echo quick").stdout == "quick\n"
    assert time.monotonic() - started < 2  # a background child holding the pipes does not look like a timeout


def test_unknown_sandbox_names_list_the_known_ones(tmp_path):
    with pytest.raises(UnknownNameError) as caught:
        make_sandbox("firecracker", tmp_path)
    assert "bwrap" in caught.value.hint and "docker" in caught.value.hint
    assert set(SANDBOXES) == {"bwrap", "docker", "local"}


def test_a_missing_workspace_is_a_sandbox_error(tmp_path):
    for kind in ("bwrap", "local"):
        with pytest.raises(SandboxError):
            make_sandbox(kind, tmp_path / "missing", LIMITS)


def test_capped_output_keeps_head_and_tail_and_counts_what_it_dropped():
    capped = Capped(10)
    capped.feed(b"0123456789")
    assert not capped.truncated and capped.text() == "0123456789"
    for _ in range(1000):
        capped.feed(b"abcdefghij")
    capped.feed(b"END!!")
    assert capped.truncated and capped.total == 10015
    text = capped.text()
    assert text.startswith("01234") and text.endswith("j END!!".replace(" ", "")[-5:])
    assert "10005 bytes of output dropped" in text
    assert Capped(0).text() == ""


def test_cgroups_a_crashed_process_left_are_swept(make):
    from simyard.sandboxes import _cgroups

    make("bwrap").run("true")  # makes (and removes) this process's first cgroup, if cgroups are usable here
    if _cgroups.unavailable_reason() is not None:
        pytest.skip(f"bwrap uses rlimits here, not cgroups: {_cgroups.unavailable_reason()}")
    stale = [parent / "simyard-999999999-0" for parent, _ in _cgroups._layout()]  # a pid that cannot exist
    for directory in stale:
        directory.mkdir()
    assert _cgroups.sweep() == 1
    assert not any(directory.exists() for directory in stale)
