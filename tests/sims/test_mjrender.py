"""Offscreen MuJoCo rendering: backend choice (and refusal of a second one), the shared renderer, views."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from simyard.platform.resources import Resources
from simyard.sims import mjrender
from simyard.sims.mjrender import Renderer, RenderError, View, renderer_for


def backend() -> str:
    """The process's backend: whatever an earlier test fixed (asked at test time), else OSMesa (CPU, everywhere)."""
    return mjrender.active_backend() or "osmesa"


BOXES = """
<mujoco>
  <visual><quality shadowsize="256"/></visual>
  <worldbody>
    <light pos="0 0 5" dir="0 0 -1"/>
    <geom type="plane" size="5 5 .1" rgba=".8 .8 .8 1"/>
    <body name="red" mocap="true" pos="1 0 .5"><geom type="box" size=".2 .2 .2" rgba="1 0 0 1"/></body>
  </worldbody>
</mujoco>
"""


def _model():
    import mujoco

    model = mujoco.MjModel.from_xml_string(BOXES)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return model, data


@pytest.fixture(scope="module")
def renderer():
    with Renderer(backend()) as shared:
        yield shared


FRONT = View(pos=(-1.0, 0.0, 0.5), forward=(1.0, 0.0, 0.0), width_px=200, height_px=150, fovy_deg=60.0)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter, where no GL backend is fixed yet."""
    environment = {key: value for key, value in os.environ.items() if key not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=120)


def test_unknown_backend_is_refused_with_the_choices():
    with pytest.raises(RenderError, match="unknown render backend 'vulkan'") as caught:
        mjrender.choose_backend("vulkan")
    assert "osmesa" in caught.value.hint


def test_a_second_backend_in_one_process_is_refused():
    fixed = backend()
    assert mjrender.choose_backend(fixed) == fixed
    other = "egl" if fixed == "osmesa" else "osmesa"
    with pytest.raises(RenderError, match=f"already renders with '{fixed}'"):
        mjrender.choose_backend(other)
    assert mjrender.choose_backend("auto") == fixed


def test_none_backend_gives_no_renderer():
    assert renderer_for(Resources(), "none") is None


_EGL_RENDER = """
from simyard.sims.mjrender import Renderer, RenderError
try:
    Renderer("egl").close()
    print("rendered")
except RenderError as error:
    print("ERROR", error)
"""


def test_egl_without_an_egl_driver_gives_one_clear_error():
    # glvnd finds no vendor library here, as on a machine without EGL; the real driver is not touched.
    result = _run(_EGL_RENDER, __EGL_VENDOR_LIBRARY_FILENAMES="/nonexistent/egl_vendor.json")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert line.startswith("ERROR cannot create a egl GL context"), line
    assert "render=osmesa" in line and "\n" not in line


def test_auto_falls_back_to_osmesa_without_egl():
    code = "from simyard.sims import mjrender; print(mjrender.choose_backend('auto'))"
    result = _run(code, __EGL_VENDOR_LIBRARY_FILENAMES="/nonexistent/egl_vendor.json")
    assert result.stdout.strip() == "osmesa", result.stderr


def test_egl_renders_where_egl_works():
    if not mjrender.egl_available():
        pytest.skip("no EGL display initialises on this machine")
    assert _run(_EGL_RENDER).stdout.strip() == "rendered"


_EGL_FORGET_ON_A_LANE_THEN_CLOSE = """
import threading
import mujoco
from simyard.sims.mjrender import Renderer, View
model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom type='box' size='.1 .1 .1'/></worldbody></mujoco>")
data = mujoco.MjData(model)
renderer = Renderer("egl", 64, 64)
view = View(pos=(-1.0, 0.0, 0.3), forward=(1.0, 0.0, 0.0), width_px=64, height_px=64)
def lane():  # a world on its lane thread renders, then drops its old model (a scene rebuilt, a world closed)
    renderer.render(model, data, view)
    renderer.forget(model)
thread = threading.Thread(target=lane)
thread.start()
thread.join()
renderer.close()  # the worker's resources close on the main thread
print("closed")
"""


def test_a_renderer_closes_on_another_thread_after_a_lane_forgot_a_model():
    # EGL refuses a context that is current in another thread: forget() must leave none current, or every bench
    # worker printed an EGL traceback when its resources closed.
    if not mjrender.egl_available():
        pytest.skip("no EGL display initialises on this machine")
    result = _run(_EGL_FORGET_ON_A_LANE_THEN_CLOSE)
    assert result.stdout.strip() == "closed" and "Traceback" not in result.stderr, result.stderr


def test_the_renderer_is_created_once_per_resources_scope():
    before = Renderer.instances
    with Resources("worker") as resources:
        first = renderer_for(resources, backend())
        second = renderer_for(resources, "auto")
        assert first is second
        assert Renderer.instances == before + 1
    with pytest.raises(RuntimeError, match="after Renderer.close"):
        first.render(*_model(), FRONT)
    with Resources("worker") as resources:
        assert renderer_for(resources, backend()) is not first
    assert Renderer.instances == before + 2


def test_image_is_uint8_rgb_with_the_box_where_the_view_projects_it(renderer):
    model, data = _model()
    image = renderer.render(model, data, FRONT)
    assert image.shape == (150, 200, 3) and image.dtype == np.uint8
    column, row = FRONT.project((0.8, 0.0, 0.5))  # the middle of the box's front face
    red, green, blue = image[int(row), int(column)].astype(int)
    assert red > 3 * max(green, blue, 10)
    # The face's corners project onto the edge of the red patch.
    pixels = image.astype(int)
    rows, columns = np.nonzero((pixels[..., 0] > 3 * pixels[..., 1] + 10) & (pixels[..., 0] > 30))
    left, top = FRONT.project((0.8, 0.2, 0.7))
    right, bottom = FRONT.project((0.8, -0.2, 0.3))
    assert abs(columns.min() - left) <= 2 and abs(columns.max() - right) <= 2
    assert abs(rows.min() - top) <= 2 and abs(rows.max() - bottom) <= 2


def test_orthographic_view_puts_world_points_where_project_says(renderer):
    model, data = _model()
    top = View((0.0, 0.0, 10.0), (0.0, 0.0, -1.0), (0.0, 1.0, 0.0), 120, 120, ortho_height_m=4.0, near_m=1.0)
    image = renderer.render(model, data, top)
    column, row = top.project((1.0, 0.0, 0.7))
    assert (column, row) == (90.0, 60.0)  # +x is to the right, 1 m of 4 m across 120 px
    red, green, _ = image[60, 90].astype(int)
    assert red > 3 * green + 10


def test_segmentation_gives_geom_ids_and_minus_one_for_nothing(renderer):
    model, data = _model()
    segments = renderer.render(model, data, FRONT, segmentation=True)
    assert segments.shape == (150, 200) and segments.dtype == np.int32
    column, row = FRONT.project((0.8, 0.0, 0.5))
    assert segments[int(row), int(column)] == model.body("red").geomadr[0]
    assert segments[0, 0] == -1  # sky above the plane's far edge
    assert set(np.unique(segments)) <= {-1, 0, 1}


def test_one_context_per_model_while_it_is_kept(renderer):
    model, data = _model()
    made = renderer.contexts_made
    first = renderer.render(model, data, FRONT)
    second = renderer.render(model, data, FRONT)
    assert renderer.contexts_made == made + 1
    assert first.tobytes() == second.tobytes()
    other, other_data = _model()
    renderer.render(other, other_data, FRONT)
    assert renderer.contexts_made == made + 2
    again = renderer.render(model, data, FRONT)  # into its own buffer, not the other model's
    assert again.tobytes() == first.tobytes()
    renderer.forget(other)
    renderer.render(model, data, FRONT)
    assert renderer.contexts_made == made + 2


def test_renders_from_another_thread(renderer):
    model, data = _model()
    here = renderer.render(model, data, FRONT)
    there: list[np.ndarray] = []
    worker = threading.Thread(target=lambda: there.append(renderer.render(model, data, FRONT)))
    worker.start()
    worker.join()
    assert there[0].tobytes() == here.tobytes()


@pytest.mark.parametrize("world", ["household", "rearrange", "navigation", "manipulation"])
@pytest.mark.parametrize(
    "options", [{"render": "vulkan"}, {"resolution": 4}, {"resolution": 12.5}, {"resolution": True}]
)
def test_every_mujoco_world_refuses_bad_picture_options_the_same_way(world, options):
    from simyard.platform import registry

    with pytest.raises(mjrender.RenderError, match="is not a renderer|is out of range"):
        registry.make(world, **{"render": "none", **options})
