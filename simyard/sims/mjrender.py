"""MuJoCo offscreen rendering for worlds: the process's GL backend, one GL context per worker, images as arrays.

Any world that draws a MuJoCo model (the household scene, navigation, the Franka tabletop) renders through here:

- `choose_backend("auto" | "osmesa" | "egl" | "none")` fixes the process's OpenGL backend. It must run before
  OpenGL is first loaded, because the choice cannot be undone: MuJoCo's Python package reads `MUJOCO_GL` once, when
  `mujoco` is first imported, and its OSMesa/EGL modules set `PYOPENGL_PLATFORM`, which PyOpenGL reads once, when
  `OpenGL` is first imported; from then on every GL call in the process goes to that library. So a second,
  different backend in the same process is refused with one clear `RenderError`, never half-honoured (a process
  that first drew with OSMesa and then asks for EGL would crash in a driver, or silently keep OSMesa). `auto`
  probes EGL with plain ctypes calls (nothing global is touched) and takes it if a display initialises, else
  OSMesa. Importing `mujoco` for physics only is harmless: what is fixed is PyOpenGL's platform, and this module
  builds its GL context from `mujoco.osmesa` / `mujoco.egl` itself, whatever `MUJOCO_GL` said at import.
- `Renderer`: one GL context for the process (cheap to keep, ~0.1 s to make) and, per model, MuJoCo's `MjrContext`
  and `MjvScene` (an `MjrContext` uploads one model's meshes and textures, so a new model needs a new one; they are
  kept for the last few models, so lanes that alternate between worlds do not rebuild them). Renders are serialised
  by a lock and the context is released after each, so any thread may render.
- `renderer_for(resources, backend)`: the worker's shared `Renderer`, created once per `Resources` scope and closed
  at its teardown (with `resources=None`, a private one the caller closes).
- `View`: a camera given by position, direction and lens, and `View.project` to find where a point lands in the
  image (for drawing boxes and for tests).

Costs measured on a 2-core EPYC VM with llvmpipe (OSMesa and EGL both rasterise on the CPU there), 500x500, a
50-box model: shadow mapping is most of a frame (17 frames/s with shadows, 100 without), so `shadows` defaults off;
4x multisampling costs about 7 ms; an `MjrContext` takes 38 ms with MuJoCo's default 4096-pixel shadow map and 2 ms
with a small one (`<quality shadowsize=...>` in the model is the builder's choice); making the context current and
releasing it is 5 µs.
"""

from __future__ import annotations

import atexit
import ctypes
import math
import os
import sys
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from simyard.platform.errors import SimyardError

if TYPE_CHECKING:
    import mujoco

    from simyard.platform.resources import Resources

BACKENDS = ("auto", "osmesa", "egl", "none")

_HINT = "choose it once per process, before anything draws: render=osmesa (CPU), render=egl (GPU) or render=auto"


class RenderError(SimyardError):
    """A renderer that cannot be had: an unknown or unavailable GL backend, or a second backend in one process."""


# ------------------------------------------------------------------------------------------------------ backend

_backend_lock = threading.Lock()
_chosen: str | None = None
_gl_context_cls: Any = None


def active_backend() -> str | None:
    """The GL backend this process rendered with or committed to (`osmesa`, `egl`), or None if not chosen yet."""
    return _chosen


def choose_backend(requested: str = "auto") -> str:
    """Fix the process's GL backend and return it: `osmesa`, `egl`, or `none` (no rendering; fixes nothing).

    `auto` keeps the backend already chosen, else honours `MUJOCO_GL=osmesa|egl` from the environment, else takes
    EGL if an EGL display initialises and OSMesa otherwise.

    Raises:
        RenderError: `requested` is not a backend name; a different backend is already fixed in this process (by an
            earlier choice, or by OpenGL having been loaded for another platform); the backend's library is missing
            or, for EGL, no display initialises.
    """
    global _chosen, _gl_context_cls
    name = str(requested).strip().lower()
    if name not in BACKENDS:
        raise RenderError(f"unknown render backend {requested!r}", hint="use one of: " + ", ".join(BACKENDS))
    if name == "none":
        return "none"
    with _backend_lock:
        if name == "auto":
            name = _chosen or _auto_backend()
        if _chosen is not None:
            if _chosen != name:
                raise RenderError(
                    f"render backend {name!r} asked for, but this process already renders with {_chosen!r}",
                    hint=_HINT + "; run the other backend in another process",
                )
            return name
        platform = os.environ.get("PYOPENGL_PLATFORM", "").strip().lower()
        if platform != name and "OpenGL" in sys.modules:
            platform = platform or "its default platform"
            raise RenderError(
                f"render backend {name!r} asked for, but OpenGL was already loaded in this process for {platform!r}",
                hint=_HINT + f" (or set MUJOCO_GL={name} before starting)",
            )
        os.environ["PYOPENGL_PLATFORM"] = name
        os.environ["MUJOCO_GL"] = name  # spawned workers inherit the choice
        _gl_context_cls = _import_gl_context(name)
        _chosen = name
        return name


def _auto_backend() -> str:
    preset = os.environ.get("MUJOCO_GL", "").strip().lower()
    if preset in ("osmesa", "egl"):
        return preset
    return "egl" if egl_available() else "osmesa"


def _import_gl_context(name: str) -> Any:
    try:
        if name == "egl":
            from mujoco.egl import GLContext
        else:
            from mujoco.osmesa import GLContext
    except Exception as exc:  # noqa: BLE001 -- an ImportError, or a ctypes/PyOpenGL error from a missing library
        need = (
            "an EGL driver (libEGL, a GPU driver)"
            if name == "egl"
            else "Debian's libosmesa6 (apt-get install libosmesa6)"
        )
        raise RenderError(
            f"the {name} render backend cannot be loaded: {' '.join(str(exc).split())}",
            hint=f"install {need}, or choose another backend ({', '.join(BACKENDS)})",
        ) from exc
    return GLContext


_egl_probe: bool | None = None


def egl_available() -> bool:
    """Whether an EGL device display initialises here, asked through ctypes so no GL platform gets fixed.

    Asked once per process. The probe leaves the display initialised: EGL displays are per-process singletons, so
    terminating ours would terminate the one MuJoCo's EGL context may already be using.
    """
    global _egl_probe
    if _chosen == "egl":
        return True
    if _egl_probe is None:
        _egl_probe = _probe_egl()
    return _egl_probe


def _probe_egl() -> bool:
    try:
        lib = ctypes.CDLL("libEGL.so.1")
    except OSError:
        return False
    try:
        get_proc = lib.eglGetProcAddress
        get_proc.restype = ctypes.c_void_p
        get_proc.argtypes = [ctypes.c_char_p]
        query_address = get_proc(b"eglQueryDevicesEXT")
        display_address = get_proc(b"eglGetPlatformDisplayEXT")
        if not query_address or not display_address:
            return False
        query_devices = ctypes.CFUNCTYPE(
            ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int)
        )(query_address)
        platform_display = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)(
            display_address
        )
        lib.eglInitialize.restype = ctypes.c_uint
        lib.eglInitialize.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        devices = (ctypes.c_void_p * 16)()
        count = ctypes.c_int(0)
        if not query_devices(16, devices, ctypes.byref(count)):
            return False
        for index in range(count.value):
            display = platform_display(0x313F, devices[index], None)  # EGL_PLATFORM_DEVICE_EXT
            if not display:
                continue
            major, minor = ctypes.c_int(), ctypes.c_int()
            if lib.eglInitialize(display, ctypes.byref(major), ctypes.byref(minor)):
                return True
    except (AttributeError, OSError, ctypes.ArgumentError):
        return False
    return False


# --------------------------------------------------------------------------------------------------------- view


@dataclass(frozen=True, slots=True)
class View:
    """One picture's camera: where it is, where it looks, its lens and its size in pixels.

    Perspective by default (`fovy_deg`, the vertical field of view); orthographic when `ortho_height_m` is set (the
    height of the world the image spans, as a top-down map wants). `up` need not be exactly perpendicular to
    `forward`; it is made so.
    """

    pos: tuple[float, float, float]
    forward: tuple[float, float, float]
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    width_px: int = 500
    height_px: int = 500
    fovy_deg: float = 90.0
    ortho_height_m: float | None = None
    near_m: float = 0.05
    far_m: float = 60.0

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit (right, up, forward) vectors of the camera in world coordinates."""
        forward = np.asarray(self.forward, dtype=float)
        forward = forward / np.linalg.norm(forward)
        right = np.cross(forward, np.asarray(self.up, dtype=float))
        if np.linalg.norm(right) < 1e-9:  # looking straight along `up`: any perpendicular will do
            right = np.cross(forward, (0.0, 1.0, 0.0) if abs(forward[1]) < 0.9 else (1.0, 0.0, 0.0))
        right = right / np.linalg.norm(right)
        return right, np.cross(right, forward), forward

    def project(self, point: tuple[float, float, float] | np.ndarray) -> tuple[float, float] | None:
        """Where `point` (world coordinates) lands in the image: (column, row) in pixels, or None when it is behind
        the camera or outside the picture. Row 0 is the top of the image."""
        right, up, forward = self.basis()
        offset = np.asarray(point, dtype=float) - np.asarray(self.pos, dtype=float)
        x, y, depth = float(offset @ right), float(offset @ up), float(offset @ forward)
        if depth <= self.near_m or depth >= self.far_m:
            return None
        aspect = self.width_px / self.height_px
        if self.ortho_height_m is not None:
            half_height = self.ortho_height_m / 2
            ndc_x, ndc_y = x / (half_height * aspect), y / half_height
        else:
            tan_half = math.tan(math.radians(self.fovy_deg) / 2)
            ndc_x, ndc_y = x / (depth * tan_half * aspect), y / (depth * tan_half)
        if abs(ndc_x) > 1 or abs(ndc_y) > 1:
            return None
        return (ndc_x + 1) / 2 * self.width_px, (1 - ndc_y) / 2 * self.height_px


# ----------------------------------------------------------------------------------------------------- renderer


class _Bound:
    """What one model needs on the GL side: its MjrContext (sized for the largest picture asked) and MjvScene."""

    __slots__ = ("context", "scene", "width_px", "height_px")

    def __init__(self, context: Any, scene: Any, width_px: int, height_px: int) -> None:
        self.context = context
        self.scene = scene
        self.width_px = width_px
        self.height_px = height_px


_live: weakref.WeakSet[Renderer] = weakref.WeakSet()


@atexit.register
def _close_live() -> None:
    # Close renderers while the interpreter is whole: GL objects freed by __del__ during shutdown raise noise.
    for renderer in list(_live):
        try:
            renderer.close()
        except Exception:  # noqa: BLE001 -- mujoco's own exit hook may have ended the EGL display first
            pass


class Renderer:
    """Offscreen MuJoCo rendering into numpy arrays: one GL context, an `MjrContext` per recently used model.

    Create it in the process that uses it (a GL context cannot cross processes) and close it when done;
    `renderer_for` does both through the worker's resources. Thread-safe: renders are serialised.

    Args:
        backend: `auto`, `osmesa` or `egl` (see `choose_backend`).
        width_px, height_px: The largest picture expected; larger ones are served too, by growing a model's buffer.
        keep_models: How many models keep their `MjrContext` between renders (each holds its offscreen buffers).

    Raises:
        RenderError: The backend cannot be had (see `choose_backend`), or its GL context cannot be created.
    """

    #: Renderers created in this process (tests and benchmarks count them).
    instances = 0

    def __init__(self, backend: str = "auto", width_px: int = 500, height_px: int = 500, keep_models: int = 4) -> None:
        name = choose_backend(backend)
        if name == "none":
            raise RenderError("a Renderer cannot be made with backend 'none'", hint="skip rendering instead")
        self.backend = name
        self.width_px = width_px
        self.height_px = height_px
        self.keep_models = max(1, keep_models)
        #: MjrContexts made so far: one per model, more only when a model is evicted or outgrows its buffer.
        self.contexts_made = 0
        self._lock = threading.RLock()
        self._bound: OrderedDict[int, tuple[Any, _Bound]] = OrderedDict()
        try:
            # The window buffer is never drawn to (pictures go to MuJoCo's offscreen framebuffer), so keep it tiny:
            # OSMesa allocates it as float RGBA, 4 MB at 500x500.
            self._gl = _gl_context_cls(16, 16)
        except Exception as exc:  # noqa: BLE001 -- the GL library's own error types vary by backend
            raise RenderError(
                f"cannot create a {name} GL context: {' '.join(str(exc).split())}",
                hint="render=osmesa renders on the CPU (needs libosmesa6)" if name == "egl" else _HINT,
            ) from exc
        self._closed = False
        Renderer.instances += 1
        _live.add(self)

    def render(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        view: View,
        *,
        option: mujoco.MjvOption | None = None,
        segmentation: bool = False,
        shadows: bool = False,
    ) -> np.ndarray:
        """The picture `view` sees of `data` (whose kinematics must be current: `mj_kinematics` or `mj_forward`).

        Returns:
            A new HxWx3 uint8 array, row 0 at the top; with `segmentation`, a new HxW int32 array of geom ids
            (-1 where no geom is seen).
        """
        import mujoco

        width, height = int(view.width_px), int(view.height_px)
        rgb = np.empty((height, width, 3), dtype=np.uint8)
        with self._lock:
            if self._closed:
                raise RuntimeError("render after Renderer.close")
            self._gl.make_current()
            try:
                bound = self._bind(model, width, height)
                # The framebuffer binding is GL state, not the context's: after another model's render, it points
                # at that model's buffer.
                mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, bound.context)
                scene = bound.scene
                mujoco.mjv_updateScene(
                    model, data, option or _default_option(), None, _free_camera(), mujoco.mjtCatBit.mjCAT_ALL, scene
                )
                _aim(scene, view)
                scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = shadows and not segmentation
                scene.flags[mujoco.mjtRndFlag.mjRND_SEGMENT] = segmentation
                scene.flags[mujoco.mjtRndFlag.mjRND_IDCOLOR] = segmentation
                rect = mujoco.MjrRect(0, 0, width, height)
                mujoco.mjr_render(rect, scene, bound.context)
                mujoco.mjr_readPixels(rgb, None, rect, bound.context)
                geom_of_segment = _segment_table(scene) if segmentation else None
            finally:
                self._release()
        rgb = rgb[::-1]  # GL rows start at the bottom
        if geom_of_segment is None:
            return np.ascontiguousarray(rgb)
        segment = (
            rgb[..., 0].astype(np.int32) | (rgb[..., 1].astype(np.int32) << 8) | (rgb[..., 2].astype(np.int32) << 16)
        )
        return geom_of_segment[np.minimum(segment, len(geom_of_segment) - 1)]

    def forget(self, model: mujoco.MjModel) -> None:
        """Free the GL side of `model` now (a world whose scene is rebuilt calls this for the old model)."""
        with self._lock:
            entry = self._bound.pop(id(model), None)
            if entry is not None and not self._closed:
                try:
                    self._free(entry[1])
                finally:
                    self._release()  # else the context stays current in this thread and close() elsewhere fails

    def close(self) -> None:
        """Free every model's GL side and the GL context; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._gl.make_current()
                for _, bound in self._bound.values():
                    bound.context.free()
                self._bound.clear()
            finally:
                self._gl.free()
            _live.discard(self)

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals (the lock is held and the context current)

    def _bind(self, model: Any, width: int, height: int) -> _Bound:
        import mujoco

        key = id(model)
        entry = self._bound.get(key)
        if entry is not None and entry[1].width_px >= width and entry[1].height_px >= height:
            self._bound.move_to_end(key)
            return entry[1]
        if entry is not None:  # a bigger picture than this model's buffer: remake it at the larger size
            self._free(self._bound.pop(key)[1])
        buffer_w = max(width, self.width_px if entry is None else 0, int(model.vis.global_.offwidth))
        buffer_h = max(height, self.height_px if entry is None else 0, int(model.vis.global_.offheight))
        model.vis.global_.offwidth, model.vis.global_.offheight = buffer_w, buffer_h
        context = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_50)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, context)
        self.contexts_made += 1
        scene = mujoco.MjvScene(model, maxgeom=max(1000, 2 * model.ngeom + 200))
        bound = _Bound(context, scene, buffer_w, buffer_h)
        self._bound[key] = (model, bound)  # holding the model keeps id(model) from being reused while bound
        while len(self._bound) > self.keep_models:
            self._free(self._bound.popitem(last=False)[1][1])
        return bound

    def _free(self, bound: _Bound) -> None:
        self._gl.make_current()
        bound.context.free()

    def _release(self) -> None:
        # Leave no context current, so the next render may come from another thread (EGL refuses a context that
        # is current elsewhere).
        if self.backend == "egl":
            from mujoco import egl

            egl.EGL.eglMakeCurrent(
                egl.EGL_DISPLAY, egl.EGL.EGL_NO_SURFACE, egl.EGL.EGL_NO_SURFACE, egl.EGL.EGL_NO_CONTEXT
            )
        else:
            from OpenGL import GL, osmesa

            osmesa.OSMesaMakeCurrent(None, None, GL.GL_FLOAT, 0, 0)


def _default_option() -> Any:
    import mujoco

    return mujoco.MjvOption()


def _free_camera() -> Any:
    import mujoco

    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    return camera


def _aim(scene: Any, view: View) -> None:
    """Put the view's camera into the scene, overriding what `mjv_updateScene` derived from its free camera."""
    right, up, forward = view.basis()
    del right
    for eye in (scene.camera[0], scene.camera[1]):
        eye.pos[:] = view.pos
        eye.forward[:] = forward
        eye.up[:] = up
        eye.frustum_near = view.near_m
        eye.frustum_far = view.far_m
        eye.frustum_center = 0.0
        eye.frustum_width = 0.0  # 0: the renderer derives it from the picture's aspect ratio
        if view.ortho_height_m is not None:
            eye.orthographic = 1
            eye.frustum_top = view.ortho_height_m / 2
        else:
            eye.orthographic = 0
            eye.frustum_top = view.near_m * math.tan(math.radians(view.fovy_deg) / 2)
        eye.frustum_bottom = -eye.frustum_top
    # mjv_updateScene bakes the headlight from its own camera into the light list; point it along this view's.
    for index in range(scene.nlight):
        light = scene.lights[index]
        if light.headlight:
            light.pos[:] = view.pos
            light.dir[:] = forward


def _segment_table(scene: Any) -> np.ndarray:
    """Segment colour (segid + 1) -> geom id, -1 for the background and for decorations that are not geoms."""
    import mujoco

    table = np.full(scene.ngeom + 2, -1, dtype=np.int32)
    geom_type = int(mujoco.mjtObj.mjOBJ_GEOM)
    for index in range(scene.ngeom):
        geom = scene.geoms[index]
        if geom.segid >= 0 and geom.objtype == geom_type:
            table[geom.segid + 1] = geom.objid
    return table


#: What a world's `render` option accepts.
RENDER_OPTIONS = ("auto", "egl", "osmesa", "none")


def picture_options(render: str, resolution: Any) -> tuple[str, int]:
    """A world's `render` and `resolution` options, checked once for every MuJoCo world (at construction): one
    clear error listing what is accepted, never a failure at the first frame."""
    if render not in RENDER_OPTIONS:
        raise RenderError(f"render={render!r} is not a renderer", hint=f"use {', '.join(RENDER_OPTIONS)}")
    text = str(resolution).strip()
    if isinstance(resolution, bool) or not text.isdigit() or not 8 <= int(text) <= 4096:
        raise RenderError(f"resolution={resolution!r} is out of range", hint="a side of 8 to 4096 pixels, e.g. 500")
    return render, int(text)


def renderer_for(
    resources: Resources | None, backend: str = "auto", width_px: int = 500, height_px: int = 500
) -> Renderer | None:
    """The worker's shared `Renderer` for `backend`, or None when `backend` is `none`.

    With a `Resources` scope, the renderer is built on first request and closed when the scope closes; every later
    request in that scope gets the same one. With `resources=None`, a new private renderer that the caller closes.

    Raises:
        RenderError: As `choose_backend` and `Renderer`.
    """
    name = choose_backend(backend)
    if name == "none":
        return None
    if resources is None:
        return Renderer(name, width_px, height_px)
    return resources.shared(("simyard.mjrender", name), lambda: Renderer(name, width_px, height_px), Renderer.close)
