"""Long renders in complete segments that survive a crash (installations).

Frames are written as independent MP4 segments of ``segment_seconds`` each in a work folder
beside the output (``<name>.segments/``). Each segment appears only when complete (atomic
rename), so ``--resume`` after a crash or Ctrl-C skips finished segments and continues with
the next. At the end the segments are joined without re-encoding into one file, and the
work folder is removed. A manifest records the scene and settings: resuming a different
render starts afresh instead of splicing two videos: the fingerprint of the prepared scene
(render.prepared) covers everything that decides a frame's pixels.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from latentreel.latents.path import LatentPath
from latentreel.render.frames import FrameSource, encoder_cpu_share


def work_dir(output_path: Path) -> Path:
    return output_path.with_name(output_path.name + ".segments")


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


def prepare_segments(output, total: int, fingerprint: str, *, segment_seconds: float | None,
                     resume: bool, progress: bool = True) -> SegmentWork:
    """Open (or, on ``resume`` of the same render, reopen) the work folder of a render of
    ``total`` frames to ``output.path`` whose prepared scene has ``fingerprint``.

    ``segment_seconds`` None: on ``resume``, the length the interrupted render used (so
    `--resume` alone continues it), otherwise DEFAULT_SEGMENT_SECONDS.
    """
    work = work_dir(output.path)
    seg_frames = _segment_frames(work, segment_seconds, output.fps, resume)
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


def encode_segment(source: FrameSource, path: LatentPath, bounds: tuple[int, int], output,
                   space: str, dest: Path, *, batch_size: int,
                   autocast=None, bends=None) -> Iterator[int]:
    """Encode frames [start, stop) of ``path`` into ``dest``; yields frames done per batch.

    ``bends``: the scene's whole bend track [total_frames, D] (None: unbent), read by
    ``source``'s bender.

    ``dest`` appears only once the segment is complete (the writer renames atomically).
    """
    from latentreel.video.writer import FrameWriter

    start, stop = bounds
    with FrameWriter(dest, fps=output.fps, size=output.size, crf=output.crf,
                     preset=output.preset, out_width=output.frame[0]) as writer, \
            encoder_cpu_share(source, output):
        # The whole path, not a sub-path: smoothing reads frames beyond the segment's edges.
        for frames in source.batches(path, space, batch_size, autocast, start=start,
                                     stop=stop, bends=bends):
            writer.write(frames.numpy())
            yield len(frames)


def write_segmented(prepared, *, segment_seconds: float | None, resume: bool,
                    progress: bool = True) -> tuple[int, int]:
    """Render ``prepared`` (a PreparedScene) in segments and join them into its
    ``output.path``; returns the frames in the video and those rendered by this call (fewer
    after a resume)."""
    output = prepared.output
    work = prepare_segments(output, prepared.path.total_frames, prepared.fingerprint(),
                            segment_seconds=segment_seconds, resume=resume, progress=progress)
    reused = work.done_frames()
    bar = tqdm(total=work.total, initial=reused, unit="frame",
               desc=output.path.name, disable=not progress, dynamic_ncols=True)
    with bar:
        for i in work.pending():  # finished ones survived an interruption
            for n in encode_segment(prepared.source, prepared.path, work.bounds(i), output,
                                    prepared.space, work.names[i],
                                    batch_size=prepared.batch_size,
                                    autocast=prepared.autocast,
                                    bends=prepared.tracks.get("bend")):
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
