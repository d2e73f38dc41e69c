"""`latentreel bench tune`: pivotal tuning and the average face, today's way beside the new.

1. Photos (scikit-image's astronaut and variants made from it: rotated, off-centre, relit,
   rescaled): PSNR of the aligned crop, FaceNet distance, and the distance under dlib's face
   recogniser, which no loss sees, against the best of N random faces and the crop itself.
   "pivot" is the inversion alone (today), "tuned" adds pivotal tuning.
2. Locality: PSNR between the tuned and untuned generator on 256 seeds (one photo, and the
   joint tuning of all photos).
3. The average face: MTCNN's confidence and FaceNet centrality (today: G(0)).
4. The anti-me video's frames with a face (MTCNN, p >= 0.9): today (untuned pivot, average at
   the origin, linear moves) and now (tuned, the real average face, moves on the sphere).

(`latentreel bench tune` without --dcgan: the StyleGAN2 speed bench, bench/tune_speed.py.)
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentreel.models.base import seed_latent, to_uint8

VARIANTS = ("astronaut", "rotated", "off-centre", "relit", "rescaled")


def make_photos(folder: Path, names=VARIANTS) -> dict[str, Path]:
    """The astronaut and variants of her photo, written to ``folder``."""
    from skimage import data

    base = Image.fromarray(data.astronaut())
    made = {
        "astronaut": base,
        "rotated": base.rotate(15, resample=Image.BICUBIC, fillcolor=(40, 40, 40)),
        "off-centre": base.transform(base.size, Image.AFFINE, (1, 0, -90, 0, 1, 40),
                                     fillcolor=(40, 40, 40)),
        "relit": Image.fromarray(np.clip(255 * (np.asarray(base) / 255) ** 1.6
                                         * np.array([1.1, 0.95, 0.8]), 0, 255).astype(np.uint8)),
        "rescaled": base.resize((200, 200), Image.LANCZOS),
    }
    paths = {}
    for name in names:
        paths[name] = folder / f"{name}.png"
        made[name].save(paths[name])
    return paths


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255 ** 2 / max(mse, 1e-12)))


def _images(g, z: torch.Tensor, batch: int = 100) -> np.ndarray:
    with torch.no_grad():
        return np.concatenate([to_uint8(g.synthesize(z[i:i + batch].to(g.device))).cpu().numpy()
                               for i in range(0, len(z), batch)])


def _seeds(n: int, z_dim: int, first: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.stack([seed_latent(first + i, z_dim) for i in range(n)]))


def face_probs(images: np.ndarray) -> np.ndarray:
    """MTCNN's best confidence per uint8 image [N, R, R, 3] (upscaled to 160 px, as FaceNet)."""
    from latentreel.faces.detect import detect_faces_batch

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=160, mode="bilinear", align_corners=False)
    up = x.round().clamp(0, 255).byte().permute(0, 2, 3, 1).contiguous().numpy()
    out = []
    for i in range(0, len(up), 64):
        for faces in detect_faces_batch(up[i:i + 64], min_prob=0.0, min_face=40):
            out.append(max((f.prob for f in faces), default=0.0))
    return np.array(out)


def photo_row(g, facenet, rec, photo: Path, settings, random_emb: np.ndarray, out: Path,
              log) -> tuple[dict, object, object]:
    """Pivot and tuned figures for one photo; returns (row, the pivot, the tuned inversion)."""
    from dataclasses import replace

    from latentreel.faces.photo import load_photo
    from latentreel.invert.photo import invert_photo, tune_inversion

    t0 = time.perf_counter()
    pivot = invert_photo(photo, g, replace(settings, tune=False), facenet=facenet,
                         progress=False)
    pivot_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tuned = tune_inversion(pivot, g, settings, facenet=facenet, progress=False,
                           use_cache=False)  # timed: never a cache hit
    tune_s = time.perf_counter() - t0
    from latentreel.latentfile import LatentFile, save_latent

    tuned.path = save_latent(out, LatentFile(tuned.latent.cpu().numpy(), tuned.space, g.name, {},
                                             {**tuned.delta.to_arrays(), "target": tuned.target}))
    ref = rec.embed(load_photo(photo))
    dist = lambda im: float(np.linalg.norm(rec.embed(im) - ref))  # noqa: E731
    x = torch.from_numpy(pivot.target.copy()).permute(2, 0, 1)[None]
    fn = lambda im: float(facenet.distance(torch.from_numpy(im.copy()).permute(2, 0, 1)[None],  # noqa: E731
                                           x)[0])
    best_random = float(np.linalg.norm(random_emb - ref, axis=1).min())
    row = {"crop_dlib": dist(pivot.target), "best_random_dlib": best_random,
           "pivot_seconds": pivot_s, "tune_seconds": tune_s}
    for name, res in (("pivot", pivot), ("tuned", tuned)):
        row[name] = {"psnr": _psnr(res.reconstruction, res.target),
                     "facenet": fn(res.reconstruction), "dlib": dist(res.reconstruction)}
    row["target_dlib"] = (row["crop_dlib"] + best_random) / 2  # half-way: the aim
    log(f"{photo.stem:10s} PSNR {row['pivot']['psnr']:5.1f} -> {row['tuned']['psnr']:5.1f} dB"
        f"  FaceNet {row['pivot']['facenet']:.3f} -> {row['tuned']['facenet']:.3f}"
        f"  dlib {row['pivot']['dlib']:.3f} -> {row['tuned']['dlib']:.3f}"
        f" (best random {best_random:.3f}, crop {row['crop_dlib']:.3f})"
        f"  tune {tune_s:.1f} s")
    return row, pivot, tuned


def tune_picture(g, names: list[str], pivots: list, tuned: list, out: Path,
                 seeds: int = 2) -> Path:
    """A row per photo: its aligned crop, the pivot alone (today), the tuned reconstruction,
    the average face and the anti-face it moves to (the anti-me scene's keyframes), then seeds
    drawn by the untuned and the tuned generator (they should not differ)."""
    from latentreel.invert.delta import apply_delta
    from latentreel.models.base import truncate
    from latentreel.video.sheet import contact_sheet, save_png

    mean = g.mean_latent("z").cpu()
    z_seeds = _seeds(seeds, g.z_dim, first=1000)
    cells, labels = [], []
    for pivot, res in zip(pivots, tuned):
        tg = apply_delta(g, res.delta)
        z = res.latent.cpu()
        moved = torch.stack([truncate(z, mean, psi, "z") for psi in (0.0, -1.0)])
        cells += [res.target, pivot.reconstruction, res.reconstruction, *_images(tg, moved)]
        labels += ["photo crop", f"pivot {_psnr(pivot.reconstruction, res.target):.1f} dB",
                   f"tuned {_psnr(res.reconstruction, res.target):.1f} dB", "average", "anti"]
        for s, before, after in zip(range(1000, 1000 + seeds), _images(g, z_seeds),
                                    _images(tg, z_seeds)):
            cells += [before, after]
            labels += [f"seed {s}", f"tuned {_psnr(before, after):.1f} dB"]
    sheet = contact_sheet(np.stack(cells), labels, cols=5 + 2 * seeds, cell=96,
                          row_labels=names,
                          title="pivotal tuning on the DCGAN: photo, pivot, tuned, its average "
                                "and anti-face; seeds before and after")
    return save_png(sheet, out)


def locality(g, tuned_g, n: int = 256) -> dict:
    """PSNR of the tuned generator's seeds against the untuned ones."""
    z = _seeds(n, g.z_dim)
    a, b = _images(g, z), _images(tuned_g, z)
    p = np.array([_psnr(x, y) for x, y in zip(a, b)])
    return {"median_psnr": float(np.median(p)), "worst_psnr": float(p.min()), "seeds": n}


def average_face(g, facenet, n: int = 1000) -> dict:
    """MTCNN confidence and FaceNet centrality (share of n random faces further from their
    mean embedding) of today's average (G(0)) and the new one."""
    from latentreel.edits.average import face_embeddings

    emb = face_embeddings(g, facenet, _seeds(n, g.z_dim))  # seeds 0..: not the defining ones
    centre = emb.mean(0)
    dist = (emb - centre).norm(dim=1)
    out = {}
    for name, z in (("today", torch.zeros(g.z_dim)), ("now", g.mean_latent("z").cpu())):
        own = float((face_embeddings(g, facenet, z[None]) - centre).norm())
        out[name] = {"mtcnn_p": float(face_probs(_images(g, z[None]))[0]),
                     "centrality": float((dist > own).float().mean())}
    return out


ANTI_ME = """
output: {{path: anti-me.mp4, fps: 30, size: 64}}
defaults: {{hold: 1.0, transition: 2.5, interpolation: {interp}, easing: ease-in-out}}
keyframes:
  - {{latent: {latent}, name: me}}
  - {{anti: {{of: me, psi: 0}}}}
  - {{anti: {{of: me, psi: -1}}}}
"""


def anti_me_face_rate(g, tuned_file: Path, folder: Path) -> dict:
    """Frames of the anti-me scene with a face: today's way and the new one."""
    from latentreel.latentfile import load_latent
    from latentreel.render.frames import FrameSource
    from latentreel.render.prepared import prepare_scene
    from latentreel.render.schedule import build_path
    from latentreel.scene import load_scene

    out = {}
    for name, interp in (("today", "linear"), ("now", "slerp")):
        path = folder / f"anti-me-{name}.yaml"
        path.write_text(ANTI_ME.format(interp=interp, latent=tuned_file))
        scene = load_scene(path)
        prepared = prepare_scene(scene, generator=g, batch_size=64, progress=False)
        source, lp = prepared.source, prepared.path
        if name == "today":  # untuned, the average at the origin, straight moves
            z = torch.from_numpy(load_latent(tuned_file).latent)
            source = FrameSource(g)
            lp = build_path(prepared.keyframes, torch.stack([z, 0 * z, -z]), scene.output.fps,
                            scene.loop)
        frames = np.concatenate([f.numpy() for f in source.batches(lp, "z", 64)])
        probs = face_probs(frames)
        out[name] = {"frames": len(frames), "face_rate": float((probs >= 0.9).mean())}
    return out


def run_tune_bench(*, photos: int = 5, steps: int = 300, tune_steps: int = 300,
                   random_faces: int = 1000, average_faces: int = 1000,
                   facenet_steps: int = 80, restarts: int = 8,
                   picture: Path | None = None, log=print,
                   results: dict | None = None) -> dict:
    """Every part, in one run, on the embedded DCGAN (CPU). ``results`` is filled as the
    parts finish (so a caller can save what there is if a late part fails)."""
    from latentreel.bench.common import machine_info
    from latentreel.faces.dlib_rec import DlibRecognizer
    from latentreel.faces.facenet import load_facenet
    from latentreel.invert.photo import InvertSettings, pivot_of
    from latentreel.invert.tuned import tuned_for_pivots
    from latentreel.models.registry import load_generator

    g = load_generator("dcgan-digiface", "cpu")
    facenet, rec = load_facenet(), DlibRecognizer()
    settings = InvertSettings(steps=steps, tune_steps=tune_steps, facenet_steps=facenet_steps,
                              restarts=restarts)
    results = {} if results is None else results
    results.update({"machine": machine_info(), "invert_steps": steps, "tune_steps": tune_steps,
                    "invert_restarts": restarts, "facenet_steps": facenet_steps})
    log(f"== {random_faces} random faces under dlib")
    random_emb = rec.embed_many(_images(g, _seeds(random_faces, g.z_dim)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        log(f"== photos: pivot -> tuned ({steps} inversion steps, {tune_steps} tuning steps)")
        rows, pivots, tuned = {}, [], []
        for name, photo in make_photos(folder, VARIANTS[:photos]).items():
            rows[name], pivot, res = photo_row(g, facenet, rec, photo, settings, random_emb,
                                               folder / f"{name}.npz", log)
            pivots.append(pivot)
            tuned.append(res)
        if picture is not None:
            log(f"wrote {tune_picture(g, list(rows), pivots, tuned, picture)}")
        results["photos"] = rows
        log("== anti-me video: frames with a face (MTCNN p >= 0.9)")
        results["anti_me"] = anti_me_face_rate(g, tuned[0].path, folder)
        for k, v in results["anti_me"].items():
            log(f"{k:6s} {100 * v['face_rate']:.1f} % of {v['frames']} frames")
        log("== locality on 256 seeds (each photo's tuned generator vs the untuned one)")
        results["locality"] = {}
        for name, res in zip(rows, tuned):
            results["locality"][name] = locality(g, tuned_for_pivots(g, [pivot_of(res)])[0])
            _log_locality(name, results["locality"][name], log)
        log(f"== the average face (centrality among {average_faces} random faces)")
        results["average_face"] = average_face(g, facenet, average_faces)
        for k, v in results["average_face"].items():
            log(f"{k:6s} MTCNN p {v['mtcnn_p']:.3f}, closer to the centre than "
                f"{100 * v['centrality']:.1f} % of faces")
        if len(tuned) > 1:
            several = tuned[::2]  # astronaut, off-centre, rescaled: three pivots at once
            log(f"== joint tuning of {len(several)} photos: locality and each photo's PSNR")
            joint, _ = tuned_for_pivots(g, [pivot_of(t) for t in several],
                                        settings=_tune_settings(tune_steps))
            results["locality"]["joint"] = locality(g, joint)
            results["joint_psnr"] = [_psnr(_images(joint, t.latent[None].cpu())[0], t.target)
                                     for t in several]
            _log_locality("joint", results["locality"]["joint"], log)
            log("joint PSNR " + ", ".join(f"{p:.1f}" for p in results["joint_psnr"]) + " dB")
    results["targets"] = targets(results)
    log("== the issue's targets")
    for name, (value, ok) in results["targets"].items():
        log(f"{'met ' if ok else 'MISS'} {name}: {value}")
    return results


def targets(r: dict) -> dict[str, tuple[str, bool]]:
    """Each target of the issue: (the figure, met?)."""
    photos, out = r["photos"], {}
    psnr = min(v["tuned"]["psnr"] for v in photos.values())
    out["PSNR >= 30 dB on every photo"] = (f"worst {psnr:.1f} dB", psnr >= 30)
    beats = all(v["tuned"]["dlib"] < v["best_random_dlib"] for v in photos.values())
    mean = float(np.mean([v["tuned"]["dlib"] for v in photos.values()]))
    half = float(np.mean([v["target_dlib"] for v in photos.values()]))
    out["dlib: every photo closer than all random faces"] = ("yes" if beats else "no", beats)
    out["dlib: mean at least half-way"] = (f"{mean:.3f} (half-way {half:.3f})", mean <= half)
    single = {k: v for k, v in r["locality"].items() if k != "joint"}
    med = min(v["median_psnr"] for v in single.values())
    worst = min(v["worst_psnr"] for v in single.values())
    out["locality median >= 35 dB"] = (f"lowest median {med:.1f} dB", med >= 35)
    out["locality worst >= 28 dB"] = (f"worst {worst:.1f} dB", worst >= 28)
    avg = r["average_face"]["now"]
    out["average face MTCNN p >= 0.9"] = (f"{avg['mtcnn_p']:.3f}", avg["mtcnn_p"] >= 0.9)
    out["average face more central than 95 %"] = (f"{100 * avg['centrality']:.1f} %",
                                                  avg["centrality"] >= 0.95)
    rate = r["anti_me"]["now"]["face_rate"]
    out["anti-me frames with a face >= 95 %"] = (f"{100 * rate:.1f} %", rate >= 0.95)
    secs = max(v["tune_seconds"] for v in photos.values())
    out["tuning one photo <= 60 s"] = (f"slowest {secs:.1f} s", secs <= 60)
    return out


def _log_locality(name: str, v: dict, log) -> None:
    log(f"{name:10s} median {v['median_psnr']:.1f} dB, worst {v['worst_psnr']:.1f} dB")


def _tune_settings(steps: int):
    from latentreel.invert.tune import TuneSettings

    return TuneSettings(steps=steps)
