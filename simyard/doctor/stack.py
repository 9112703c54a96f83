"""Which GL stack draws MuJoCo frames in this process: the backend, MuJoCo's version, the GL renderer and version.

Two frames of one scene are byte-equal only when all four match, so goldens record this and the player compares
hashes only then. Asking fixes the process's GL backend (see `simyard.sims.mjrender.choose_backend`).
"""

from __future__ import annotations

from typing import Any


def gl_stack(backend: str = "auto") -> dict[str, Any]:
    """This process's GL stack: `backend`, `mujoco`, `renderer` and `version` strings.

    Raises:
        RenderError: no GL backend can be had here.
    """
    import mujoco

    from simyard.sims.mjrender import choose_backend

    name = choose_backend(backend)
    if name == "egl":
        from mujoco.egl import GLContext
    else:
        from mujoco.osmesa import GLContext
    from OpenGL import GL

    context = GLContext(16, 16)
    try:
        context.make_current()
        renderer = GL.glGetString(GL.GL_RENDERER).decode(errors="replace")
        version = GL.glGetString(GL.GL_VERSION).decode(errors="replace")
    finally:
        context.free()
    return {"backend": name, "mujoco": mujoco.__version__, "renderer": renderer, "version": version}
