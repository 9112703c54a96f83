"""Docker images for sandboxes: simyard's base image, built without any registry, and one image per environment.

- `ensure_base_image()` makes `simyard/base:bookworm` when the daemon lacks it: `base_image.sh` (next to this file,
  the one recipe; scripts/setup.sh runs it too) debootstraps a minimal Debian bookworm with python3, git and pytest
  from an apt mirror and `docker import`s it. About a minute, once per machine: the tagged image is the cache.
- `build_image(dockerfile=..., context=...)` or `build_image(base="some/image", setup=["pip install ."])` builds a
  repository's environment, tagged by a hash of what it is built from (`simyard/env:<12 hex>`), so the same
  environment is built once per machine and found by tag afterwards. Nothing is pulled (`pull=False`): a Dockerfile's
  `FROM` must name a local image (simyard's base is built on demand when it is the one named).
- `image_resource(resources, ...)`: the same, once per run or worker scope.

Errors: `SandboxError` when a build fails (its message ends with the build log's last lines) or a requirement is
missing (root and debootstrap for the base image); `SandboxLost` when the daemon is unreachable.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from simyard.platform.errors import SandboxError, require
from simyard.platform.resources import Resources
from simyard.sandboxes.docker import BASE_IMAGE, _daemon_errors, docker_client

__all__ = ["BASE_IMAGE", "build_image", "ensure_base_image", "environment_tag", "image_exists", "image_resource"]

RECIPE = Path(__file__).with_name("base_image.sh")
ENV_REPOSITORY = "simyard/env"
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE | re.MULTILINE)


def _cache_dir() -> Path:
    path = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "simyard" / "images"
    path.mkdir(parents=True, exist_ok=True)
    return path


def image_exists(tag: str, client: Any = None) -> bool:
    """Whether the daemon has an image tagged `tag`. Raises `SandboxLost` when it is unreachable."""
    docker = require("docker", "docker")
    client = client or docker_client()
    with _daemon_errors(f"looking up image {tag!r}"):
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
    return True


def ensure_base_image(client: Any = None, tag: str = BASE_IMAGE) -> str:
    """`tag` (simyard's base image), built by `base_image.sh` when the daemon lacks it. Returns the tag.

    Raises:
        SandboxError: building needs root and debootstrap, or the build failed (the message says which).
        SandboxLost: the daemon is unreachable.
    """
    client = client or docker_client()
    if image_exists(tag, client):
        return tag
    env = dict(os.environ)
    base_url = getattr(getattr(client, "api", None), "base_url", "")
    if base_url.startswith("http+docker://"):
        env.pop("DOCKER_HOST", None)  # the SDK's local socket is the CLI's default too
    proc = subprocess.run(["bash", str(RECIPE), tag], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SandboxError(
            f"cannot build the base image {tag}: {proc.stderr.strip() or 'exit ' + str(proc.returncode)}",
            hint="run `bash scripts/setup.sh` as root (it installs debootstrap, starts dockerd and builds the image)"
            if proc.returncode == 3
            else "check that deb.debian.org (or $SIMYARD_DEBIAN_MIRROR) is reachable",
        )
    return tag


def environment_tag(dockerfile_text: str, context: Path | None) -> str:
    """The content-addressed tag of an environment: a hash of the Dockerfile and every file of the context."""
    digest = hashlib.sha256(dockerfile_text.encode())
    if context is not None:
        for path in sorted(p for p in Path(context).rglob("*") if ".git" not in p.relative_to(context).parts):
            if path.is_file() and not path.is_symlink():
                digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{ENV_REPOSITORY}:{digest.hexdigest()[:12]}"


def build_image(
    client: Any = None,
    *,
    dockerfile: Path | str | None = None,
    context: Path | str | None = None,
    base: str | None = None,
    setup: Sequence[str] = (),
    tag: str | None = None,
    timeout_s: float = 1800,
) -> str:
    """Build (or find, by its content tag) an environment image. Returns its tag.

    Args:
        dockerfile: A Dockerfile's path; its directory is the context unless `context` is given.
        context: The build context (files the Dockerfile copies); hashed into the tag.
        base: Instead of a Dockerfile: a local image to start from, with `setup` commands run on top (`RUN` each)
            and `/workspace` as the working directory.
        tag: A tag to use instead of the content hash (rebuilt only when missing).
        timeout_s: How long the build may take.

    Raises:
        SandboxError: neither or both of `dockerfile` and `base`, a missing Dockerfile, or a failed build.
        SandboxLost: the daemon is unreachable.
    """
    docker = require("docker", "docker")
    client = client or docker_client()
    if (dockerfile is None) == (base is None):
        raise SandboxError("give exactly one of a Dockerfile and a base image", hint="dockerfile=... or base=...")
    if dockerfile is not None:
        dockerfile = Path(dockerfile)
        if not dockerfile.is_file():
            raise SandboxError(f"no Dockerfile at {dockerfile}", hint="check the environment's path")
        text = dockerfile.read_text()
        context = Path(context) if context is not None else dockerfile.parent
    else:
        text = f"FROM {base}\n" + "".join(f"RUN {command}\n" for command in setup) + "WORKDIR /workspace\n"
        context = Path(context) if context is not None else None
    tag = tag or environment_tag(text, context)
    if image_exists(tag, client):
        return tag
    stages: set[str] = set()
    for parent, alias in _FROM.findall(text):
        if parent == BASE_IMAGE:
            ensure_base_image(client)
        elif parent.lower() != "scratch" and parent not in stages and not image_exists(parent, client):
            raise SandboxError(
                f"the image {parent!r} that {tag} starts FROM is not on this machine, and nothing is pulled",
                hint=f"build or load it first (docker load / docker import), or start FROM {BASE_IMAGE}",
            )
        if alias:
            stages.add(alias)
    lock = _cache_dir() / (re.sub(r"[^A-Za-z0-9_.-]", "_", tag) + ".lock")
    with open(lock, "w") as handle, tempfile.TemporaryDirectory(prefix="simyard-build-") as scratch:
        fcntl.flock(handle, fcntl.LOCK_EX)  # another worker building the same environment: wait, then find it
        if image_exists(tag, client):
            return tag
        build_dir = context if context is not None else Path(scratch)
        spec = Path(scratch) / "Dockerfile.simyard"
        spec.write_text(text)
        api = client.api
        log: list[str] = []
        with _daemon_errors(f"building image {tag}"):
            try:
                for chunk in api.build(
                    path=str(build_dir),
                    dockerfile=str(spec),
                    tag=tag,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    decode=True,
                    labels={"simyard.image": "1"},
                    timeout=timeout_s,
                ):
                    if "stream" in chunk:
                        log.append(chunk["stream"])
                    if "error" in chunk:
                        raise SandboxError(
                            f"building image {tag} failed: {chunk['error'].strip()}",
                            hint="the end of the build log: " + "".join(log[-8:]).strip()[-1500:],
                        )
            except docker.errors.BuildError as exc:
                raise SandboxError(f"building image {tag} failed: {exc.msg}", hint="check the Dockerfile") from exc
    return tag


def image_resource(resources: Resources, **build: Any) -> str:
    """`build_image(**build)` once per `resources` scope (a run or a worker); every later asker gets the tag."""
    key = ("docker-image", tuple(sorted((k, str(v)) for k, v in build.items())))
    return resources.shared(key, lambda: build_image(**build), close=lambda _tag: None)
