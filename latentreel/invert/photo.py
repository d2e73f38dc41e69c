"""Photo -> latent: align the face, then optimise, encode, or both ("find myself in latent space").

Steps: 1. load the photo (EXIF, alpha mask, bit depth); 2. align the face to the generator's
own landmark template (or centre-crop); 3. invert with the chosen method; 4. save the latent
with its settings and losses, cached by content so a scene never inverts the same photo twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from latentreel.errors import BadInputError
from latentreel.invert.cache import cached_inversion_path, inversion_key
from latentreel.invert.delta import WeightDelta
from latentreel.invert.objective import LossWeights
from latentreel.invert.optimize import OptimizeSettings, optimize_latents
from latentreel.invert.tune import default_settings
from latentreel.latentfile import LatentFile, load_latent, save_latent
from latentreel.models.base import Generator, refuse_conditional

METHODS = ("auto", "optimize", "encoder", "hybrid")


@dataclass(frozen=True)
class InvertSettings:
    method: str = "auto"  # auto: hybrid when a trained encoder exists, else optimize
    steps: int = 300  # Adam steps (hybrid uses a tenth of them)
    restarts: int = 8  # random starts optimised together; the best is kept
    polish_steps: int = 60  # L-BFGS iterations after Adam
    perceptual: float = 0.0  # FaceNet feature loss weight
    identity: float = 1.0  # FaceNet identity (1 - cosine) loss weight (second stage)
    facenet_steps: int = 80  # second stage with the FaceNet losses, from the best restart
    clipping: str = "stochastic"  # none | standard | stochastic
    align: bool = True  # align to the generator's landmark template (False: centre crop)
    space: str = "auto"  # z | w | w+; auto: w+ where the model has it (StyleGAN), else z
    face: int | None = None  # which face, largest first (None: the largest)
    # W/W+: noise on the latent early on (x w_std, gone by 75 % of the steps), as NVIDIA's
    # projector adds; off by default: it cost dB in `bench projector` (see README).
    w_noise: float = 0.0
    lpips: float = 0.0  # LPIPS-VGG loss weight in the second stage (needs the VGG16 weights)
    seed: int = 0
    # Pivotal tuning after the inversion (invert/tune.py): the latent file then carries a
    # small weight delta that makes its latent redraw the photo.
    tune: bool = True
    # Adam steps on the weight delta; None: the device's default by resolution, as a scene's
    # photos get (invert/tune.py default_settings), so both share one cached tuning.
    tune_steps: int | None = None

    def pivot_settings(self) -> dict:
        """What the pivot latent depends on (not the tuning): its cache key."""
        return {k: v for k, v in asdict(self).items() if k not in ("tune", "tune_steps")}


def stage_steps(steps: int) -> dict[str, int]:
    """What a user's step count means for every stage (`invert --steps`, a `photo:`
    keyframe's `steps:`): the L-BFGS polish and the FaceNet stage run their usual counts,
    and no more than ``steps`` (so one step is a quick look, not 140 hidden ones)."""
    return {"polish_steps": min(InvertSettings.polish_steps, steps),
            "facenet_steps": min(InvertSettings.facenet_steps, steps)}


@dataclass
class PhotoInversion:
    latent: torch.Tensor  # [*S]
    target: np.ndarray  # aligned crop at the generator's resolution, uint8 [R, R, 3]
    reconstruction: np.ndarray  # uint8 [R, R, 3]
    metrics: dict = field(default_factory=dict)  # psnr, identity distance, seconds, method
    path: Path | None = None  # the latent file written
    space: str = "z"  # the space ``latent`` lives in
    noise: dict[str, np.ndarray] | None = None  # fitted StyleGAN noise maps (W/W+ inversions)
    delta: WeightDelta | None = None  # pivotal tuning's weight delta (settings.tune)


def prepare_target(photo: Path, generator: Generator,
                   settings: InvertSettings) -> tuple[np.ndarray, np.ndarray | None]:
    """The aligned face crop [R, R, 3] uint8 (and its mask, from an alpha channel)."""
    from latentreel.faces.align import align_face, center_crop
    from latentreel.faces.photo import load_photo_with_mask
    from latentreel.faces.template import generator_template

    image, mask = load_photo_with_mask(photo)
    size = generator.resolution
    if not settings.align:
        crop = center_crop(image, size)
        mcrop = None if mask is None else center_crop((mask * 255).astype(np.uint8), size)
        return crop, None if mcrop is None else mcrop.astype(np.float32) / 255
    template = generator_template(generator)
    aligned = align_face(image, template, size, face_index=settings.face, source=photo)
    crop_mask = None
    if mask is not None:
        from latentreel.faces.align import warp_mask

        crop_mask = warp_mask(mask, aligned.matrix, size)
    return aligned.crop, crop_mask


def _to_tensor(img: np.ndarray, device) -> torch.Tensor:
    return (torch.from_numpy(np.array(img)).permute(2, 0, 1).float()[None] / 127.5 - 1).to(device)


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    return ((t.clamp(-1, 1)[0] + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()


def inversion_space(settings: InvertSettings, generator: Generator) -> str:
    """The space to invert in: W+ where the model has it (per-layer styles fit photos best,
    seed 004), z otherwise."""
    if settings.space == "auto":
        return "w+" if "w+" in generator.latent_spaces else "z"
    if settings.space not in generator.latent_spaces:
        raise BadInputError(f"--space {settings.space}: {generator.name} has only "
                            f"{', '.join(generator.latent_spaces)}")
    return settings.space


def resolve_method(settings: InvertSettings, generator: Generator, space: str = "z"):
    from latentreel.invert.encoder import load_encoder

    if space != "z" and settings.method == "auto":
        # W/W+ start from w_avg as NVIDIA's projector does; an encoder's z guess, mapped into
        # W, is used when asked for (--method hybrid or encoder).
        return "optimize", None
    enc = load_encoder(generator) if settings.method in ("auto", "encoder", "hybrid") else None
    method = settings.method
    if method == "auto":
        method = "hybrid" if enc is not None else "optimize"
    if method in ("encoder", "hybrid") and enc is None:
        raise BadInputError(f"--method {method}: no trained encoder for {generator.name}; "
                            "run `latentreel train-encoder` first or use --method optimize")
    return method, enc


def invert_target(generator: Generator, target: np.ndarray, settings: InvertSettings, *,
                  mask: np.ndarray | None = None, facenet=None,
                  progress: bool = True,
                  callback: Callable[[int, torch.Tensor], None] | None = None) -> PhotoInversion:
    """Invert one aligned crop [R, R, 3] uint8."""
    t0 = time.perf_counter()
    dev = generator.device
    x = _to_tensor(target, dev)
    m = None if mask is None else torch.from_numpy(mask).float()[None, None].to(dev)
    space = inversion_space(settings, generator)
    method, enc = resolve_method(settings, generator, space)
    init = None
    if enc is not None:
        with torch.no_grad():  # the encoder predicts z; W/W+ start from its mapped guess
            init = generator.to_space(enc(x), space)
    # The encoder alone fits nothing, so it keeps the model's noise ("z": no maps to fit).
    with _fitted_noise(generator, space if method != "encoder" else "z") as noise:
        if method == "encoder":
            latent = init
        else:
            latent = _optimize_two_stages(generator, x, settings, method, init, m, facenet,
                                          space, callback, progress, noise)
        with torch.no_grad():  # with the fitted noise, before the buffers are restored
            recon = generator.synthesize(latent, space)
    mse = float((recon - x).square().mean())
    metrics = {"method": method, "psnr": 10 * np.log10(4 / max(mse, 1e-12)),
               "seconds": time.perf_counter() - t0}
    if facenet is not None:
        metrics["identity_distance"] = float(facenet.distance(recon, x))
    return PhotoInversion(latent=latent[0].detach(), target=target,
                          reconstruction=_to_uint8(recon), metrics=metrics, space=space,
                          noise={k: v.cpu().numpy() for k, v in noise.items()} or None)


@contextmanager
def _fitted_noise(generator, space: str):
    """Noise buffers to fit for a W/W+ inversion of a StyleGAN model, restored afterwards so
    the fitted maps (kept in the result and the latent file) never leak into other faces.
    Yields {name: live buffer} (empty when there is nothing to fit); after the block the
    dict holds copies of the fitted maps."""
    maps = generator.noise_maps() if space != "z" else {}
    saved = {k: v.detach().clone() for k, v in maps.items()}
    fitted: dict[str, torch.Tensor] = dict(maps)
    try:
        yield fitted
    finally:
        for k, buf in maps.items():
            fitted[k] = buf.detach().clone()
            with torch.no_grad():
                buf.copy_(saved[k])


def _optimize_two_stages(generator, x, settings: InvertSettings, method: str, init, mask,
                         facenet, space: str, callback, progress: bool,
                         noise: dict | None = None) -> torch.Tensor:
    """Stage 1: pixels only, many restarts in one batch, L-BFGS polish (cheap per step).
    Stage 2: the best restart alone, with FaceNet identity/perceptual losses at a low
    learning rate (a FaceNet backward pass costs ~10x a generator one on the CPU), and the
    StyleGAN noise maps fitted too when there are any."""
    steps = settings.steps // 10 if method == "hybrid" else settings.steps
    stage1 = OptimizeSettings(steps=max(steps, 1), restarts=settings.restarts, lr=0.1,
                              clipping=settings.clipping, polish_steps=settings.polish_steps,
                              seed=settings.seed, weights=LossWeights(pixel=1.0, prior=1e-3),
                              init_noise=0.5 if init is not None else 1.0,
                              w_noise=settings.w_noise,
                              lr_hold=0.0 if space == "z" else 0.75)
    latent = optimize_latents(generator, x, stage1, space=space, init=init, mask=mask,
                              callback=callback, progress=progress).latents
    uses_facenet = facenet is not None and (settings.identity > 0 or settings.perceptual > 0)
    lpips_model = None
    if settings.lpips > 0:
        from latentreel.invert.perceptual import load_lpips

        lpips_model = load_lpips(generator.device)
    if (not uses_facenet and not noise and lpips_model is None) or settings.facenet_steps == 0:
        return latent
    stage2 = OptimizeSettings(steps=settings.facenet_steps, restarts=1, lr=0.05,
                              clipping=settings.clipping, seed=settings.seed, init_noise=0.0,
                              weights=LossWeights(pixel=1.0, prior=1e-3,
                                                  identity=settings.identity if uses_facenet
                                                  else 0.0,
                                                  perceptual=settings.perceptual if uses_facenet
                                                  else 0.0, lpips=settings.lpips))
    offset = stage1.steps
    cb = (lambda step, z: callback(offset + step, z)) if callback is not None else None
    return optimize_latents(generator, x, stage2, space=space, init=latent, mask=mask,
                            facenet=facenet if uses_facenet else None, callback=cb,
                            progress=progress, noise_maps=noise or None,
                            lpips_model=lpips_model).latents


def _noise_arrays(result: PhotoInversion) -> dict[str, np.ndarray]:
    """Fitted noise maps as extra arrays of the latent file (NVIDIA's projector drops them)."""
    return {f"noise:{k}": v for k, v in (result.noise or {}).items()}


def _from_cache(lf: LatentFile, generator: Generator) -> PhotoInversion:
    latent = torch.from_numpy(lf.latent).to(generator.device)
    with torch.no_grad():
        recon = _to_uint8(generator.synthesize(latent[None], lf.space))
    noise = {k.removeprefix("noise:"): v for k, v in lf.arrays.items() if k.startswith("noise:")}
    return PhotoInversion(latent=latent, target=lf.arrays["target"], reconstruction=recon,
                          metrics=dict(lf.meta.get("metrics", {}), cached=True),
                          space=lf.space, noise=noise or None)


def invert_photo(photo: Path, generator: Generator, settings: InvertSettings = InvertSettings(),
                 *, facenet=None, out: Path | None = None, progress: bool = True,
                 use_cache: bool = True, callback=None) -> PhotoInversion:
    """Invert a photo file; cached by (content, model, settings).

    A cache hit needs no face detection: the aligned crop is kept with the cached latent.

    Raises:
        PhotoError: unreadable photo, no face (the message names --no-align), bad --face.
    """
    refuse_conditional(generator, "photo inversion")
    from latentreel.faces.detect import MIN_FACE
    from latentreel.faces.photo import check_photo

    photo = Path(photo)
    check_photo(photo, min_side=MIN_FACE if settings.align else 0)  # before its bytes are hashed
    # "auto" is keyed as the space it resolves to: `invert` and a `photo:` keyframe (which
    # names its space) share one cached inversion.
    key = inversion_key(photo, generator.name, dict(settings.pivot_settings(),
                                                    space=inversion_space(settings, generator)))
    cached = cached_inversion_path(key)
    if use_cache and cached.is_file() and callback is None:
        result = _from_cache(load_latent(cached), generator)
    else:
        if settings.lpips > 0:  # a missing VGG16 file is found before any face detection
            from latentreel.invert.perceptual import load_lpips

            load_lpips(generator.device)
        target, mask = prepare_target(photo, generator, settings)
        result = invert_target(generator, target, settings, mask=mask, facenet=facenet,
                               progress=progress, callback=callback)
        meta = {"photo": str(photo), "settings": asdict(settings), "metrics": result.metrics,
                "cache_key": key}
        save_latent(cached, LatentFile(result.latent.cpu().numpy(), result.space,
                                       generator.name, meta,
                                       {**_noise_arrays(result), "target": result.target}))
    if settings.tune:
        result = tune_inversion(result, generator, settings, facenet=facenet, progress=progress)
    if out is not None:
        meta = {"photo": str(photo), "settings": asdict(settings), "metrics": result.metrics}
        tuned = {} if result.delta is None else {**result.delta.to_arrays(),
                                                 "target": result.target}
        result.path = save_latent(out, LatentFile(result.latent.cpu().numpy(), result.space,
                                                  generator.name, meta,
                                                  {**_noise_arrays(result), **tuned}))
    return result


def pivot_of(result: PhotoInversion, source: str = "the photo"):
    """The inversion as a tuning pivot: its latent and the aligned crop it must redraw."""
    from latentreel.invert.tune import Pivot

    target = torch.from_numpy(np.array(result.target)).permute(2, 0, 1).float() / 127.5 - 1
    return Pivot(latent=result.latent.detach(), space=result.space, target=target,
                 delta=result.delta, source=source)


def tune_inversion(result: PhotoInversion, generator: Generator, settings: InvertSettings, *,
                   facenet=None, progress: bool = True, use_cache: bool = True) -> PhotoInversion:
    """Pivotal tuning of one inversion (cached by content): the result gets the delta, the
    tuned reconstruction and its PSNR (the pivot's own stays as pivot_psnr)."""
    from latentreel.invert.delta import apply_delta
    from latentreel.invert.tuned import tuned_delta

    tune = default_settings(generator)
    if settings.tune_steps is not None:
        tune = replace(tune, steps=settings.tune_steps)
    delta, tuning = tuned_delta(generator, [pivot_of(result)], tune, progress=progress,
                                use_cache=use_cache)
    tuned = apply_delta(generator, delta)
    with torch.no_grad():
        recon = tuned.synthesize(result.latent[None].to(tuned.device), result.space)
    x = _to_tensor(result.target, tuned.device)
    mse = float((recon - x).square().mean())
    metrics = dict(result.metrics, pivot_psnr=result.metrics.get("psnr"),
                   psnr=10 * np.log10(4 / max(mse, 1e-12)),
                   tune_seconds=tuning.get("seconds"), tune_cached=tuning.get("cached", False))
    if facenet is not None:
        metrics["pivot_identity_distance"] = metrics.get("identity_distance")
        metrics["identity_distance"] = float(facenet.distance(recon, x)[0])
    return PhotoInversion(latent=result.latent, target=result.target,
                          reconstruction=_to_uint8(recon), metrics=metrics, path=result.path,
                          space=result.space, noise=result.noise, delta=delta)
