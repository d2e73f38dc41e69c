"""Real-ESRGAN's two network shapes as plain PyTorch modules (weights come from upscale.convert).

Both take RGB images [N, 3, H, W] in [0, 1] and return [N, 3, f*H, f*W], roughly in [0, 1]
(not clamped: callers clamp once, at the uint8 conversion).

RRDBNet (ESRGAN's generator): a 3x3 conv, ``num_block`` residual-in-residual dense blocks,
a conv and a long skip, then two nearest x2 upsamplings each followed by a conv, and two convs.
SRVGG (realesr-animevideov3): a straight stack of 3x3 convs with per-channel PReLU, a
pixel shuffle, plus the nearest-upsampled input, so the network only learns the residual.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LRELU = 0.2  # slope of every leaky ReLU in RRDBNet
RESIDUAL = 0.2  # dense blocks add 0.2 x their output to their input


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class DenseBlock(nn.Module):
    """Five convs, each reading the block input and every earlier conv's output."""

    def __init__(self, feat: int = 64, grow: int = 32):
        super().__init__()
        self.convs = nn.ModuleList(_conv(feat + i * grow, grow if i < 4 else feat)
                                   for i in range(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs[:4]:
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), LRELU))
        # The 0.2 residual scale is folded into the last conv's weights (see fold_residual).
        return self.convs[4](torch.cat(feats, 1)) + x


class RRDB(nn.Module):
    def __init__(self, feat: int = 64, grow: int = 32):
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(feat, grow) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.add(x, self.blocks(x), alpha=RESIDUAL)


class RRDBNet(nn.Module):
    factor = 4

    def __init__(self, num_block: int = 23, feat: int = 64, grow: int = 32):
        super().__init__()
        self.conv_first = _conv(3, feat)
        self.body = nn.Sequential(*(RRDB(feat, grow) for _ in range(num_block)))
        self.conv_body = _conv(feat, feat)
        self.conv_up1 = _conv(feat, feat)
        self.conv_up2 = _conv(feat, feat)
        self.conv_hr = _conv(feat, feat)
        self.conv_last = _conv(feat, 3)

    def convs(self) -> list[nn.Conv2d]:
        """Every conv in the order ncnn's .param lists them."""
        body = [c for rrdb in self.body for blk in rrdb.blocks for c in blk.convs]
        return [self.conv_first, *body, self.conv_body, self.conv_up1, self.conv_up2,
                self.conv_hr, self.conv_last]

    def fold_residual(self) -> None:
        """Scale each dense block's last conv by 0.2 once, instead of its output every call."""
        with torch.no_grad():
            for rrdb in self.body:
                for blk in rrdb.blocks:
                    blk.convs[4].weight.mul_(RESIDUAL)
                    blk.convs[4].bias.mul_(RESIDUAL)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, 3, H, W] -> [N, 3, 4H, 4W]
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in (self.conv_up1, self.conv_up2):
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")), LRELU)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), LRELU))


class SRVGG(nn.Module):
    """Compact VGG-style upscaler; ``out_scale`` < 1 bicubic-shrinks the x``upscale`` result
    (that is how the x2 and x3 animevideov3 files reuse the x4 weights)."""

    def __init__(self, num_conv: int = 16, feat: int = 64, upscale: int = 4,
                 out_scale: float = 1.0):
        super().__init__()
        self.upscale, self.out_scale = upscale, out_scale
        self.factor = round(upscale * out_scale)
        body = [_conv(feat, feat) for _ in range(num_conv)]
        self.conv_list = nn.ModuleList([_conv(3, feat), *body, _conv(feat, 3 * upscale * upscale)])
        self.prelus = nn.ModuleList(nn.PReLU(feat) for _ in range(num_conv + 1))

    def convs(self) -> list[nn.Conv2d]:
        return list(self.conv_list)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, 3, H, W] -> [N, 3, fH, fW]
        feat = x
        for conv, act in zip(self.conv_list, self.prelus):
            feat = act(conv(feat))
        out = F.pixel_shuffle(self.conv_list[-1](feat), self.upscale)
        out = out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")
        if self.out_scale != 1.0:
            h, w = (int(s * self.out_scale) for s in out.shape[-2:])
            out = F.interpolate(out, size=(h, w), mode="bicubic", align_corners=False)
        return out
