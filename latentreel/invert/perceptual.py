"""LPIPS (VGG16) as an inversion loss, when the VGG16 weights are on this machine.

The `lpips` package ships only its small linear calibration layers; its VGG16 backbone is
torchvision's ImageNet checkpoint, which torchvision downloads on first use. latentreel never
lets it download: the backbone is built with random weights and then loaded from the torch
hub cache file (``vgg16-397923af.pth``, the file torchvision itself would fetch), read with
``weights_only`` and checked tensor by tensor. Without the file, asking for LPIPS is a clear
error naming where the file goes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from latentreel.errors import ModelError

VGG_FILE = "vgg16-397923af.pth"  # torchvision's VGG16_Weights.IMAGENET1K_V1
INPUT_SIZE = 256  # NVIDIA's projector compares faces at 256 px too

_CACHE: dict[str, torch.nn.Module] = {}


def vgg_weights_path() -> Path:
    """Where torchvision keeps its VGG16 checkpoint (honours $TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG_FILE


def _backbone_state(path: Path, wanted: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The checkpoint's ``features.N.*`` tensors under LPIPS's ``net.sliceK.N.*`` names."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, pickle with code, not a torch file at all
        raise ModelError(f"{path}: not a readable VGG16 checkpoint ({type(e).__name__}); "
                         f"replace it with torchvision's {VGG_FILE} or drop --lpips") from None
    if not isinstance(state, dict):
        raise ModelError(f"{path}: holds a {type(state).__name__}, not a VGG16 state dict; "
                         f"replace it with torchvision's {VGG_FILE} or drop --lpips")
    out = {}
    for name, ours in wanted.items():
        key = "features." + name.split(".", 2)[2]  # net.slice3.10.weight -> features.10.weight
        t = state.get(key)
        if not isinstance(t, torch.Tensor):
            raise ModelError(f"{path}: has no {key}; it is not torchvision's VGG16 "
                             f"({VGG_FILE}); replace it or drop --lpips")
        if t.shape != ours.shape or not t.is_floating_point():
            raise ModelError(f"{path}: {key} is {t.dtype} {list(t.shape)}, VGG16 has "
                             f"{list(ours.shape)}; replace it with {VGG_FILE} or drop --lpips")
        out[name] = t.float()
    return out


def load_lpips(device: torch.device | str = "cpu") -> torch.nn.Module:
    """LPIPS-VGG on ``device``, loaded once per process and device.

    Raises:
        ModelError: the VGG16 checkpoint is missing, unreadable or not VGG16.
    """
    key = str(torch.device(device))
    if key in _CACHE:
        return _CACHE[key]
    path = vgg_weights_path()
    if not path.is_file():
        raise ModelError(f"--lpips needs torchvision's VGG16 weights at {path}; copy "
                         f"{VGG_FILE} there from a machine that is online (torchvision "
                         "downloads it to the same place), or drop --lpips")
    import lpips

    with warnings.catch_warnings():  # torchvision's deprecation notes on `pretrained`
        warnings.simplefilter("ignore")
        # pnet_rand: build VGG16 without downloading; pretrained: LPIPS's own linear layers,
        # which ship inside the package.
        model = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False)
    wanted = {k: v for k, v in model.state_dict().items() if k.startswith("net.slice")}
    model.load_state_dict(_backbone_state(path, wanted), strict=False)
    model = model.to(device).eval().requires_grad_(False)
    _CACHE[key] = model
    return model


def lpips_distance(model: torch.nn.Module, images: torch.Tensor,
                   target: torch.Tensor) -> torch.Tensor:
    """Per-sample LPIPS [N] between images in [-1, 1], compared at most 256 px."""
    if images.shape[-1] > INPUT_SIZE:  # area-average down, as NVIDIA's projector does
        images = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="area")
        target = F.interpolate(target, size=(INPUT_SIZE, INPUT_SIZE), mode="area")
    return model(images, target, normalize=False).flatten()
