"""`render --controls out.frames.json`: a recorded performance rendered again, frame for frame.

The walk is replayed, not the pictures: the sidecar's control messages (and the live
feature values `react:` entries heard) are applied before the frames they were applied to,
after the same numbers of clock slots, and each frame is drawn as the performance drew it
(live.draw). Slots the performance dropped repeat the
picture before them, as the recording does. Every frame's scene position is checked against
the recording's, so a scene edited since the performance is refused, not quietly rendered
into something else.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from latentreel.errors import BadInputError
from latentreel.live.draw import draw, live_threads
from latentreel.live.record import scene_header
from latentreel.live.session import prepare_live
from latentreel.live.state import BadControl, Control
from latentreel.scene.model import Scene
from latentreel.video.writer import FrameWriter


@dataclass(frozen=True)
class ReplayResult:
    path: Path
    frames: int  # frames in the video
    drawn: int  # of which drawn (the rest repeat a dropped slot's picture)
    seconds: float
    setup_seconds: float


def read_sidecar(path: Path) -> dict:
    """The recording's header and frames.

    Raises:
        BadInputError: missing, not JSON, or not a latentreel sidecar.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"--controls {path}: no such file; give the .frames.json that "
                            "`play --record` wrote beside its video") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BadInputError(f"--controls {path}: not a frames.json sidecar ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("frames"), list) \
            or data.get("version") != 1:
        raise BadInputError(f"--controls {path}: not a version 1 frames.json sidecar from "
                            "`latentreel play --record`")
    return data


def replay_controls(scene: Scene, sidecar: Path, out: Path, *, device: str = "auto",
                    progress: bool = True) -> ReplayResult:
    """Render the performance recorded in ``sidecar`` (of ``scene``) to ``out``.

    Raises:
        BadInputError: the sidecar is unreadable or was recorded from another scene.
    """
    t0 = time.perf_counter()
    # 1. Read the recording; prepare the scene as the performance did.
    data = read_sidecar(sidecar)
    heard = data.get("heard") or []
    size = data.get("size")  # [W, H] (an int in recordings of square frames)
    height = size[-1] if isinstance(size, list) and size else size
    prepared, walker = prepare_live(scene, size=height, upscale=data.get("upscale"),
                                    device=device, progress=progress, listen=bool(heard))
    _check_header(data, scene_header(prepared), sidecar)
    if [h.reaction.index for h in walker.reactions.heard] != heard:
        raise BadInputError(f"--controls {sidecar}: the performance heard react entries "
                            f"{heard} live, but this scene's live-fed entries differ; replay "
                            "it with the scene it was recorded from")
    setup = time.perf_counter() - t0
    # 2. Walk, apply and draw frame by frame; repeat the dropped slots' pictures.
    entries, drawn, frame, walked = data["frames"], 0, None, None
    output = prepared.output
    bar = tqdm(total=len(entries), unit="frame", desc=out.name, disable=not progress,
               dynamic_ncols=True)
    writer = FrameWriter(out, fps=output.fps, size=output.size, crf=output.crf,
                         preset=output.preset, out_width=output.frame[0])
    with bar, live_threads(prepared.source.device), writer:
        for i, entry in enumerate(entries):
            if not entry.get("dropped"):
                slots = 0 if walked is None else entry["walked"] - walked
                walker.advance(slots)
                walked = entry["walked"]
                if heard:
                    walker.hear(entry.get("heard") or {}, slots)
                _apply(walker, entry.get("controls") or [], sidecar, i)
                shot = walker.shot()
                if shot.position != entry["scene_frame"]:
                    raise BadInputError(
                        f"--controls {sidecar}: frame {i} was at scene frame "
                        f"{entry['scene_frame']} in the performance but replays at "
                        f"{shot.position}; the scene changed since it was recorded")
                frame = draw(prepared, shot)
                drawn += 1
            if frame is None:
                raise BadInputError(f"--controls {sidecar}: starts with a dropped frame")
            writer.write(frame[None])
            bar.update()
    return ReplayResult(out, len(entries), drawn, time.perf_counter() - t0, setup)


def _check_header(data: dict, header: dict, sidecar: Path) -> None:
    for key in ("model", "space", "fps", "size", "upscale", "path_frames", "autocast"):
        if data.get(key) != header[key]:
            raise BadInputError(f"--controls {sidecar}: recorded with {key} {data.get(key)!r}, "
                                f"but this scene gives {header[key]!r}; replay it with the "
                                "scene it was recorded from")


def _apply(walker, controls: list, sidecar: Path, index: int) -> None:
    for item in controls:
        if not isinstance(item, list) or not item or not isinstance(item[0], str):
            raise BadInputError(f"--controls {sidecar}: frame {index}: a control is "
                                "[ADDRESS, ARGS...], got {item!r}")
        try:
            walker.apply(Control(item[0], tuple(item[1:])))
        except BadControl as e:
            raise BadInputError(f"--controls {sidecar}: frame {index}: {item[0]} was applied "
                                f"live but is refused now ({e}); the scene changed") from None
