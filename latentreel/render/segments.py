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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from latentreel.latents.path import LatentPath
from latentreel.render.frames import encoder_cpu_share, iter_frame_batches


def work_dir(output_path: Path) -> Path:
    return output_path.with_name(output_path.name + ".segments")


def _fingerprint(path: LatentPath, output, space: str, autocast, tuning: str | None) -> str:
    h = hashlib.sha256()
    if tuning is not None:  # the same latents drawn by a tuned generator are other frames
        h.update(tuning.encode())
    h.update(path.keyframes.detach().cpu().numpy().tobytes())
    h.update(json.dumps([path.hold_frames, path.transition_frames, path.interpolation,
                         path.easing, path.loop, sorted(path.t_override), space,
                         output.fps, output.size, output.crf, output.preset,
                         output.upscale, output.upscale_smooth, str(autocast)]).encode())
    for i in sorted(path.t_override):
        h.update(path.t_override[i].numpy().tobytes())
    if path.camera is not None:
        h.update(path.camera.numpy().tobytes())
        h.update(json.dumps(path.turns).encode())
    return h.hexdigest()[:24]


DEFAULT_SEGMENT_SECONDS = 60.0


@dataclass(frozen=True)
class SegmentWork:
    """The work folder of a segmented render: which segments exist and where each goes."""

    folder: Path  # <output>.segments/, holding manifest.json and the finished segments
    names: list[Path]  # one file per segment, in order (present only when complete)
    segment_frames: int  # frames per segment (the last one may be shorter)
    total: int  # frames of the whole video

    def bounds(self, i: int) -> tuple[int, int]:
        """Frames [start, stop) of segment ``i``."""
        start = i * self.segment_frames
        return start, min(start + self.segment_frames, self.total)

    def pending(self) -> list[int]:
        """Indices of the segments still to render (the others survived an interruption)."""
        return [i for i, name in enumerate(self.names) if not name.is_file()]

    def done_frames(self) -> int:
        return self.total - sum(b - a for a, b in map(self.bounds, self.pending()))

    def join(self, out_path: Path) -> None:
        """Join every segment losslessly into ``out_path`` (atomically); drop the folder."""
        from latentreel.video.segments import concat_segments

        concat_segments(self.names, out_path)
        shutil.rmtree(self.folder)


def prepare_segments(path, output, space: str, *, segment_seconds: float | None,
                     resume: bool, autocast=None, progress: bool = True,
                     tuning: str | None = None) -> SegmentWork:
    """Open (or, on ``resume`` of the same render, reopen) the work folder of ``path``.

    ``tuning``: the digest of the tuned generator's weight delta (None: untuned), so a resumed
    render never splices frames of a tuned and an untuned generator.

    ``segment_seconds`` None: on ``resume``, the length the interrupted render used (so
    `--resume` alone continues it), otherwise DEFAULT_SEGMENT_SECONDS.
    """
    work = work_dir(output.path)
    fingerprint = _fingerprint(path, output, space, autocast, tuning)
    seg_frames = _segment_frames(work, segment_seconds, output.fps, resume)
    total = path.total_frames
    manifest = {"fingerprint": fingerprint, "segment_frames": seg_frames, "total_frames": total}
    if work.exists() and not (resume and _manifest_matches(work, manifest)):
        if resume and progress:
            tqdm.write(f"{work} holds segments of a different render or segment length; "
                       "starting afresh")
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "manifest.json").write_text(json.dumps(manifest))
    count = -(-total // seg_frames)
    return SegmentWork(folder=work, names=[work / f"segment_{i:05d}.mp4" for i in range(count)],
                       segment_frames=seg_frames, total=total)


def encode_segment(generator, path, bounds: tuple[int, int], output, space: str, dest: Path, *,
                   batch_size: int, autocast=None) -> Iterator[int]:
    """Encode frames [start, stop) of ``path`` into ``dest``; yields frames done per batch.

    ``dest`` appears only once the segment is complete (the writer renames atomically).
    """
    from latentreel.video.writer import FrameWriter

    start, stop = bounds
    with FrameWriter(dest, fps=output.fps, size=output.size, crf=output.crf,
                     preset=output.preset) as writer, encoder_cpu_share(generator, output):
        # The whole path, not a sub-path: smoothing reads frames beyond the segment's edges.
        for frames in iter_frame_batches(generator, path, space, batch_size, autocast,
                                         start=start, stop=stop):
            writer.write(frames.numpy())
            yield len(frames)


def write_segmented(generator, path: LatentPath, output, space: str, *, batch_size: int,
                    segment_seconds: float | None, resume: bool, progress: bool = True,
                    autocast=None, tuning: str | None = None) -> tuple[int, int]:
    """Render ``path`` in segments and join them into ``output.path``; returns the frames
    in the video and those rendered by this call (fewer after a resume).

    ``tuning``: see prepare_segments."""
    work = prepare_segments(path, output, space, segment_seconds=segment_seconds, resume=resume,
                            autocast=autocast, progress=progress, tuning=tuning)
    reused = work.done_frames()
    bar = tqdm(total=work.total, initial=reused, unit="frame",
               desc=output.path.name, disable=not progress, dynamic_ncols=True)
    with bar:
        for i in work.pending():  # finished ones survived an interruption
            for n in encode_segment(generator, path, work.bounds(i), output, space,
                                    work.names[i], batch_size=batch_size, autocast=autocast):
                bar.update(n)
    work.join(output.path)
    return work.total, work.total - reused


def _read_manifest(work: Path) -> dict | None:
    try:
        manifest = json.loads((work / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _manifest_matches(work: Path, manifest: dict) -> bool:
    return _read_manifest(work) == manifest


def _segment_frames(work: Path, segment_seconds: float | None, fps: int, resume: bool) -> int:
    if segment_seconds is None and resume:
        saved = (_read_manifest(work) or {}).get("segment_frames")
        if isinstance(saved, int) and saved > 0:
            return saved
    return max(1, round((segment_seconds or DEFAULT_SEGMENT_SECONDS) * fps))
