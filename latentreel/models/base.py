"""The generator contract every backend implements (the DCGAN, StyleGAN2, StyleGAN3).

Latent shapes by space:
    "z":  [N, z_dim]            drawn from N(0, I)
    "w":  [N, w_dim]            StyleGAN's intermediate latent (mapping(z))
    "w+": [N, num_ws, w_dim]    one w per synthesis layer
Images come out as float tensors [N, 3, H, W] in [-1, 1] on the backend's device.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from latentreel.errors import BadInputError
from latentreel.latents.truncation import linear_truncate, sphere_truncate


@runtime_checkable
class Generator(Protocol):
    name: str  # registry name, e.g. "dcgan-digiface"
    z_dim: int  # size of the input noise vector
    latent_spaces: tuple[str, ...]  # spaces synthesize() accepts, e.g. ("z",) or ("z", "w", "w+")
    resolution: int  # output height == width in pixels
    device: torch.device
    has_camera: bool  # synthesize() takes a camera (StyleGAN3's input transform)
    # Every convolution runs its parameter as stored (StyleGAN2 modulates the activations
    # around it; StyleGAN3 rescales each weight first): pivotal tuning's curvature penalty
    # sees such a weight's inputs (invert/curvature.py), others only through its diagonal.
    raw_conv_weights: bool
    c_dim: int  # class-label size of a conditional generator; 0 = unconditional
    net: nn.Module  # the whole network, as loaded (fingerprints, fitting directions)
    # Pixels the picture grows by on each side per cell added around the first feature map
    # (`fit: extend`, see models/extend.py); None: this backend cannot paint a wider canvas.
    extend_step: int | None

    def latent_shape(self, space: str) -> tuple[int, ...]:
        """Shape of ONE latent in ``space`` (no batch dimension)."""
        ...

    def mean_latent(self, space: str) -> torch.Tensor:
        """The average latent in ``space`` (w_avg for W/W+; for z a real average face where
        the model ships one, see edits/average.py, else zeros), shape latent_shape."""
        ...

    def to_space(self, z: torch.Tensor, space: str, *,
                 labels: torch.Tensor | None = None) -> torch.Tensor:
        """Map z latents [N, z_dim] into ``space`` (identity for "z"); ``labels`` [N, c_dim]
        give each z its class on conditional generators (required there, refused elsewhere)."""
        ...

    def synthesize(self, latents: torch.Tensor, space: str = "z", *,
                   camera: torch.Tensor | None = None,
                   margin: tuple[int, int] = (0, 0),
                   keep: tuple[int, int] | None = None) -> torch.Tensor:
        """Batched images [N, 3, H, W] in [-1, 1] from latents [N, *latent_shape(space)].

        ``camera`` [N, 3] (x, y, angle): only where ``has_camera``; others refuse one.
        ``margin`` (my, mx): first-map cells added each side (only where ``extend_step``):
        H = resolution + 2 * my * extend_step, W likewise with mx.
        ``keep`` (h, w): the caller keeps only the image's middle this large; a backend may
        skip drawing beyond it (the image may then be smaller, never smaller than keep,
        and its middle is the same)."""
        ...

    def noise_maps(self) -> dict[str, torch.Tensor]:
        """The network's constant noise inputs by name (inversion may fit them); {} if none."""
        ...

    def bend_layers(self) -> dict[str, nn.Module]:
        """The layers a scene may bend, by the names `latentreel models --layers` lists, in
        the order the network runs them: each module's output is a map [N, C, H, W]."""
        ...

    def tunable_module(self) -> nn.Module:
        """The part pivotal tuning changes: StyleGAN's synthesis network (its mapping stays, so
        every seed keeps its w), the whole DCGAN."""
        ...


def refuse_camera(generator: Generator, camera: torch.Tensor | None) -> None:
    """For backends without an input transform: a camera is a caller's mistake."""
    if camera is not None:
        raise ValueError(f"{generator.name} has no camera; check has_camera before passing one")


def refuse_margin(generator: Generator, margin: tuple[int, int]) -> None:
    """For backends that cannot extend: a margin is a caller's mistake."""
    if tuple(margin) != (0, 0) and generator.extend_step is None:
        raise ValueError(f"{generator.name} cannot paint a wider canvas; check extend_step")


def refuse_conditional(generator: Generator, what: str) -> None:
    """For tools that draw from z without a class (inversion, directions, sheets, tuning).

    Raises:
        BadInputError: one line naming the model and what to use instead.
    """
    if generator.c_dim:
        raise BadInputError(f"{generator.name}: a conditional generator ({generator.c_dim} "
                            f"classes): {what} does not support it yet; render scenes with "
                            "`class:` on seed keyframes instead")


def seed_latent(seed: int, z_dim: int) -> np.ndarray:
    """z for a seed, drawn on the CPU with NumPy so every device gives the same face.

    Uses ``RandomState(seed).randn`` as StyleGAN's scripts do, so seed numbers mean the same
    faces as in those tools for the same model.
    """
    return np.random.RandomState(seed).randn(z_dim).astype(np.float32)


def style_space(generator: Generator) -> str:
    """Where the average face and attribute directions live: w when the model has one
    (StyleGAN's mapping untangles z, and z is normalised before it), else z."""
    return "w" if "w" in generator.latent_spaces else "z"


def default_space(model) -> str:
    """The space a scene moves in unless it says: w+ where the model has it (seeds move
    exactly as in w, photos keep their per-layer inversions, truncation happens around
    w_avg), z otherwise (the DCGAN). ``model``: a Generator or a registry ModelMeta."""
    return "w+" if "w+" in model.latent_spaces else model.latent_spaces[0]


def average_space_problem(model, space: str, what: str) -> str | None:
    """Why ``what`` (truncation, an anti-face) cannot happen in ``space``, or None.

    A StyleGAN model's mapping network divides z by its own RMS first, so moving z towards
    the zero vector changes nothing and reflecting it gives an unrelated face, not the
    anti-face: StyleGAN's average face is w_avg, in W. ``model``: a Generator or ModelMeta."""
    if space == "z" and "w" in model.latent_spaces:
        return (f"{what} on {model.name} happens in W, around the average w (z is normalised "
                "before the mapping network, so it would change nothing); use `space: w+` "
                "(the default) or `space: w`")
    return None


def check_average_space(generator: Generator, space: str, what: str, where: str) -> None:
    """Refuse truncation and anti-faces in a StyleGAN model's z (see average_space_problem)."""
    problem = average_space_problem(generator, space, what)
    if problem:
        raise BadInputError(f"{where}: {problem}")


def truncate(latent: torch.Tensor, mean: torch.Tensor, psi: float,
             space: str = "w") -> torch.Tensor:
    """Move ``latent`` [*S] or [N, *S] towards ``mean`` [*S] by ``psi``: 1 keeps it, 0 gives
    the mean, -1 reflects it. In W (StyleGAN) along a line; in a Gaussian z (the DCGAN) along
    the great circle, so every psi in [-1, 1] stays where faces live (latents/truncation.py)."""
    if space != "z":
        return linear_truncate(latent, mean, psi)
    if latent.ndim > mean.ndim:
        return torch.stack([sphere_truncate(one, mean, psi) for one in latent])
    return sphere_truncate(latent, mean, psi)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[N, 3, H, W] in [-1, 1] -> [N, H, W, 3] uint8, computed on the images' device."""
    x = (images.clamp(-1, 1) + 1) * 127.5
    return x.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def synthesize_uint8(generator: Generator, latents: torch.Tensor, space: str = "z") -> np.ndarray:
    """Images [N, H, W, 3] uint8 for latents [N, *S], in one batched call."""
    with torch.inference_mode():
        return to_uint8(generator.synthesize(latents.to(generator.device), space)).cpu().numpy()


def seed_latents(generator: Generator, seeds: list[int]) -> torch.Tensor:
    """z for each seed [N, z_dim], drawn on the CPU (same faces on every device)."""
    return torch.from_numpy(np.stack([seed_latent(s, generator.z_dim) for s in seeds]))
