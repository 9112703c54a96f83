"""What every isolating sandbox promises (base.py's contract), checked on bwrap and on a real Docker engine."""

from __future__ import annotations

import random
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from simyard.platform.errors import SandboxError
from simyard.sandboxes.base import Limits
from tests.sandboxes.conftest import KINDS, LIMITS


def _token() -> int:
    return random.randrange(10**6, 10**7)


def _host_processes(pattern: str) -> list[str]:
    found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout.splitlines()
    return [line for line in found if "pgrep" not in line]


def _wait_gone(pattern: str, within_s: float = 5.0) -> list[str]:
    deadline = time.monotonic() + within_s
    while (left := _host_processes(pattern)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_command_output_exit_code_stdin_and_workdir(sandbox):
    result = sandbox.run("echo out; echo err >&2; exit 7")
    assert (result.stdout, result.stderr, result.exit_code) == ("out\n", "err\n", 7)
    assert not result.ok and not result.timed_out and not result.truncated
    assert sandbox.run(["printf", "%s", "a b"]).stdout == "a b"
    assert sandbox.run("cat", stdin="piped in").stdout == "piped in"
    assert sandbox.run("pwd").stdout.strip() == "/workspace" == sandbox.workdir
    assert sandbox.run("true").ok


def test_output_over_the_cap_is_truncated_and_says_so(sandbox):
    # 200 MB on stdout with a 4 KiB cap: the head and the tail are kept, the middle is dropped with a marker
    result = sandbox.run("head -c 200000000 /dev/zero | tr '\\0' a; echo; echo THE-END", timeout_s=60)
    assert result.ok and result.truncated
    assert len(result.stdout) < LIMITS.output_bytes + 200
    assert result.stdout.startswith("aaaa") and result.stdout.endswith("THE-END\n")
    assert "bytes of output dropped here" in result.stdout
    assert not sandbox.run("echo short").truncated


@pytest.mark.slow
def test_a_gigabyte_of_output_is_truncated_and_says_so(sandbox):
    started = time.monotonic()
    result = sandbox.run("head -c 1000000000 /dev/zero; echo; echo THE-END", timeout_s=120)
    assert result.ok and result.truncated and result.stdout.endswith("THE-END\n")
    assert "bytes of output dropped here" in result.stdout and len(result.stdout) < LIMITS.output_bytes + 200
    assert time.monotonic() - started < 60


def test_time_limit_kills_the_whole_process_tree(sandbox):
    tok = _token()
    command = (
        f"sleep {tok} & setsid sleep {tok} & (sleep {tok} &); nohup sleep {tok} >/dev/null 2>&1 & "
        f"bash -c 'sleep {tok}' & sleep {tok}"
    )
    started = time.monotonic()
    result = sandbox.run(command, timeout_s=1)
    assert result.timed_out and result.exit_code is None and not result.ok
    assert time.monotonic() - started < 5
    assert _wait_gone(f"sleep {tok}") == []
    assert sandbox.run("echo still usable").stdout == "still usable\n"


def test_background_processes_do_not_outlive_their_command(sandbox):
    tok = _token()
    started = time.monotonic()
    result = sandbox.run(f"sleep {tok} >/dev/null 2>&1 & setsid sleep {tok} & echo started")
    assert result.ok and result.stdout == "started\n"
    assert time.monotonic() - started < 2
    assert _wait_gone(f"sleep {tok}") == []


@pytest.mark.parametrize("kind", KINDS)
def test_cpu_time_is_limited(make, kind):
    sandbox = make(kind, Limits(timeout_s=20, cpu_s=1, memory_mb=256, pids=64))
    started = time.monotonic()
    result = sandbox.run("python3 -c 'while True: pass'")
    assert not result.timed_out and result.exit_code in (137, 152)  # SIGKILL, or SIGXCPU
    assert time.monotonic() - started < 6


def test_no_network(sandbox):
    listener = socket.socket()
    listener.bind(("0.0.0.0", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    # the loopback, Docker's bridge and the host's own address: none reachable from inside
    hosts = sorted({"127.0.0.1", "172.17.0.1", socket.gethostbyname(socket.gethostname())})
    script = (
        "import socket\n"
        f"for host in {hosts!r}:\n"
        "    try:\n"
        f"        socket.create_connection((host, {port}), timeout=2); print('CONNECTED', host)\n"
        "    except OSError as e: print('BLOCKED', host, e)\n"
        "try:\n"
        "    print('RESOLVED', socket.getaddrinfo('deb.debian.org', 80))\n"
        "except OSError as e: print('no dns', e)\n"
    )
    try:
        result = sandbox.run(["python3", "-c", script])
        assert result.ok, result.stderr
        assert "CONNECTED" not in result.stdout and "RESOLVED" not in result.stdout
        assert result.stdout.count("BLOCKED") == len(hosts) and "no dns" in result.stdout
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_writes_outside_the_workspace_fail(sandbox):
    tok = _token()
    for path in ("/usr", "/etc", "/", "/var", "/root", "/home", "/opt", "/bin"):
        target = f"{path.rstrip('/')}/simyard-probe-{tok}"
        result = sandbox.run(f"echo x > {target}")
        assert not result.ok, target
        assert not Path(target).exists(), target
    # /tmp is writable but private: nothing appears in the host's /tmp
    assert sandbox.run(f"echo x > /tmp/simyard-probe-{tok} && cat /tmp/simyard-probe-{tok}").stdout == "x\n"
    assert not Path(f"/tmp/simyard-probe-{tok}").exists()
    # the workspace is writable and is the host's directory
    assert sandbox.run("mkdir -p d && echo y > d/f").ok
    assert (sandbox.workspace / "d" / "f").read_text() == "y\n"


@pytest.mark.parametrize("kind", KINDS)
def test_host_environment_variables_are_invisible(make, monkeypatch, kind):
    secret = f"sk-simyard-test-{_token()}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)  # set before the sandbox exists, as a real run's key would be
    sandbox = make(kind)
    result = sandbox.run("env; cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n'; grep -rs " + secret + " /etc")
    assert secret not in result.stdout + result.stderr
    assert "OPENAI_API_KEY" not in result.stdout
    # variables the world passes on purpose do arrive
    assert sandbox.run("echo $GIVEN", env={"GIVEN": "yes"}).stdout == "yes\n"


@pytest.mark.parametrize("kind", KINDS)
def test_a_fork_bomb_is_contained(make, kind):
    limits = Limits(timeout_s=6, cpu_s=20, memory_mb=512, pids=64)
    sandbox = make(kind, limits)
    tag = f"simyard-bomb-{_token()}"  # every forked copy keeps this in its command line: pgrep finds them all
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, len(_host_processes(tag)))
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = sandbox.run(["bash", "-c", "f(){ f | f & }; f; sleep 3", tag], timeout_s=6)
    finally:
        done.set()
        watcher.join()
    assert "Resource temporarily unavailable" in result.stderr or result.timed_out
    assert 0 < peak <= limits.pids + 4  # the host saw the bomb, never more than the limit (+ docker's headroom)
    assert _wait_gone(tag, within_s=10) == []
    assert subprocess.run(["true"]).returncode == 0
    assert sandbox.run("echo alive").stdout == "alive\n"


@pytest.mark.parametrize("kind", KINDS)
def test_a_memory_hog_is_contained(make, kind):
    sandbox = make(kind, Limits(timeout_s=20, cpu_s=20, memory_mb=256, pids=64))
    hog = "python3 -c \"x = b'a' * (2 << 30); print('SURVIVED', len(x))\""
    result = sandbox.run(hog)
    assert not result.ok and "SURVIVED" not in result.stdout
    # writing the memory into the private /tmp (a tmpfs) is no way around it either
    tmp_hog = sandbox.run("head -c 1500000000 /dev/zero > /tmp/big; echo wrote $(stat -c %s /tmp/big)")
    assert "wrote 1500000000" not in tmp_hog.stdout
    assert sandbox.run("echo alive").stdout == "alive\n"


def test_rm_rf_root_changes_nothing_outside_the_workspace(sandbox, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "sentinel").write_text("keep me")
    (sandbox.workspace / "mine").write_text("the agent's own")
    # never run the real thing where a basic precondition does not hold
    assert not sandbox.run("touch /usr/simyard-probe").ok
    assert not sandbox.run(f"test -e {outside}/sentinel").ok
    result = sandbox.run("rm -rf --no-preserve-root / 2>/dev/null; echo done", timeout_s=60)
    assert result.stdout.endswith("done\n")
    assert (outside / "sentinel").read_text() == "keep me"
    assert Path("/usr/bin/python3").exists() and Path("/etc/passwd").exists()
    assert not (sandbox.workspace / "mine").exists()  # the workspace is the agent's to wreck
    assert subprocess.run(["python3", "-c", "print(1)"], capture_output=True).stdout == b"1\n"


def test_the_host_home_and_ssh_keys_are_unreadable(sandbox):
    home = Path.home()
    secret = home / f".simyard-test-secret-{_token()}"
    secret.write_text("private")
    try:
        result = sandbox.run(f"cat {secret}; cat {home}/.ssh/* ~/.ssh/* /root/.ssh/* 2>&1; ls -A {home}")
        assert "private" not in result.stdout
        assert secret.name not in result.stdout
        assert not sandbox.run(f"test -r {secret}").ok
    finally:
        secret.unlink()


def test_read_write_files_and_paths_outside_are_refused(sandbox):
    sandbox.write_file("a/b.txt", "hello")
    assert (sandbox.workspace / "a" / "b.txt").read_text() == "hello"
    assert sandbox.run("cat a/b.txt").stdout == "hello"
    assert sandbox.read_file("a/b.txt") == b"hello"
    assert sandbox.read_file("/workspace/a/b.txt") == b"hello"
    sandbox.run("echo made inside > c.txt")
    assert sandbox.read_file("c.txt") == b"made inside\n"
    for bad in ("../escape", "/etc/passwd", "a/../../escape"):
        with pytest.raises(SandboxError):
            sandbox.read_file(bad)
        with pytest.raises(SandboxError):
            sandbox.write_file(bad, "x")
    sandbox.run("ln -s /etc/passwd link && ln -s .. up")
    with pytest.raises(SandboxError):
        sandbox.read_file("link")
    with pytest.raises(SandboxError):
        sandbox.write_file("up/escaped", "x")
    assert not (sandbox.workspace.parent / "escaped").exists()
    with pytest.raises(SandboxError):
        sandbox.read_file("missing.txt")


def test_bwrap_shows_no_host_secrets_under_etc(make):
    sandbox = make("bwrap")
    for secret in ("/etc/shadow", "/etc/gshadow", "/etc/ssh", "/etc/ssl/private", "/etc/sudoers", "/etc/resolv.conf"):
        assert not sandbox.run(f"test -e {secret}").ok, secret
    assert "agent:x:1000" in sandbox.run("cat /etc/passwd").stdout  # simyard's own, not the host's users
    assert sandbox.run("python3 -c 'import ssl, json; print(1)'").stdout == "1\n"  # what python needs is there


def test_bwrap_makes_its_etc_again_when_a_run_s_scratch_cleanup_removed_it(make):
    """The /etc copy is made once per process in its temp directory; a bench run's scratch root is that directory
    while it runs and is removed after it, so the next sandbox of the same process must not bind a vanished path."""
    import shutil

    from simyard.sandboxes import bwrap

    assert make("bwrap").run("cat /etc/hostname").ok
    static = bwrap._static_args()
    shutil.rmtree(Path(static[static.index("/etc") - 1]).parent)
    result = make("bwrap").run("cat /etc/passwd")
    assert result.ok and "agent:x:1000" in result.stdout, result.stderr


def test_git_and_python_work_inside(sandbox):
    script = "git init -q && git -c user.name=a -c user.email=a@b commit -q --allow-empty -m first && git log --oneline"
    result = sandbox.run(script)
    assert result.ok and result.stdout.count("first") == 1, result.stderr
    assert sandbox.run(["python3", "-c", "import sys; print(sys.version_info[0])"]).stdout == "3\n"
    host_pytest = subprocess.run(["/usr/bin/python3", "-c", "import pytest"], capture_output=True).returncode == 0
    if sandbox.kind == "docker" or host_pytest:  # the base image has pytest; bwrap, what the host's /usr has
        sandbox.write_file("t/test_it.py", "def test_it():\n    assert True\n")
        result = sandbox.run("python3 -m pytest -q -p no:cacheprovider t")
        assert result.ok and "1 passed" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_extra_binds_are_shown_read_only_or_read_write(make, tmp_path, kind):
    upstream = tmp_path / "upstream.git"
    upstream.mkdir()
    (upstream / "HEAD").write_text("ref: refs/heads/main\n")
    shared = tmp_path / "logs"
    shared.mkdir()
    sandbox = make(kind, ro_binds={str(upstream): str(upstream)}, binds={str(shared): "/logs"})
    assert sandbox.run(f"cat {upstream}/HEAD").stdout == "ref: refs/heads/main\n"
    assert not sandbox.run(f"echo x > {upstream}/HEAD").ok
    assert (upstream / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert sandbox.run("echo 1 > /logs/reward.txt").ok
    assert (shared / "reward.txt").read_text() == "1\n"
