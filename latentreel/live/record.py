"""Recording a performance: what was shown, at the scene's fps, and a sidecar of why.

The MP4 has one frame per clock slot. A slot whose frame came late (dropped) repeats the
picture that stayed on screen, so the video runs in wall-clock time. The sidecar
``NAME.frames.json`` lists every video frame: its index, when it was shown (Unix time and
seconds since the start), where in the scene it was, the control messages applied just
before it was drawn, and (with `--listen` feeding `react:`) the live feature values its
reactions heard; `render --controls` replays it into the same frames.

The sidecar is streamed to a hidden partial file and renamed at the end (like the MP4), so
a recording of days does not hold its log in memory and a crash leaves no half file.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from latentreel.cache import partial_file
from latentreel.live.state import Control
from latentreel.render.prepared import PreparedScene
from latentreel.video.writer import FrameWriter

SIDECAR_VERSION = 1


def sidecar_path(video: Path) -> Path:
    """out.mp4 -> out.frames.json"""
    return video.with_suffix(".frames.json")


def scene_header(prepared: PreparedScene) -> dict:
    """What a replay must match: the scene's frames come from these."""
    out = prepared.output
    return {"scene": str(prepared.scene.file), "model": prepared.base.name,
            "space": prepared.space, "fps": out.fps,
            "size": out.size if out.width is None else list(out.frame),  # [W, H] when wide
            "upscale": out.upscale, "path_frames": prepared.path.total_frames,
            "autocast": str(prepared.autocast)}


class Recorder:
    """Context manager writing the shown frames and their sidecar."""

    def __init__(self, path: Path, prepared: PreparedScene, frame_shape: tuple[int, ...],
                 heard: list[int] | None = None):
        out = prepared.output
        self.path = Path(path)
        self.sidecar = sidecar_path(self.path)
        self._writer = FrameWriter(self.path, fps=out.fps, size=out.size, crf=out.crf,
                                   preset=out.preset, src_size=frame_shape[:2],
                                   out_width=out.frame[0])
        self._header = {"version": SIDECAR_VERSION, **scene_header(prepared),
                        "heard": heard or []}  # `react:` indexes fed by --listen
        self._start = time.perf_counter()
        self._last: np.ndarray | None = None
        self._next = 0  # the next video frame's index (its clock slot)
        self.frames = 0

    def __enter__(self) -> Recorder:
        self._writer.__enter__()
        self._partial = partial_file(self.sidecar)
        self._file = open(self._partial, "w", encoding="utf-8")
        head = json.dumps(self._header)[:-1]
        self._file.write(head + ', "frames": [\n')
        return self

    def add(self, frame: np.ndarray, *, slot: int, walked: int, position: float,
            shown_at: float, controls: list[Control], wall: float,
            heard: dict[str, float] | None = None) -> None:
        """Record the frame shown in clock ``slot`` (slots skipped since the last one repeat
        the last picture); it was drawn for slot ``walked`` (earlier when it came late)."""
        if self._last is None:
            self._next = slot  # the video starts with the first frame shown
        while self._next < slot:
            self._entry({"index": self.frames, "slot": self._next, "dropped": True})
            self._writer.write(self._last[None])
            self._next += 1
        entry = {"index": self.frames, "slot": slot, "walked": walked, "wall": round(wall, 6),
                 "t": round(shown_at - self._start, 6), "scene_frame": position,
                 "controls": [c.as_json() for c in controls]}
        if heard is not None:
            entry["heard"] = heard  # full precision: the replay shapes the same numbers
        self._entry(entry)
        frame = np.ascontiguousarray(frame)
        self._writer.write(frame[None])
        self._last, self._next = frame, slot + 1

    def _entry(self, entry: dict) -> None:
        self._file.write(("" if self.frames == 0 else ",\n") + json.dumps(entry))
        self.frames += 1

    def __exit__(self, *exc) -> None:
        self._file.write("\n]}\n")
        self._file.close()
        self._writer.__exit__(*exc)
        if exc[0] is None:
            self._partial.replace(self.sidecar)
        else:
            self._partial.unlink(missing_ok=True)
