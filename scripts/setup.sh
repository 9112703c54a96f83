#!/usr/bin/env bash
# One-time (and idempotent) set-up of a Debian 12 machine for simyard, run from anywhere:
#   1. the system packages the worlds need, through apt, only when one is missing;
#   2. a virtual environment in .venv at the repository root (reused when present), made with the system's python3,
#      because Debian's python3 refuses `pip install` outside one (PEP 668 "externally-managed-environment");
#   3. torch==2.13.0 into that venv when it has none, FIRST, before any install that depends on torch: a looser pin
#      lets pip resolve and download gigabytes of wheels;
#   4. as root with Docker installed: a running dockerd and simyard's base image (built without any registry).
# It prints nothing when everything is already there. It does not install simyard itself: the README's commands do
# that with .venv/bin/python -m pip, so the set-up stays fast (a few seconds) on a machine that has it all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# --- system packages -----------------------------------------------------------------------------------------------
#   libosmesa6                MuJoCo's CPU (OSMesa) rendering
#   bubblewrap                sandboxing worlds without a container engine
#   docker.io                 container-backed worlds
#   debootstrap               builds simyard's base Docker image from an apt mirror (no registry; see below)
#   python3-pytest            pytest for the host's python3, which the bwrap sandbox runs (repository worlds' tests)
#   chromium chromium-driver  browser worlds and the viewer's tests, driven headless
#   iproute2                  `ip`, to bring up loopback in the network namespace the Ray cluster tests run in
#   python3-venv              only when python3 is Debian's and lacks venv/ensurepip (Debian ships them apart)
packages=(libosmesa6 bubblewrap docker.io debootstrap python3-pytest chromium chromium-driver iproute2)
if ! command -v python3 >/dev/null 2>&1; then
    packages+=(python3 python3-venv)
elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    case "$(readlink -f "$(command -v python3)")" in
        /usr/bin/*) packages+=(python3-venv) ;;
    esac
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${packages[@]}"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != *"ok installed" ]]; then
            missing+=("$p")
        fi
    done
else
    echo "setup: no dpkg (not Debian?); install these yourself if a world needs them: ${packages[*]}" >&2
fi

if ((${#missing[@]})); then
    apt=()
    if [[ "$(id -u)" == 0 ]]; then
        apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
    elif command -v sudo >/dev/null 2>&1; then
        apt=(sudo DEBIAN_FRONTEND=noninteractive apt-get)
    fi
    if ((${#apt[@]})); then
        echo "setup: installing ${missing[*]}" >&2
        if ! { "${apt[@]}" -qq update &&
               "${apt[@]}" -qq -y --no-install-recommends install "${missing[@]}" >/dev/null; }; then
            echo "setup: apt-get could not install ${missing[*]}; continuing without them" >&2
        fi
    else
        echo "setup: not root and no sudo; missing system packages (install them as root): ${missing[*]}" >&2
    fi
fi

# --- virtual environment -------------------------------------------------------------------------------------------
# Reused when its python runs; made anew when absent or broken (its base python gone); given pip when it has none
# (made --without-pip, or half-made by a `python3 -m venv` that lacked ensurepip before python3-venv came).
venv=.venv
pip_version() { "$venv/bin/python" -c 'import pip; print(pip.__version__)' 2>/dev/null; }
if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    rm -rf "$venv"
    python3 -m venv "$venv"
fi
if ! version="$(pip_version)"; then
    "$venv/bin/python" -m ensurepip --upgrade >/dev/null 2>&1 || true
    if ! version="$(pip_version)"; then  # still none (a pip half deleted): start again
        rm -rf "$venv"
        python3 -m venv "$venv"
        version="$("$venv/bin/python" -c 'import pip; print(pip.__version__)')"
    fi
fi
# pip < 23 cannot be trusted with editable installs of a pyproject-only project (no setup.py): upgrade it, quietly.
if (("${version%%.*}" < 23)); then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
fi

# --- torch, before anything that depends on it ------------------------------------------------------------------------
# The [local] extra and the dev install need torch. Pinned exactly, it takes the CPU build this machine already has;
# left to pip's resolver (`torch>=2.3,<3`), it would download gigabytes of CUDA wheels. So it comes first, and only
# when the venv has no torch yet (a torch the user installed, e.g. a CUDA build, is kept).
if ! "$venv/bin/python" -c 'import torch' >/dev/null 2>&1; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check torch==2.13.0 ||
        echo "setup: torch==2.13.0 did not install; local-model features and their tests need it" >&2
fi

# --- Docker: a running daemon and simyard's base image ---------------------------------------------------------------
# The docker sandbox (and its tests, which CI runs for real) needs dockerd and simyard/base:bookworm, an image built
# without any registry: simyard/sandboxes/base_image.sh debootstraps Debian with python3, git and pytest and `docker
# import`s it (about a minute, once per machine; dockerd keeps it). Root only. When both are there this costs ~0.05 s
# and prints nothing.
if [[ "$(id -u)" == 0 ]] && command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; then
    if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
        setsid nohup dockerd >/var/log/simyard-dockerd.log 2>&1 </dev/null &
        for _ in $(seq 1 60); do  # up to 30 s for the socket to answer
            docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
            sleep 0.5
        done
        docker version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
            echo "setup: dockerd did not start (see /var/log/simyard-dockerd.log); the docker sandbox cannot run" >&2
    fi
    if docker version --format '{{.Server.Version}}' >/dev/null 2>&1 &&
        ! docker image inspect simyard/base:bookworm >/dev/null 2>&1; then
        echo "setup: building the simyard/base:bookworm Docker image (debootstrap; about a minute, once)" >&2
        bash simyard/sandboxes/base_image.sh simyard/base:bookworm ||
            echo "setup: the base image was not built; the docker sandbox's tests will build it or fail" >&2
    fi
fi
