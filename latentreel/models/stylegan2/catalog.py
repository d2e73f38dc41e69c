"""NVIDIA's published StyleGAN2 and StyleGAN3 networks that ``latentreel models pull NAME``
fetches.

All are PyTorch-format network pickles (TensorFlow-era ``.pkl`` files cannot be read here).
The ``stylegan2-*`` files are those the stylegan3 repository's README lists on NVIDIA NGC; the
``-ada`` ones are stylegan2-ada-pytorch's README "pretrained" networks. Neither README
publishes checksums, so ``sha256`` is None: the first download records the file's hash next to
it (trust on first use) and later pulls verify against that record.
"""

from __future__ import annotations

from dataclasses import dataclass

_NGC = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan2/versions/1/files/"
_NGC3 = "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/"
_ADA = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"


@dataclass(frozen=True)
class CatalogEntry:
    name: str  # registry name used in scenes and `models pull`
    url: str  # where the weights come from
    resolution: int  # output size in pixels
    description: str  # one line for `latentreel models`
    sha256: str | None = None  # expected SHA-256, None = recorded on first download


CATALOG: dict[str, CatalogEntry] = {e.name: e for e in (
    CatalogEntry("ffhq-1024", _NGC + "stylegan2-ffhq-1024x1024.pkl", 1024,
                 "StyleGAN2, FFHQ faces (aligned), 1024x1024"),
    CatalogEntry("ffhq-512", _NGC + "stylegan2-ffhq-512x512.pkl", 512,
                 "StyleGAN2, FFHQ faces (aligned), 512x512"),
    CatalogEntry("ffhq-256", _NGC + "stylegan2-ffhq-256x256.pkl", 256,
                 "StyleGAN2, FFHQ faces (aligned), 256x256"),
    CatalogEntry("ffhqu-1024", _NGC + "stylegan2-ffhqu-1024x1024.pkl", 1024,
                 "StyleGAN2, FFHQ-U faces (unaligned), 1024x1024"),
    CatalogEntry("ffhqu-256", _NGC + "stylegan2-ffhqu-256x256.pkl", 256,
                 "StyleGAN2, FFHQ-U faces (unaligned), 256x256"),
    CatalogEntry("metfaces-1024", _NGC + "stylegan2-metfaces-1024x1024.pkl", 1024,
                 "StyleGAN2, MetFaces (faces in art), 1024x1024"),
    CatalogEntry("metfacesu-1024", _NGC + "stylegan2-metfacesu-1024x1024.pkl", 1024,
                 "StyleGAN2, MetFaces-U (unaligned), 1024x1024"),
    CatalogEntry("celebahq-256", _NGC + "stylegan2-celebahq-256x256.pkl", 256,
                 "StyleGAN2, CelebA-HQ faces, 256x256"),
    CatalogEntry("ffhq-1024-ada", _ADA + "ffhq.pkl", 1024,
                 "StyleGAN2 config-f, FFHQ 1024x1024 (stylegan2-ada-pytorch release)"),
    CatalogEntry("metfaces-1024-ada", _ADA + "metfaces.pkl", 1024,
                 "StyleGAN2-ADA, MetFaces 1024x1024 (stylegan2-ada-pytorch release)"),
)}

# StyleGAN3 (stylegan3 README, NGC): configs T (translation-equivariant) and R (also
# rotation-equivariant); the "u" data sets are unaligned, so the faces move around the frame.
_SG3_DATA = (("ffhq", 1024, "FFHQ faces (aligned)"), ("ffhqu", 1024, "FFHQ-U faces (unaligned)"),
             ("ffhqu", 256, "FFHQ-U faces (unaligned)"), ("metfaces", 1024, "MetFaces (art)"),
             ("metfacesu", 1024, "MetFaces-U (art, unaligned)"),
             ("afhqv2", 512, "AFHQv2 animal faces"))
for _cfg in ("t", "r"):
    for _data, _res, _what in _SG3_DATA:
        _entry = CatalogEntry(f"stylegan3-{_cfg}-{_data}-{_res}",
                              f"{_NGC3}stylegan3-{_cfg}-{_data}-{_res}x{_res}.pkl", _res,
                              f"StyleGAN3-{_cfg.upper()}, {_what}, {_res}x{_res}")
        CATALOG[_entry.name] = _entry
