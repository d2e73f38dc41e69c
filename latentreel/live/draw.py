"""Drawing one live frame: a Shot through the prepared scene's frame source.

The performance and its replay (live.replay) both draw here, one frame per generator call
with the same shapes, so a replay's pixels are the performance's pixels. (Batching would be
faster for the replay, but a batch of another size may take other kernels and differ in the
last bit.) The upscaler's temporal stabiliser needs frames that are not drawn yet, so live
frames are upscaled each on its own.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import torch

from latentreel.live.walker import Shot
from latentreel.models.base import to_uint8
from latentreel.render.prepared import PreparedScene


def draw(prepared: PreparedScene, shot: Shot) -> np.ndarray:
    """The frame [H, W, 3] uint8 on the host for ``shot``."""
    source, autocast = prepared.source, prepared.autocast
    with torch.inference_mode(), torch.autocast(source.device.type, enabled=autocast is not None,
                                                dtype=autocast or torch.bfloat16):
        bends = prepared.tracks.get("bend")
        if bends is not None:  # the bend of the frame the walk stands on
            bends = bends[int(shot.position) % len(bends)][None].to(source.device)
        images = source.images(shot.latent.to(source.device), prepared.space, shot.camera,
                               bends=bends)
        return to_uint8(images.float())[0].cpu().numpy()


@contextmanager
def live_threads(device: torch.device):
    """On the CPU, draw with half the cores' torch threads (at least one) for the block.

    One small frame at a time gives torch's threads little to share, and the OSC, MIDI,
    sound and encoder threads need cores too: oversubscribed, OpenMP's threads spin against
    each other (measured on 2 busy cores, DCGAN at batch 1: 291 ms a frame with 2 threads,
    18 ms with 1). The replay draws under the same setting, so its pixels match.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    try:
        yield
    finally:
        torch.set_num_threads(before)
