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
    rows = torch.arange(-my, h + my, device=x.device) % h
    cols = torch.arange(-mx, w + mx, device=x.device) % w
    return x.index_select(-2, rows).index_select(-1, cols)


def margin_for(extra: tuple[int, int], step: int) -> Margin:
    """The fewest first-map cells each side that add at least ``extra`` (rows, cols) pixels
    each side when each cell paints ``step`` pixels."""
    return (-(-max(0, extra[0]) // step), -(-max(0, extra[1]) // step))
