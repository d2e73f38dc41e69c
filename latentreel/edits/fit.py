"""Finding directions: fitted to measured attributes, from example photos, or unsupervised.

- measured (InterFaceGAN): ridge regression of each attribute on z; the unit normal of the
  fitted hyperplane is the direction, and held-out R^2 says how linear the attribute is;
- photos: mean latent of positive examples minus mean latent of negative ones;
- pca (GANSpace): principal components of the first block's activations after BatchNorm and
  ReLU, carried back to z by least squares (PCA of z itself is useless: a Gaussian prior is
  isotropic; and before the ReLU the layer is linear, where PCA would just repeat SeFa);
- sefa: closed form, the top eigenvectors of W^T W for the first layer's weight W.

On StyleGAN models the same methods work in W, where the mapping network has untangled the
prior: measured and photo directions are fitted on w; PCA runs on w samples directly
(GANSpace's StyleGAN recipe); SeFa factorises the style affine weights of every synthesis
layer, which are the first linear maps applied to w.
"""

from __future__ import annotations

import numpy as np
import torch

from latentreel.edits.directions import Direction
from latentreel.errors import BadInputError
from latentreel.models.base import refuse_conditional, style_space


def ridge_direction(z: np.ndarray, y: np.ndarray, alpha: float = 1.0, holdout: float = 0.2,
                    seed: int = 0) -> tuple[np.ndarray, dict]:
    """Unit normal of a ridge fit y ~ z, with held-out R^2 (NaN rows dropped)."""
    ok = np.isfinite(y)
    z, y = z[ok].astype(np.float64), y[ok].astype(np.float64)
    idx = np.random.default_rng(seed).permutation(len(y))
    n_test = max(1, int(len(y) * holdout))
    test, train = idx[:n_test], idx[n_test:]
    zc = z[train] - z[train].mean(0)
    yc = y[train] - y[train].mean()
    w = np.linalg.solve(zc.T @ zc + alpha * np.eye(z.shape[1]), zc.T @ yc)
    pred = (z[test] - z[train].mean(0)) @ w + y[train].mean()
    r2 = 1 - ((y[test] - pred) ** 2).sum() / max(((y[test] - y[test].mean()) ** 2).sum(), 1e-12)
    return (w / np.linalg.norm(w)).astype(np.float32), {
        "r2": float(r2), "samples": int(ok.sum()), "per_unit": float(np.linalg.norm(w))}


def mapped_samples(generator, z: torch.Tensor, space: str, batch: int = 1024) -> np.ndarray:
    """Latents of ``space`` for z [n, z_dim], flattened to [n, d] (mapped in batches)."""
    if space == "z":
        return z.numpy().reshape(len(z), -1)
    with torch.no_grad():
        parts = [generator.to_space(z[i:i + batch].to(generator.device), space).cpu()
                 for i in range(0, len(z), batch)]
    return torch.cat(parts).flatten(1).numpy()


def latent_sigma(generator, space: str, unit: np.ndarray, samples: int = 4096,
                 seed: int = 0, latents: np.ndarray | None = None) -> float:
    """Standard deviation of the model's latents along ``unit``: 1 in z (an isotropic prior),
    measured on mapped samples elsewhere, so edit amounts mean the same in every space."""
    if space == "z":
        return 1.0
    if latents is None:
        z = torch.randn(samples, generator.z_dim, generator=torch.Generator().manual_seed(seed))
        latents = mapped_samples(generator, z, space)
    return float((latents.astype(np.float64) @ unit.ravel().astype(np.float64)).std())


MIN_MEASURED = 0.1  # share of faces an attribute must be measured on to be fitted


def fit_measured(generator, names, *, samples: int = 2000, seed: int = 0, facenet=None,
                 target_embedding=None, progress: bool = False, space: str | None = None,
                 skip_unmeasured: bool = False) -> list[Direction]:
    """Ridge directions for measured attributes, in ``space`` (default: w if the model has it).

    Raises:
        BadInputError: an attribute measured on under 10 % of the faces (MTCNN finds no
            faces on a model that does not draw them), unless ``skip_unmeasured``.
    """
    refuse_conditional(generator, "fitting directions")
    from latentreel.edits.attributes import sample_and_measure

    space = space or style_space(generator)
    if space not in ("z", "w"):
        raise BadInputError(f"--space {space}: directions are fitted in z or w (a w direction "
                            "also works in w+ scenes)")
    if space not in generator.latent_spaces:
        raise BadInputError(f"--space {space}: {generator.name} has no {space} space; use "
                            f"{' or '.join(generator.latent_spaces)}")
    z, values = sample_and_measure(generator, samples, names, seed=seed, facenet=facenet,
                                   target_embedding=target_embedding, progress=progress)
    latents = mapped_samples(generator, z, space)
    out = []
    for name, y in values.items():
        measured = int(np.isfinite(y).sum())
        if measured < max(10, MIN_MEASURED * len(y)):
            if skip_unmeasured:
                continue
            raise BadInputError(f"{name}: measured on only {measured} of {len(y)} generated "
                                f"faces (MTCNN found no face on the rest); this model does not "
                                "draw faces MTCNN can see, so fit brightness, skin_tone or "
                                "background instead")
        vec, stats = ridge_direction(latents, y)
        stats["sigma"] = latent_sigma(generator, space, vec, latents=latents)
        out.append(Direction(name, vec, "fitted", stats, space))
    return out


def from_latents(name: str, positive: np.ndarray, negative: np.ndarray,
                 space: str = "z") -> Direction:
    """Mean positive latent minus mean negative latent ([n, *S] each, all in ``space``)."""
    diff = positive.mean(0) - negative.mean(0)
    return Direction(name, diff, "photos", {"positive": len(positive), "negative": len(negative),
                                            "magnitude": float(np.linalg.norm(diff))}, space)


def _is_stylegan(generator) -> bool:
    return "w" in generator.latent_spaces  # a mapping network: StyleGAN2 or 3


def _first_layer(generator) -> torch.nn.Module:
    from latentreel.models.dcgan import DCGANNet

    net = generator.net
    if not isinstance(net, DCGANNet):
        raise BadInputError(f"{generator.name}: pca and sefa directions need a DCGAN or a "
                            "StyleGAN model; use `directions fit` or `from-photos` instead")
    return net.main[0]


def pca_directions(generator, k: int = 10, samples: int = 4000, seed: int = 0) -> list[Direction]:
    """GANSpace-style: PCA of first-layer activations, mapped back to z by regression
    (DCGAN), or PCA of w itself (StyleGAN)."""
    refuse_conditional(generator, "fitting directions")
    if _is_stylegan(generator):
        return _pca_w(generator, k, max(samples, 4 * generator.w_dim), seed)
    _first_layer(generator)  # the DCGAN check
    block = generator.net.main[:3]  # ConvTranspose -> BatchNorm -> ReLU
    z = torch.randn(samples, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        feats = block(z[:, :, None, None].to(generator.device)).flatten(1).cpu().double()
    feats -= feats.mean(0)  # [samples, 8192] for the DCGAN's 512 x 4 x 4 block
    # Randomised SVD for the top k only: a full SVD of [4000, 8192] takes minutes on a CPU.
    with torch.random.fork_rng(devices=[]):  # seeded, without touching the caller's RNG
        torch.manual_seed(seed)
        _, s, v = torch.svd_lowrank(feats, q=min(k + 10, *feats.shape), niter=4)
    coords = feats @ v[:, :k]  # [samples, k]
    zd = z.double()
    # The best linear z direction for each component's coordinate (GANSpace's transfer).
    w = torch.linalg.lstsq(zd, coords).solution  # [z_dim, k]
    var = s[:k] ** 2 / feats.square().sum()  # share of the total feature variance
    return [Direction(f"pc{i}", (w[:, i] / w[:, i].norm()).float().numpy(), "pca",
                      {"explained_variance": float(var[i])}) for i in range(k)]


def _pca_w(generator, k: int, samples: int, seed: int) -> list[Direction]:
    z = torch.randn(samples, generator.z_dim, generator=torch.Generator().manual_seed(seed))
    w = torch.from_numpy(mapped_samples(generator, z, "w")).double()
    evals, evecs = torch.linalg.eigh(torch.cov(w.T))  # [w_dim, w_dim]: small, exact
    order = evals.argsort(descending=True)[:k]
    total = float(evals.sum())
    return [Direction(f"pc{i}", evecs[:, j].float().numpy(), "pca",
                      {"explained_variance": float(evals[j]) / total,
                       "sigma": float(evals[j].clamp(min=0).sqrt())}, "w")
            for i, j in enumerate(order.tolist())]


def _style_weights(generator) -> torch.Tensor:
    """The affine maps w -> styles of every modulated conv, stacked: [sum channels, w_dim].

    Not toRGB's (SeFa leaves colour out), nor StyleGAN3's input affine (a 4-d pose, not
    styles)."""
    mats = [m.affine.weight.detach().double().cpu() * m.affine.weight_gain
            for name, m in generator.net.synthesis.named_modules()
            if hasattr(m, "affine") and "torgb" not in name and name != "input"
            and not getattr(m, "is_torgb", False)]
    return torch.cat(mats)


def sefa_directions(generator, k: int = 10) -> list[Direction]:
    """SeFa: eigenvectors of W^T W, W the first layer's weight as a [features, z_dim] map
    (DCGAN), or the style affine weights of all synthesis layers (StyleGAN, in w)."""
    refuse_conditional(generator, "fitting directions")
    if _is_stylegan(generator):
        m = _style_weights(generator)
        evals, evecs = torch.linalg.eigh(m.T @ m)
        order = evals.argsort(descending=True)[:k]
        total = float(evals.sum())
        found = []
        for i, j in enumerate(order.tolist()):
            vec = evecs[:, j].float().numpy()
            found.append(Direction(f"sefa{i}", vec, "sefa", {
                "eigenvalue_share": float(evals[j]) / total,
                "sigma": latent_sigma(generator, "w", vec)}, "w"))
        return found
    weight = _first_layer(generator).weight.detach().double().cpu()  # [z_dim, C, 4, 4]
    m = weight.reshape(weight.shape[0], -1).T  # feature = m @ z
    evals, evecs = torch.linalg.eigh(m.T @ m)
    order = evals.argsort(descending=True)[:k]
    total = float(evals.sum())
    return [Direction(f"sefa{i}", evecs[:, j].float().numpy(), "sefa",
                      {"eigenvalue_share": float(evals[j]) / total})
            for i, j in enumerate(order.tolist())]
