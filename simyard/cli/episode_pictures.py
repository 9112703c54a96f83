"""`episode replay --gif/--sheet`: an episode's saved frames as an animated GIF or a contact sheet (Pillow).

The frames are the PNG files the trajectory names, in step order, so whatever frame policy the run used (`all`,
`every:N`, `final`) the pictures show exactly what was kept. A contact sheet labels each tile with its step, so a
person can find the moment to fork from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simyard.cli.plots import PlotError, check_writable
from simyard.platform.errors import RunDirError
from simyard.platform.trajectory import read_trajectory

LABEL_PX = 16  # the strip under each tile of a contact sheet holding its step number


@dataclass(frozen=True, slots=True)
class EpisodeFrame:
    """One saved frame: the step it follows (0 is the reset) and its file."""

    step: int
    path: Path


def episode_frames(episode_dir: Path, view: str | None = None) -> tuple[str, list[EpisodeFrame]]:
    """The view shown and its saved frames, in step order.

    Raises:
        RunDirError: The episode kept no frames, or none of `view` (the views it has are named), or a file is gone.
    """
    by_view: dict[str, list[EpisodeFrame]] = {}
    for line in read_trajectory(episode_dir):
        index = 0 if line.get("type") == "reset" else int(line.get("index") or 0)
        for name in (line.get("observation") or {}).get("frames") or ():
            stem = Path(str(name)).stem  # step_0003_rgb
            frame_view = stem.split("_", 2)[2] if stem.count("_") >= 2 else "rgb"
            by_view.setdefault(frame_view, []).append(EpisodeFrame(index, episode_dir / str(name)))
    if not by_view:
        raise RunDirError(f"{episode_dir} kept no frames", hint="the world has no images, or the run used --frames "
                          "none; rerun with --frames all")
    if view is None:
        view = "rgb" if "rgb" in by_view else sorted(by_view)[0]
    if view not in by_view:
        raise RunDirError(f"{episode_dir} has no frames of view {view!r}",
                          hint=f"its views: {', '.join(sorted(by_view))}")
    frames = by_view[view]
    missing = [frame.path for frame in frames if not frame.path.is_file()]
    if missing:
        raise RunDirError(f"{missing[0]} is missing ({len(missing)} of {len(frames)} frames)",
                          hint="the episode's frames folder was moved or cleaned")
    return view, frames


def _load(frame: EpisodeFrame) -> Any:
    from PIL import Image

    try:
        with Image.open(frame.path) as image:
            return image.convert("RGB")
    except OSError as exc:
        raise RunDirError(f"{frame.path} is not a readable PNG ({exc})", hint="the frame file is damaged") from None


def write_gif(frames: list[EpisodeFrame], path: Path, fps: float = 2.0) -> tuple[int, int, int]:
    """An animated GIF of `frames` (looping, `fps` frames a second, each labelled with its step); (frames, width,
    height) written.

    Raises:
        PlotError: `path` cannot be written.
    """
    check_writable(path, "--gif")
    pictures = [_load(frame) for frame in frames]
    width, height = pictures[0].size
    pictures = [_labelled(picture if picture.size == (width, height) else picture.resize((width, height)),
                          frame.step) for picture, frame in zip(pictures, frames, strict=True)]
    try:
        pictures[0].save(path, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=max(20, round(1000 / fps)), loop=0, disposal=1)
    except OSError as exc:
        raise PlotError(f"--gif {path} cannot be written: {exc.strerror or exc}",
                        hint="pick a path you can write to") from None
    return len(pictures), width, height


def _labelled(picture: Any, step: int) -> Any:
    """The frame with `step N` in its top-left corner (which also keeps a step that changed nothing a frame)."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(picture)
    text = f"step {step}"
    left, top, right, bottom = draw.textbbox((4, 3), text)
    draw.rectangle((left - 3, top - 2, right + 3, bottom + 2), fill="black")
    draw.text((4, 3), text, fill="white")
    return picture


def sheet_columns(count: int) -> int:
    """Tiles per row of a contact sheet: close to square, at most 8 wide."""
    return max(1, min(8, math.ceil(math.sqrt(count))))


def write_sheet(frames: list[EpisodeFrame], path: Path, tile_px: int = 160,
                columns: int | None = None) -> tuple[int, int, int]:
    """A contact sheet: one tile per frame, `tile_px` wide, labelled `step N`; (tiles, width, height) written.

    Raises:
        PlotError: `path` cannot be written.
    """
    from PIL import Image, ImageDraw

    check_writable(path, "--sheet")
    columns = columns or sheet_columns(len(frames))
    rows = math.ceil(len(frames) / columns)
    first = _load(frames[0])
    tile_h = max(1, round(first.height * tile_px / first.width))
    sheet = Image.new("RGB", (columns * tile_px, rows * (tile_h + LABEL_PX)), "white")
    draw = ImageDraw.Draw(sheet)
    for position, frame in enumerate(frames):
        picture = first if position == 0 else _load(frame)
        x, y = (position % columns) * tile_px, (position // columns) * (tile_h + LABEL_PX)
        sheet.paste(picture.resize((tile_px, tile_h)), (x, y))
        draw.text((x + 3, y + tile_h + 2), f"step {frame.step}", fill="black")
    try:
        sheet.save(path)
    except (OSError, ValueError) as exc:
        raise PlotError(f"--sheet {path} cannot be written: {getattr(exc, 'strerror', None) or exc}",
                        hint="pick a path you can write to, ending in .png") from None
    return len(frames), sheet.width, sheet.height
