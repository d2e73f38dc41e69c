"""Long renders in complete segments that survive a crash (installations).

Frames are written as independent MP4 segments of ``segment_seconds`` each in a work folder
beside the output (``<name>.segments/``). Each segment appears only when complete (atomic
rename), so ``--resume`` after a crash or Ctrl-C skips finished segments and continues with
the next. At the end the segments are joined without re-encoding into one file, and the
work folder is removed. A manifest records the scene and settings: resuming a different
render starts afresh instead of splicing two videos.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
from tqdm import tqdm

from latentreel.latents.path import LatentPath
from latentreel.render.pipeline import iter_frame_batches


def work_dir(output_path: Path) -> Path:
    return output_path.with_name(output_path.name + ".segments")


def _fingerprint(path: LatentPath, output, space: str, autocast) -> str:
    h = hashlib.sha256()
    h.update(path.keyframes.detach().cpu().numpy().tobytes())
    h.update(json.dumps([path.hold_frames, path.transition_frames, path.interpolation,
                         path.easing, path.loop, sorted(path.t_override), space,
                         output.fps, output.size, output.crf, output.preset,
                         str(autocast)]).encode())
    for i in sorted(path.t_override):
        h.update(path.t_override[i].numpy().tobytes())
    return h.hexdigest()[:24]


def write_segmented(generator, path: LatentPath, output, space: str, *, batch_size: int,
                    segment_seconds: float, resume: bool, progress: bool = True,
                    autocast=None) -> int:
    """Render ``path`` in segments and join them into ``output.path``; returns frames."""
    from latentreel.video.segments import concat_segments
    from latentreel.video.writer import FrameWriter

    seg_frames = max(1, round(segment_seconds * output.fps))
    total = path.total_frames
    starts = list(range(0, total, seg_frames))
    work = work_dir(output.path)
    manifest = {"fingerprint": _fingerprint(path, output, space, autocast),
                "segment_frames": seg_frames,
                "total_frames": total}
    if work.exists() and not (resume and _manifest_matches(work, manifest)):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "manifest.json").write_text(json.dumps(manifest))
    names = [work / f"segment_{i:05d}.mp4" for i in range(len(starts))]
    done = sum(seg_frames if i < len(starts) - 1 else total - starts[-1]
               for i, n in enumerate(names) if n.is_file())
    bar = tqdm(total=total, initial=done, unit="frame", desc=output.path.name,
               disable=not progress, dynamic_ncols=True)
    with bar:
        for start, name in zip(starts, names):
            if name.is_file():
                continue  # finished before the interruption
            sub = _SubPath(path, start, min(start + seg_frames, total))
            with FrameWriter(name, fps=output.fps, size=output.size, crf=output.crf,
                             preset=output.preset) as writer:
                for frames in iter_frame_batches(generator, sub, space, batch_size, autocast):
                    writer.write(frames.numpy())
                    bar.update(len(frames))
    concat_segments(names, output.path)
    shutil.rmtree(work)
    return total


def _manifest_matches(work: Path, manifest: dict) -> bool:
    try:
        return json.loads((work / "manifest.json").read_text()) == manifest
    except (OSError, ValueError):
        return False


class _SubPath:
    """Frames [start, stop) of a LatentPath, indexed from 0."""

    def __init__(self, path: LatentPath, start: int, stop: int):
        self.path, self.start, self.total_frames = path, start, stop - start

    def latents(self, frames: torch.Tensor) -> torch.Tensor:
        return self.path.latents(frames + self.start)
