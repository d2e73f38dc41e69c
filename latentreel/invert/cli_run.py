"""The `invert` command's work, as a library function (load, invert, write pictures)."""

from __future__ import annotations

from pathlib import Path

from latentreel.errors import BadInputError
from latentreel.invert.photo import (
    METHODS,
    InvertSettings,
    inversion_space,
    invert_photo,
    prepare_target,
    stage_steps,
)


def run_invert(photo: Path, out: Path, *, model: str, method: str, steps: int, restarts: int,
               align: bool, face: int | None, video: Path | None, identity: float,
               device: str, progress: bool, space: str = "auto", w_noise: float = 0.0,
               lpips: float = 0.0, tune: bool = True, tune_steps: int | None = None):
    """Invert ``photo`` to ``out``; returns (PhotoInversion, comparison PNG path)."""
    from latentreel.faces.facenet import load_facenet
    from latentreel.faces.detect import MIN_FACE
    from latentreel.faces.photo import check_photo, load_photo
    from latentreel.invert.video import ProgressVideo, comparison_png
    from latentreel.models.registry import load_generator
    from latentreel.device import pick_device

    if method not in METHODS:
        raise BadInputError(f"--method {method}: use one of {', '.join(METHODS)}")
    check_photo(photo, min_side=MIN_FACE if align else 0)  # before any model loads
    g = load_generator(model, pick_device(device))
    settings = InvertSettings(method=method, steps=steps, restarts=restarts, align=align,
                              face=face, identity=identity, space=space, w_noise=w_noise,
                              lpips=lpips, tune=tune, tune_steps=tune_steps,
                              **stage_steps(steps))
    facenet = load_facenet(device=g.device)
    callback = None
    if video is not None:
        target, _ = prepare_target(photo, g, settings)
        callback = ProgressVideo(g, target, video, space=inversion_space(settings, g))
    result = invert_photo(photo, g, settings, facenet=facenet, out=out, progress=progress,
                          callback=callback)
    if callback is not None and callback.frames:
        callback.write()
    png = Path(out).with_suffix(".png")
    comparison_png(load_photo(photo), result.target, result.reconstruction, png, result.metrics)
    return result, png
