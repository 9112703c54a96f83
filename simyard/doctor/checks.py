"""What each world and backend needs on this machine, tried for real, with the fix for anything not there.

Each check answers `ok`, `missing` (not installed, not started, no such device: the worlds that need it are skipped)
or `failed` (present but broken: a library that does not load, a sandbox that refuses to start). Checks do the real
thing where it is cheap: an OSMesa context is created, a MuJoCo frame is drawn, a command runs in a bubblewrap
sandbox; the full run (not `--quick`) also runs a command in a Docker container and a task on a Ray cluster.

`provides` names what a golden episode may need (`render`, `franka`, `bwrap`, `git`, ...), so the player skips
goldens whose needs are not `ok`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simyard.platform.errors import SimyardError

SETUP = "bash scripts/setup.sh (as root: system packages, dockerd, the base image)"


@dataclass(frozen=True)
class Check:
    """One requirement: its status (`ok`, `missing`, `failed`), what was found, and the fix when not ok."""

    name: str
    status: str
    detail: str
    fix: str = ""
    provides: str = ""
    used_by: str = ""


def _ok(name: str, detail: str, provides: str, used_by: str) -> Check:
    return Check(name, "ok", detail, "", provides, used_by)


def _oneline(error: BaseException | str) -> str:
    return " ".join(str(error).split())[:200]


# ------------------------------------------------------------------------------------------------------ rendering


def check_mujoco() -> Check:
    used_by = "household, rearrange, navigation, manipulation"
    try:
        mujoco = importlib.import_module("mujoco")
    except ImportError as exc:
        return Check("mujoco", "missing", _oneline(exc), "pip install mujoco", "mujoco", used_by)
    return _ok("mujoco", f"MuJoCo {mujoco.__version__}", "mujoco", used_by)


def check_osmesa() -> Check:
    """Load libOSMesa and create (then destroy) a real context: CPU rendering works."""
    used_by = "pictures on the CPU (render=osmesa)"
    fix = "apt-get install libosmesa6"
    library = ctypes.util.find_library("OSMesa") or "libOSMesa.so.8"
    try:
        lib = ctypes.CDLL(library)
    except OSError as exc:
        return Check("OSMesa", "missing", _oneline(exc), fix, "", used_by)
    lib.OSMesaCreateContextExt.restype = ctypes.c_void_p
    lib.OSMesaCreateContextExt.argtypes = [ctypes.c_uint, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    lib.OSMesaDestroyContext.argtypes = [ctypes.c_void_p]
    context = lib.OSMesaCreateContextExt(0x1908, 24, 0, 0, None)  # OSMESA_RGBA, 24-bit depth
    if not context:
        return Check("OSMesa", "failed", f"{library} loads but cannot create a context", fix, "", used_by)
    lib.OSMesaDestroyContext(context)
    return _ok("OSMesa", f"{library}: a context was created", "", used_by)


def check_egl() -> Check:
    from simyard.sims.mjrender import egl_available

    used_by = "pictures on a GPU (render=egl)"
    if egl_available():
        return _ok("EGL", "an EGL device display initialises", "", used_by)
    return Check("EGL", "missing", "no EGL device display (fine on a machine without a GPU)",
                 "install the GPU's driver with EGL (NVIDIA: libnvidia-egl; Mesa: apt-get install libegl1 "
                 "libegl-mesa0); OSMesa renders on the CPU meanwhile", "", used_by)


def check_rendering() -> Check:
    """Draw a real MuJoCo frame through the backend `render=auto` picks (this fixes the process's GL backend)."""
    used_by = "golden frames of household, navigation, manipulation"
    fix = "apt-get install libosmesa6 (CPU) or a GPU driver with EGL; then pip install --force-reinstall mujoco"
    try:
        import mujoco
        import numpy as np

        from simyard.doctor.stack import gl_stack
        from simyard.sims.mjrender import Renderer, View

        stack = gl_stack("auto")
        model = mujoco.MjModel.from_xml_string(
            "<mujoco><worldbody><light pos='0 0 3'/><geom type='box' size='.5 .5 .5' rgba='1 0 0 1'/>"
            "</worldbody></mujoco>")
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        with Renderer(stack["backend"], 32, 32) as renderer:
            image = renderer.render(model, data, View((3.0, 0.0, 0.0), (-1.0, 0.0, 0.0), width_px=32, height_px=32))
    except ImportError as exc:
        return Check("MuJoCo rendering", "missing", _oneline(exc), fix, "render", used_by)
    except Exception as exc:  # noqa: BLE001 -- a SimyardError, or a GL library's own error type
        message = exc.message if isinstance(exc, SimyardError) else _oneline(exc)
        return Check("MuJoCo rendering", "failed", message, fix, "render", used_by)
    red = image[16, 16].astype(int)
    if not (red[0] > 100 and red[0] > 2 * max(red[1], red[2]) and np.ptp(image) > 0):
        return Check("MuJoCo rendering", "failed", f"a red box drew as {red.tolist()} at the centre", fix,
                     "render", used_by)
    return _ok("MuJoCo rendering", f"{stack['backend']}: {stack['renderer']}, {stack['version']}", "render", used_by)


def check_franka() -> Check:
    from simyard.sims.manipulation.panda import asset_dir

    try:
        folder = asset_dir()
    except SimyardError as exc:
        return Check("Franka Panda model", "missing", exc.message, exc.hint, "franka", "manipulation")
    return _ok("Franka Panda model", folder, "franka", "manipulation")


# ------------------------------------------------------------------------------------------------------ sandboxes


def check_bwrap() -> Check:
    """Run a real command in a bubblewrap sandbox: namespaces, the read-only host and the writable workspace."""
    from simyard.sandboxes.bwrap import bwrap_available
    from simyard.sandboxes.factory import make_sandbox

    used_by = "syncmind, harbor (sandbox=bwrap, the default)"
    reason = bwrap_available()
    if reason is not None:
        missing = "not installed" in reason
        fix = "apt-get install bubblewrap" if missing else (
            "allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1; in a container, "
            "run it with --privileged or seccomp=unconfined), or use --world-opt sandbox=docker")
        return Check("bubblewrap", "missing" if missing else "failed", reason, fix, "bwrap", used_by)
    with tempfile.TemporaryDirectory(prefix="simyard-doctor-") as folder:
        sandbox = make_sandbox("bwrap", Path(folder))
        try:
            result = sandbox.run("echo sandboxed > proof && cat proof && id -u")
        finally:
            sandbox.close()
    if not result.ok or not result.stdout.startswith("sandboxed"):
        return Check("bubblewrap", "failed", f"exit {result.exit_code}: {_oneline(result.stderr or result.stdout)}",
                     "apt-get install --reinstall bubblewrap", "bwrap", used_by)
    return _ok("bubblewrap", f"a command ran sandboxed (uid {result.stdout.split()[-1]})", "bwrap", used_by)


def check_git() -> Check:
    path = shutil.which("git")
    if path is None:
        return Check("git", "missing", "git is not on PATH", "apt-get install git", "git", "syncmind, repos")
    version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout.strip()
    return _ok("git", version, "git", "syncmind, repos")


def check_docker(quick: bool) -> list[Check]:
    """The SDK, the daemon, simyard's base image and (full run) a command in a container from it."""
    used_by = "sandbox=docker (syncmind, harbor)"
    try:
        docker = importlib.import_module("docker")
    except ImportError as exc:
        return [Check("Docker SDK", "missing", _oneline(exc), "pip install 'simyard[docker]'", "docker", used_by)]
    checks = [_ok("Docker SDK", f"docker {docker.__version__}", "", used_by)]
    from simyard.sandboxes.docker import BASE_IMAGE, docker_client
    from simyard.sandboxes.images import image_exists

    start = "start dockerd (`dockerd >/var/log/dockerd.log 2>&1 &`, or " + SETUP + ")"
    if shutil.which("dockerd") is None and shutil.which("docker") is None:
        return [*checks, Check("Docker daemon", "missing", "Docker is not installed", "apt-get install docker.io; "
                               + start, "docker", used_by)]
    try:
        client = docker_client()
        version = client.version().get("Version", "?")
    except SimyardError as exc:
        return [*checks, Check("Docker daemon", "missing", exc.message, start, "docker", used_by)]
    checks.append(_ok("Docker daemon", f"Docker {version}", "", used_by))
    if not image_exists(BASE_IMAGE, client):
        return [*checks, Check("base image", "missing", f"{BASE_IMAGE} is not built", SETUP, "docker", used_by)]
    if quick:
        return [*checks, _ok("base image", f"{BASE_IMAGE} is there", "docker", used_by)]
    return [*checks, _docker_command(used_by)]


def _docker_command(used_by: str) -> Check:
    from simyard.sandboxes.docker import BASE_IMAGE
    from simyard.sandboxes.factory import make_sandbox

    try:
        with tempfile.TemporaryDirectory(prefix="simyard-doctor-") as folder:
            sandbox = make_sandbox("docker", Path(folder), image=BASE_IMAGE)
            try:
                result = sandbox.run("python3 -c 'print(6 * 7)'")
            finally:
                sandbox.close()
    except SimyardError as exc:
        return Check("base image", "failed", exc.message, exc.hint or SETUP, "docker", used_by)
    if not result.ok or result.stdout.strip() != "42":
        return Check("base image", "failed", f"python3 in {BASE_IMAGE}: exit {result.exit_code} "
                     f"{_oneline(result.stderr)}", "docker rmi " + BASE_IMAGE + "; " + SETUP, "docker", used_by)
    return _ok("base image", f"{BASE_IMAGE}: a command ran in a container", "docker", used_by)


# ----------------------------------------------------------------------------------------------- models, cluster


def check_torch() -> list[Check]:
    used_by = "the local agent, simyard serve"
    try:
        torch = importlib.import_module("torch")
    except ImportError as exc:
        return [Check("torch", "missing", _oneline(exc), "pip install 'simyard[local]'", "torch", used_by)]
    checks = [_ok("torch", f"torch {torch.__version__}", "torch", used_by)]
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        checks.append(_ok("CUDA", f"{torch.cuda.device_count()} device(s): {name}, CUDA {torch.version.cuda}",
                          "cuda", "local models on a GPU"))
    else:
        why = "this torch is a CPU build" if torch.version.cuda is None else "no CUDA device is visible"
        checks.append(Check("CUDA", "missing", why + " (local models run on the CPU)",
                            "on a machine with an NVIDIA GPU: its driver, then a CUDA build of torch "
                            "(pip install torch --index-url https://download.pytorch.org/whl/cu124)",
                            "cuda", "local models on a GPU"))
    return checks


def check_module(name: str, module: str, fix: str, used_by: str, import_it: bool = True) -> Check:
    """Whether `module` imports (its version); without `import_it`, only whether it is installed (--quick)."""
    if not import_it:
        from importlib import metadata, util

        if util.find_spec(module) is None:
            return Check(name, "missing", f"no module named {module!r}", fix, module, used_by)
        try:
            version = metadata.version(module)
        except metadata.PackageNotFoundError:
            version = "?"
        return _ok(name, f"{module} {version} installed (not imported: --quick)", module, used_by)
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        return Check(name, "missing", _oneline(exc), fix, module, used_by)
    except Exception as exc:  # noqa: BLE001 -- a broken install raises anything at import
        return Check(name, "failed", f"import {module}: {_oneline(exc)}", f"pip install --force-reinstall {module}",
                     module, used_by)
    return _ok(name, f"{module} {getattr(imported, '__version__', '?')}", module, used_by)


def check_ray(quick: bool) -> Check:
    """Ray imports; the full run starts a one-CPU local cluster and runs a task on it."""
    found = check_module("Ray", "ray", "pip install 'simyard[ray]'", "bench run --executor ray", import_it=not quick)
    if quick or found.status != "ok":
        return found
    import ray

    try:
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
        try:
            answer = ray.get(ray.remote(lambda: 6 * 7).remote(), timeout=120)
        finally:
            ray.shutdown()
    except Exception as exc:  # noqa: BLE001 -- Ray's own error types
        return Check("Ray", "failed", f"a local cluster did not run a task: {_oneline(exc)}",
                     "ray stop --force; check /tmp/ray/session_latest/logs", "ray", found.used_by)
    if answer != 42:
        return Check("Ray", "failed", f"a task returned {answer!r}", "pip install --force-reinstall ray", "ray",
                     found.used_by)
    return _ok("Ray", f"{found.detail}: a task ran on a local cluster", "ray", found.used_by)


def check_chromium() -> Check:
    used_by = "simyard view's browser tests"
    fix = "apt-get install chromium chromium-driver"
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        what = "chromium" if browser is None else "chromedriver"
        return Check("chromium", "missing", f"{what} is not on PATH", fix, "chromium", used_by)
    versions = []
    for binary in (browser, driver):
        try:
            run = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Check("chromium", "failed", f"{binary} --version: {_oneline(exc)}", fix, "chromium", used_by)
        if run.returncode != 0:
            return Check("chromium", "failed", f"{binary} --version: exit {run.returncode}", fix, "chromium", used_by)
        versions.append(run.stdout.strip())
    return _ok("chromium", "; ".join(versions), "chromium", used_by)


# ---------------------------------------------------------------------------------------------------------- all


def all_checks(quick: bool = False) -> list[tuple[str, Callable[[], Check | list[Check]]]]:
    """The checks in the order they are shown, by name; each is called once, one after another."""
    return [
        ("mujoco", check_mujoco),
        ("OSMesa", check_osmesa),
        ("EGL", check_egl),
        ("MuJoCo rendering", check_rendering),
        ("Franka Panda model", check_franka),
        ("bubblewrap", check_bwrap),
        ("git", check_git),
        ("Docker", lambda: check_docker(quick)),
        ("torch", check_torch),
        ("transformers", lambda: check_module("transformers", "transformers", "pip install 'simyard[local]'",
                                              "the local agent", import_it=not quick)),
        ("Ray", lambda: check_ray(quick)),
        ("chromium", check_chromium),
    ]


def run_check(name: str, check: Callable[[], Check | list[Check]]) -> list[Check]:
    """One check's results; a check that itself crashes is reported as `failed`, so the doctor never does."""
    try:
        found = check()
    except Exception as exc:  # noqa: BLE001 -- whatever broke is the finding
        return [Check(name, "failed", f"the check raised {type(exc).__name__}: {_oneline(exc)}",
                      "report this with the output of simyard doctor")]
    return found if isinstance(found, list) else [found]


def available(checks: list[Check]) -> dict[str, Check]:
    """The checks by what they provide (`render`, `bwrap`, ...), for deciding which goldens can run."""
    return {check.provides: check for check in checks if check.provides}
