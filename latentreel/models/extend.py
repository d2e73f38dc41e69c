"""Widening a network's first feature map, so it paints a larger canvas (`fit: extend`).

Every backend starts from a small map (StyleGAN2's learned 4x4 constant, the DCGAN's first
4x4 activation, StyleGAN3's Fourier features sampled on a grid) and only convolves and
upsamples after it. Repeat that map periodically around itself and the same network paints
a wider picture whose middle is the original one, as far as each pixel's receptive field
stays inside the original map (maua-stylegan2's widened constant; Broad et al.'s network
bending in its simplest form).
"""

from __future__ import annotations

import torch

Margin = tuple[int, int]  # first-map cells added (above and below, left and right)


def periodic_widen(x: torch.Tensor, margin: Margin) -> torch.Tensor:
    """x [..., H, W] -> [..., H + 2 * my, W + 2 * mx]: x repeated periodically around itself
    (any margin, unlike F.pad's circular mode, which stops at one period)."""
    my, mx = margin
    if my == 0 and mx == 0:
        return x
    h, w = x.shape[-2:]
    return periodic_window(x, (-my, -mx), (h + 2 * my, w + 2 * mx))


def periodic_window(x: torch.Tensor, origin: tuple[int, int],
                    size: tuple[int, int]) -> torch.Tensor:
    """The ``size`` (h, w) window of x [..., H, W] repeated periodically, starting at
    ``origin`` (row, col; negative: before x's first pixel)."""
    h, w = x.shape[-2:]
    if tuple(origin) == (0, 0) and tuple(size) == (h, w):
        return x
    rows = (torch.arange(size[0], device=x.device) + origin[0]) % h
    cols = (torch.arange(size[1], device=x.device) + origin[1]) % w
    return x.index_select(-2, rows).index_select(-1, cols)


def trim_to(x: torch.Tensor, keep: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
    """The middle of x [..., H, W] at least ``keep`` (h, w) large, cut the same on both
    sides of each axis (so the middle stays the middle); returns it and what was cut from
    the top and the left."""
    cut = []
    for have, want in zip(x.shape[-2:], keep):
        want = min(have, want + (have - want) % 2)  # same parity: an even cut each side
        cut.append((have - want) // 2)
    top, left = cut
    h, w = x.shape[-2] - 2 * top, x.shape[-1] - 2 * left
    return x[..., top:top + h, left:left + w], (top, left)


def margin_for(extra: tuple[int, int], step: int) -> Margin:
    """The fewest first-map cells each side that add at least ``extra`` (rows, cols) pixels
    each side when each cell paints ``step`` pixels."""
    return (-(-max(0, extra[0]) // step), -(-max(0, extra[1]) // step))
