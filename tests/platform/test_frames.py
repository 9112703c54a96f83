"""Frames: policies, memoised PNG encoding, the off-thread writer (names, errors, backpressure) and videos."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from simyard.platform import frames
from simyard.platform.errors import SimyardError
from simyard.platform.frames import FramePolicy, FrameWriteError, FrameWriter


def picture(seed: int, shape: tuple[int, ...] = (24, 32, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def decode(path: Path | bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(path) if isinstance(path, bytes) else path))


# ------------------------------------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("text", "expected"),
    [("all", FramePolicy("all")), ("every:3", FramePolicy("every", 3)), (" Every:3 ", FramePolicy("every", 3)),
     ("every:1", FramePolicy("all")), ("final", FramePolicy("final")), ("none", FramePolicy("none"))],
)
def test_policy_parses_good_strings(text: str, expected: FramePolicy) -> None:
    assert FramePolicy.parse(text) == expected


@pytest.mark.parametrize("text", ["every:0", "every:x", "every:-2", "every:", "every", "sometimes", "", "all:2"])
def test_policy_refuses_bad_strings_with_a_hint(text: str) -> None:
    with pytest.raises(SimyardError) as caught:
        FramePolicy.parse(text)
    assert "\n" not in str(caught.value)
    assert "every:N" in caught.value.hint


def test_policy_text_round_trips() -> None:
    for text in ("all", "every:4", "final", "none"):
        assert str(FramePolicy.parse(text)) == text


def test_every_n_keeps_steps_0_n_2n() -> None:
    policy = FramePolicy.parse("every:3")
    assert [step for step in range(10) if policy.wants(step)] == [0, 3, 6, 9]


def test_every_n_writer_writes_only_those_steps(tmp_path: Path) -> None:
    with FrameWriter(tmp_path, "every:2") as writer:
        returned = [writer.add(step, {"rgb": picture(step)}) for step in range(5)]
    assert [bool(names) for names in returned] == [True, False, True, False, True]
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [
        "step_0000_rgb.png", "step_0002_rgb.png", "step_0004_rgb.png"]


def test_final_policy_writes_only_the_last_step_and_names_it_at_close(tmp_path: Path) -> None:
    writer = FrameWriter(tmp_path, "final")
    images = [picture(step) for step in range(4)]
    assert all(writer.add(step, {"rgb": image}) == {} for step, image in enumerate(images))
    result = writer.close()
    assert result.final == {"rgb": "frames/step_0003_rgb.png"}
    assert result.steps == {3: {"rgb": "frames/step_0003_rgb.png"}}
    assert [p.name for p in (tmp_path / "frames").iterdir()] == ["step_0003_rgb.png"]
    assert np.array_equal(decode(tmp_path / "frames/step_0003_rgb.png"), images[3])


def test_none_policy_writes_nothing(tmp_path: Path) -> None:
    with FrameWriter(tmp_path, "none") as writer:
        assert writer.add(0, {"rgb": picture(0)}) == {}
    assert not (tmp_path / "frames").exists()


# ----------------------------------------------------------------------------------------------------- encoding


@pytest.mark.parametrize("shape", [(24, 32, 3), (1, 1, 3), (7, 5), (7, 5, 4), (300, 200, 3)])
def test_png_is_lossless(shape: tuple[int, ...]) -> None:
    image = picture(1, shape)
    assert np.array_equal(decode(frames.encode_png(image)), image)


def test_png_of_a_non_contiguous_view_is_lossless() -> None:
    image = picture(2, (40, 60, 3))[::2, ::3]
    assert np.array_equal(decode(frames.encode_png(image)), image)


def test_encode_png_refuses_what_is_not_an_image() -> None:
    with pytest.raises(SimyardError, match="cannot be encoded"):
        frames.encode_png(np.zeros((4, 4, 2), dtype=np.uint8))


def test_recorder_and_data_url_share_one_encode(tmp_path: Path) -> None:
    image = picture(3)
    before = frames.encode_count()
    with FrameWriter(tmp_path) as writer:
        writer.add(0, {"rgb": image})
    url = frames.data_url(image)
    assert frames.encode_count() - before == 1
    assert url.startswith("data:image/png;base64,")
    assert (tmp_path / "frames/step_0000_rgb.png").read_bytes() == frames.encode_png(image)


def test_an_equal_but_different_array_is_encoded_again() -> None:
    image = picture(4)
    before = frames.encode_count()
    frames.encode_png(image)
    frames.encode_png(image.copy())
    assert frames.encode_count() - before == 2


def test_memo_never_answers_for_a_dead_array_whose_id_was_reused() -> None:
    first = picture(5)
    frames.encode_png(first)
    key = id(first)
    del first
    for seed in range(200):  # CPython reuses freed ids quickly; whatever lands on the old id must be encoded afresh
        other = picture(100 + seed)
        if id(other) == key:
            break
    assert np.array_equal(decode(frames.encode_png(other)), other)


def test_two_threads_asking_at_once_encode_once() -> None:
    image = picture(6, (400, 400, 3))
    before = frames.encode_count()
    out: list[bytes] = []
    threads = [threading.Thread(target=lambda: out.append(frames.encode_png(image))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert frames.encode_count() - before == 1
    assert len(set(out)) == 1


def test_save_png_writes_a_decodable_file(tmp_path: Path) -> None:
    image = picture(7)
    path = frames.save_png(image, tmp_path / "a.png")
    assert np.array_equal(decode(path), image)


# ------------------------------------------------------------------------------------------------------- writer


def test_files_hold_exactly_the_pixels_handed_over(tmp_path: Path) -> None:
    steps = [{"rgb": picture(10 + step), "topdown": picture(20 + step, (16, 16, 3))} for step in range(3)]
    with FrameWriter(tmp_path) as writer:
        names = [writer.add(step, images) for step, images in enumerate(steps)]
    assert names[1] == {"rgb": "frames/step_0001_rgb.png", "topdown": "frames/step_0001_topdown.png"}
    for step, images in enumerate(steps):
        for view, image in images.items():
            assert np.array_equal(decode(tmp_path / names[step][view]), image)


def test_close_reports_what_was_written_and_is_idempotent(tmp_path: Path) -> None:
    writer = FrameWriter(tmp_path, "all")
    writer.add(0, {"rgb": picture(0)})
    writer.add(1, {})
    first = writer.close()
    assert first.steps == {0: {"rgb": "frames/step_0000_rgb.png"}}
    assert first.last_step == 0
    assert writer.close() is first
    with pytest.raises(RuntimeError):
        writer.add(2, {"rgb": picture(2)})


def test_write_errors_surface_at_close(tmp_path: Path) -> None:
    blocker = tmp_path / "episode"
    blocker.write_text("a file where the episode directory should be")
    writer = FrameWriter(blocker)
    assert writer.add(0, {"rgb": picture(0)}) == {"rgb": "frames/step_0000_rgb.png"}  # add itself never raises
    with pytest.raises(FrameWriteError, match="were not all written") as caught:
        writer.close()
    assert caught.value.hint
    assert isinstance(caught.value.__cause__, OSError)


def test_one_episodes_error_does_not_touch_another(tmp_path: Path) -> None:
    (tmp_path / "bad").write_text("not a directory")
    bad, good = FrameWriter(tmp_path / "bad"), FrameWriter(tmp_path / "good")
    bad.add(0, {"rgb": picture(0)})
    good.add(0, {"rgb": picture(1)})
    with pytest.raises(FrameWriteError):
        bad.close()
    assert good.close().final == {"rgb": "frames/step_0000_rgb.png"}


def test_copy_images_protects_against_a_reused_buffer(tmp_path: Path) -> None:
    buffer = picture(8)
    expected = buffer.copy()
    gate = threading.Event()
    frames._get_worker().submit(gate.wait, 0)  # hold the writer thread until the buffer was overwritten
    writer = FrameWriter(tmp_path, copy_images=True)
    writer.add(0, {"rgb": buffer})
    buffer[:] = 0
    gate.set()
    writer.close()
    assert np.array_equal(decode(tmp_path / "frames/step_0000_rgb.png"), expected)


def test_a_slow_writer_blocks_add_instead_of_growing_the_queue(tmp_path: Path, monkeypatch) -> None:
    image_bytes = 24 * 32 * 3
    limit = 4 * image_bytes
    original = frames._encode

    def slow_encode(image):
        time.sleep(0.02)
        return original(image)

    monkeypatch.setattr(frames, "_encode", slow_encode)
    old_limit = frames.queue_stats().limit_bytes
    frames.set_queue_limit(limit)
    try:
        frames._get_worker().drain()
        frames.queue_stats(reset_peak=True)
        writer = FrameWriter(tmp_path)
        started = time.perf_counter()
        for step in range(20):
            writer.add(step, {"rgb": picture(step)})
            assert frames.queue_stats().pending_bytes <= limit
        elapsed = time.perf_counter() - started
        writer.close()
    finally:
        frames.set_queue_limit(old_limit)
    assert frames.queue_stats().peak_bytes <= limit
    assert elapsed > 0.02 * (20 - 4) * 0.8  # add waited for the writer: ~16 encodes' worth of time
    assert len(list((tmp_path / "frames").iterdir())) == 20  # nothing dropped


# ------------------------------------------------------------------------------------------------------- videos


def moving_square(step: int, size: tuple[int, int] = (64, 80)) -> np.ndarray:
    image = np.zeros((*size, 3), dtype=np.uint8)
    image[step * 4 : step * 4 + 16, 10:26] = (230, 40, 40)
    return image


def test_mp4_video_gets_every_step_whatever_the_png_policy(tmp_path: Path) -> None:
    if frames.video_format() != "mp4":
        pytest.skip("no ffmpeg here")
    import imageio.v2 as imageio

    with FrameWriter(tmp_path, "none", video=True) as writer:
        for step in range(12):
            writer.add(step, {"rgb": moving_square(step)})
    result = writer.close()
    assert result.videos == {"rgb": "frames/video_rgb.mp4"}
    assert result.steps == {}
    reader = imageio.get_reader(tmp_path / "frames/video_rgb.mp4", format="FFMPEG")
    try:
        assert abs(reader.count_frames() - 12) <= 1
        first = reader.get_data(0)
    finally:
        reader.close()
    assert first.shape == (64, 80, 3)
    assert np.abs(first.astype(int) - moving_square(0)).mean() < 8  # lossy, but the same picture


def test_mp4_pads_odd_sizes_and_fits_later_frames_to_the_first(tmp_path: Path) -> None:
    if frames.video_format() != "mp4":
        pytest.skip("no ffmpeg here")
    import imageio.v2 as imageio

    with FrameWriter(tmp_path, "none", video=True) as writer:
        writer.add(0, {"rgb": moving_square(0, (33, 45))})
        writer.add(1, {"rgb": moving_square(1, (50, 20))})
        writer.add(2, {"rgb": moving_square(2, (33, 45))})
    reader = imageio.get_reader(tmp_path / "frames/video_rgb.mp4", format="FFMPEG")
    try:
        shapes = {frame.shape for frame in reader}
    finally:
        reader.close()
    assert shapes == {(34, 46, 3)}


def test_gif_fallback_writes_every_frame(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(frames, "_VIDEO_FORMAT", "gif")
    images = [moving_square(step) for step in range(6)]
    with FrameWriter(tmp_path, "final", video=True) as writer:
        for step, image in enumerate(images):
            writer.add(step, {"rgb": image})
    assert writer.close().videos == {"rgb": "frames/video_rgb.gif"}
    gif = Image.open(tmp_path / "frames/video_rgb.gif")
    assert gif.n_frames == 6
    for step, image in enumerate(images):
        gif.seek(step)
        assert np.array_equal(np.asarray(gif.convert("RGB")), image)  # few colours: exact even through a palette


def test_video_errors_surface_at_close(tmp_path: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise OSError("encoder exploded")

    monkeypatch.setattr(frames, "_Mp4Sink", broken)
    monkeypatch.setattr(frames, "_GifSink", broken)
    writer = FrameWriter(tmp_path, "none", video=True)
    writer.add(0, {"rgb": moving_square(0)})
    with pytest.raises(FrameWriteError, match="encoder exploded"):
        writer.close()
