"""`latentreel bench invert`: how well and how fast latents come back from images.

1. Lipton & Tripathi's table on the embedded generator: invert G(z) from pixels alone with no
   clipping, standard clipping and stochastic clipping, and count the latents recovered to a
   mean-squared z error below 1e-1 ... 1e-5; plus variants that try harder (restarts, L-BFGS,
   the encoder's guess).
2. Methods on generated faces and on a real photo: PSNR, FaceNet identity distance, seconds
   per image for optimisation, encoder and hybrid.
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch

from latentreel.invert.objective import LossWeights, psnr
from latentreel.invert.optimize import OptimizeSettings, optimize_latents

THRESHOLDS = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5)


def recovery_row(name: str, z_true: torch.Tensor, z_found: torch.Tensor, p: torch.Tensor,
                 seconds: float) -> dict:
    err = (z_found - z_true).square().mean(1)
    cos = torch.nn.functional.cosine_similarity(z_found, z_true, dim=1)
    return {
        "variant": name,
        "recovered_pct": {f"{t:g}": float((err < t).float().mean() * 100) for t in THRESHOLDS},
        "median_z_mse": float(err.median()),
        "median_z_cosine": float(cos.median()),
        "median_psnr": float(p.median()),
        "seconds_per_image": seconds / len(z_true),
    }


def lipton_variants(steps: int) -> dict[str, OptimizeSettings]:
    pixels = LossWeights(pixel=1.0, prior=0.0)
    plain = OptimizeSettings(steps=steps, lr=0.05, restarts=1, clipping="none", weights=pixels)
    return {
        "adam, no clipping": plain,
        "adam, standard clipping": replace(plain, clipping="standard"),
        "adam, stochastic clipping": replace(plain, clipping="stochastic"),
        "adam+restarts(4)+L-BFGS(200), stochastic": replace(
            plain, clipping="stochastic", restarts=4, lr=0.1, polish_steps=200),
    }


def run_lipton(generator, *, n: int = 256, steps: int = 1000, seed: int = 123,
               encoder=None, log=print) -> list[dict]:
    z_true = torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    z_true = z_true.to(generator.device)
    with torch.no_grad():
        target = generator.synthesize(z_true)
    rows = []
    variants = lipton_variants(steps)
    if encoder is not None:
        variants["encoder guess + L-BFGS(200)"] = replace(
            variants["adam, stochastic clipping"], steps=max(1, steps // 10), restarts=1,
            polish_steps=200, lr=0.01)
    for name, settings in variants.items():
        init = encoder(target) if encoder is not None and name.startswith("encoder") else None
        t0 = time.perf_counter()
        res = optimize_latents(generator, target, settings, init=init)
        rows.append(recovery_row(name, z_true, res.latents, res.psnr, time.perf_counter() - t0))
        r = rows[-1]
        log(f"{name:45s} " + " ".join(f"{v:5.1f}%" for v in r["recovered_pct"].values())
            + f"  cos {r['median_z_cosine']:.3f}  PSNR {r['median_psnr']:.1f} dB"
            + f"  {r['seconds_per_image']:.2f} s/img")
    return rows


def run_methods(generator, facenet, encoder, *, n: int = 64, steps: int = 300, restarts: int = 8,
                polish: int = 60, seed: int = 7, log=print) -> dict:
    """Optimisation vs encoder vs hybrid on n generated faces: quality and seconds per image."""
    z_true = torch.randn(n, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        target = generator.synthesize(z_true.to(generator.device))
    px = LossWeights(pixel=1.0, prior=1e-3)
    out = {}
    plans = {"optimize": (OptimizeSettings(steps=steps, restarts=restarts, polish_steps=polish,
                                           lr=0.1, weights=px), None)}
    if encoder is not None:
        guess = encoder(target)
        plans["encoder"] = (None, guess)
        plans["hybrid"] = (OptimizeSettings(steps=max(1, steps // 10), restarts=restarts,
                                            polish_steps=polish, lr=0.02, init_noise=0.5,
                                            weights=px), guess)
    for name, (settings, init) in plans.items():
        t0 = time.perf_counter()
        if settings is None:
            latents = init
        else:
            latents = optimize_latents(generator, target, settings, init=init).latents
        seconds = (time.perf_counter() - t0) / n
        seconds += _encoder_seconds(encoder, target) if init is not None else 0
        with torch.no_grad():
            recon = generator.synthesize(latents)
        p = psnr(recon, target)
        d = facenet.distance(recon, target)
        out[name] = {"median_psnr": float(p.median()),
                     "median_identity_distance": float(d.median()),
                     "seconds_per_image": seconds,
                     "adam_steps": None if settings is None else settings.steps}
        log(f"{name:10s} PSNR {out[name]['median_psnr']:5.1f} dB  FaceNet distance "
            f"{out[name]['median_identity_distance']:.3f}  {seconds:.2f} s/img")
    return out


def _encoder_seconds(encoder, target) -> float:
    t0 = time.perf_counter()
    encoder(target)
    return (time.perf_counter() - t0) / len(target)


def run_photo(generator, facenet, photo_path, *, random_faces: int = 1000, steps: int = 300,
              log=print) -> dict:
    """A real photo: its reconstruction must be closer (FaceNet) than every random face."""
    from latentreel.invert.photo import InvertSettings, invert_photo

    t0 = time.perf_counter()
    # The inversion alone: pivotal tuning is measured by `bench tune`.
    res = invert_photo(photo_path, generator, InvertSettings(steps=steps, tune=False),
                       facenet=facenet, progress=False, use_cache=False)
    seconds = time.perf_counter() - t0
    target = torch.from_numpy(res.target.copy()).permute(2, 0, 1).float()[None] / 127.5 - 1
    target = target.to(generator.device)
    with torch.no_grad():
        recon = generator.synthesize(res.latent[None])
        d_recon = float(facenet.distance(recon, target)[0])
        z = torch.randn(random_faces, generator.z_dim, generator=torch.Generator().manual_seed(0))
        dists = torch.cat([facenet.distance(generator.synthesize(z[i:i + 100].to(generator.device)),
                                             target.expand(len(z[i:i + 100]), -1, -1, -1))
                           for i in range(0, random_faces, 100)])
    row = {"method": res.metrics["method"], "psnr": res.metrics["psnr"],
           "identity_distance": d_recon, "seconds": seconds,
           "random_faces": random_faces, "closest_random_distance": float(dists.min()),
           "closer_than_all_random": bool(d_recon < float(dists.min()))}
    log(f"photo: PSNR {row['psnr']:.1f} dB, FaceNet distance {d_recon:.3f} vs the closest of "
        f"{random_faces} random faces {row['closest_random_distance']:.3f} "
        f"({'closer' if row['closer_than_all_random'] else 'NOT closer'}), {seconds:.1f} s")
    return row


def run_invert_bench(*, model: str, n: int, steps: int, methods_n: int, photo, random_faces: int,
                     log=print) -> dict:
    """All three parts, in one run."""
    import tempfile
    from pathlib import Path

    from latentreel.bench.common import machine_info
    from latentreel.faces.facenet import load_facenet
    from latentreel.invert.encoder import load_encoder
    from latentreel.models.registry import load_generator
    from latentreel.device import pick_device

    g = load_generator(model, pick_device("auto"))
    facenet = load_facenet(device=g.device)
    enc = load_encoder(g)
    encoder = (lambda x: enc(x).detach()) if enc is not None else None
    if enc is None:
        log("no trained encoder: run `latentreel train-encoder` to add encoder and hybrid rows")
    results: dict = {"machine": machine_info(), "model": g.name}
    log(f"== recovery of {n} generated latents ({steps} Adam steps); % with z MSE below "
        + " ".join(f"{t:g}" for t in THRESHOLDS))
    results["recovery"] = run_lipton(g, n=n, steps=steps, encoder=encoder, log=log)
    log(f"== methods on {methods_n} generated faces")
    results["methods"] = run_methods(g, facenet, encoder, n=methods_n, log=log)
    with tempfile.TemporaryDirectory() as tmp:
        if photo is None:
            from PIL import Image
            from skimage import data

            photo = Path(tmp) / "astronaut.png"
            Image.fromarray(data.astronaut()).save(photo)
        log("== a real photo")
        results["photo"] = run_photo(g, facenet, photo, random_faces=random_faces, log=log)
    return results
