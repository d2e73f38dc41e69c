"""The work behind the `directions` and `sheet` commands, as library functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from latentreel.edits.directions import Direction, DirectionStore
from latentreel.errors import BadInputError, PhotoError


def fit_attributes(g, names: list[str], *, samples: int, photo: Path | None = None,
                   sheets: Path | None = None, space: str | None = None) -> list[Direction]:
    from latentreel.edits.attributes import ATTRIBUTES
    from latentreel.edits.fit import fit_measured
    from latentreel.spec.fields import closest

    for n in names:
        if n not in ATTRIBUTES:
            raise BadInputError(f"unknown attribute '{n}'{closest(n, ATTRIBUTES)}")
    facenet = target = None
    if "similarity" in names:
        if photo is None:
            raise BadInputError("the similarity attribute needs --photo PHOTO")
        facenet, target = _photo_embedding(g, photo)
    elif photo is not None:
        raise BadInputError("--photo is only used by the similarity attribute; add `similarity` "
                            "to the attributes or drop --photo")
    found = fit_measured(g, names, samples=samples, facenet=facenet, target_embedding=target,
                         progress=True, space=space)
    _store(g, found, sheets)
    return found


def _photo_embedding(g, photo: Path):
    from latentreel.faces.align import align_face
    from latentreel.faces.facenet import load_facenet
    from latentreel.faces.photo import load_photo
    from latentreel.faces.template import generator_template

    facenet = load_facenet(device=g.device)
    crop = align_face(load_photo(photo), generator_template(g), 160, source=photo).crop
    with torch.no_grad():
        return facenet, facenet.embed(torch.from_numpy(crop[None].copy()))


def direction_from_photos(g, name: str, positive: list[Path], negative: list[Path], *,
                          settings=None, progress: bool = True) -> Direction:
    """Mean inverted latent of ``positive`` photos minus that of ``negative`` ones, stored.

    Args:
        settings: InvertSettings for every photo (default: the invert command's defaults).
    Raises:
        PhotoError: a photo that is missing or has no face, found before any inversion runs.
    """
    from latentreel.edits.fit import from_latents, latent_sigma
    from latentreel.faces.detect import MIN_FACE
    from latentreel.faces.photo import check_photo
    from latentreel.invert.photo import InvertSettings, invert_photo, prepare_target

    settings = settings or InvertSettings(tune=False)  # directions need latents only
    # 1. Check every photo first: one bad file should not cost minutes of inversions.
    photos = [Path(p) for p in [*positive, *negative]]
    missing = [str(p) for p in photos if not p.is_file()]
    if missing:
        raise PhotoError(f"{', '.join(missing)}: no such photo; check the path")
    for p in photos:  # headers first: cheap, and before the face template is measured
        check_photo(p, min_side=MIN_FACE if settings.align else 0)
    for p in photos:
        prepare_target(p, g, settings)  # raises PhotoError for a photo without a face
    # 2. Invert (cached per photo and settings), 3. take the mean difference and store it.
    facenet = None
    if settings.facenet_steps > 0 and (settings.identity > 0 or settings.perceptual > 0):
        from latentreel.faces.facenet import load_facenet

        facenet = load_facenet(device=g.device)

    results = [invert_photo(p, g, settings, facenet=facenet, progress=progress) for p in photos]
    space = results[0].space  # one settings object: every photo lands in the same space
    lat = np.stack([r.latent.cpu().numpy() for r in results])
    d = from_latents(name, lat[:len(positive)], lat[len(positive):], space)
    d.stats["sigma"] = latent_sigma(g, space, d.vector / np.linalg.norm(d.vector))
    _store(g, [d], None)
    return d


def unsupervised(g, method: str, k: int, sheets: Path | None) -> list[Direction]:
    from latentreel.edits.fit import pca_directions, sefa_directions

    found = pca_directions(g, k) if method == "pca" else sefa_directions(g, k)
    _store(g, found, sheets)
    return found


def import_direction(g, name: str, file: Path, space: str | None = None, *,
                     force: bool = False) -> Direction:
    """A .npy vector from elsewhere (e.g. an InterFaceGAN boundary), checked and stored;
    an existing direction of the same name is replaced only with ``force``."""
    from latentreel.edits.directions import import_vector
    from latentreel.edits.fit import latent_sigma
    from latentreel.models.base import style_space

    DirectionStore(g.name).check_free(name, force=force)
    space = space or style_space(g)
    if space not in g.latent_spaces:
        raise BadInputError(f"--space {space}: {g.name} has the spaces "
                            f"{', '.join(g.latent_spaces)}")
    vec = import_vector(file, g.latent_shape(space))
    d = Direction(name, vec, "file", {"file": str(file)}, space)
    store = DirectionStore(g.name)
    store.add(d)  # normalises the vector
    d.stats["sigma"] = latent_sigma(g, space, d.vector)
    store.save()
    return d


def _store(g, found: list[Direction], sheets: Path | None) -> None:
    store = DirectionStore(g.name)
    for d in found:
        store.add(d)
        if sheets is not None:
            direction_sheet(g, d, Path(sheets) / f"{d.name}.png")
    store.save()


def direction_sheet(g, d: Direction, out: Path, seeds=(0, 1, 2, 3)) -> Path:
    from latentreel.edits.directions import step_in_space
    from latentreel.edits.sheets import direction_grid, write_sheet

    amounts = [-3, -2, -1, 0, 1, 2, 3]
    step = torch.from_numpy(step_in_space(d, d.space, g.latent_shape(d.space))).to(g.device)
    lat, labels, rows = direction_grid(g, list(seeds), step, amounts, d.name, d.space)
    return write_sheet(g, lat, labels, rows, out, title=f"{g.name}: {d.name} ({d.source}, "
                       f"{d.space})", cols=len(amounts), space=d.space)


def make_sheet(g, out: Path, *, seeds: str, psi: str | None, direction: str | None,
               amounts: str, plane: bool, axes: str | None, cell: int,
               bend: str | None = None, default_amounts: bool = False) -> Path:
    from latentreel.spec.lists import parse_float_list, parse_int_list
    from latentreel.edits import sheets as S
    from latentreel.models.base import refuse_conditional, seed_latents

    refuse_conditional(g, "a contact sheet")
    chosen = [o for o, v in (("--psi", psi), ("--direction", direction), ("--plane", plane),
                             ("--axes", axes), ("--bend", bend)) if v]
    if len(chosen) > 1:
        raise BadInputError(f"{' and '.join(chosen)}: one kind of sheet at a time; "
                            "run `latentreel sheet` once for each")
    seed_list = parse_int_list(seeds)
    space = "z"  # planes, axes and seed rows are drawn in z; psi rows and directions say
    if psi:
        psis = parse_float_list(psi, "--psi")
        if any(abs(p) > 3 for p in psis):
            raise BadInputError(f"--psi {psi}: keep psi within [-3, 3]")
        space = S.psi_space(g)
        lat, labels, rows = S.psi_grid(g, seed_list, psis)
        title, cols = f"{g.name}: truncation psi (1 face, 0 average, -1 anti-face)", len(psis)
    elif direction:
        from latentreel.edits.directions import step_in_space

        d = DirectionStore(g.name).get(direction, "--direction")
        space = d.space
        step = step_in_space(d, space, g.latent_shape(space), "--direction")
        amts = parse_float_list(amounts, "--amounts")
        lat, labels, rows = S.direction_grid(g, seed_list, torch.from_numpy(step).to(g.device),
                                             amts, direction, space)
        title, cols = f"{g.name}: {direction} ({space})", len(amts)
    elif bend:
        slot = _bend_slot(g, bend)
        amts = list(S.BEND_SWEEPS[slot.op]) if default_amounts else \
            parse_float_list(amounts, "--amounts")
        lat, bends, labels, rows = S.bend_grid(g, seed_list, slot, amts)
        return S.write_sheet(g, lat, labels, rows, out, cols=len(amts), cell=cell,
                             title=f"{g.name}: bend {slot.op} at {slot.layer}", bend=slot,
                             bends=bends)
    elif plane:
        if len(seed_list) < 3:
            raise BadInputError(
                "--plane needs three seeds: origin and two axes, e.g. --seeds 1,2,3")
        lat, labels, rows = S.plane_grid(g, seed_list)
        title, cols = f"{g.name}: plane through seeds {seed_list[:3]}", len(S.PLANE_COORDS)
    elif axes:
        lat, labels, rows = S.axis_grid(g, parse_int_list(axes, "--axes"))
        title, cols = f"{g.name}: the mean latent and one-hot axes", min(8, len(labels))
    else:
        lat = seed_latents(g, seed_list).to(g.device)
        labels, rows = [f"seed {s}" for s in seed_list], None
        title, cols = f"{g.name}: seeds", min(8, len(seed_list))
    return S.write_sheet(g, lat, labels, rows, out, title=title, cols=cols, cell=cell,
                         space=space)


def _bend_slot(g, text: str):
    """'LAYER:OP' -> a BendSlot on one of ``g``'s layers.

    Raises:
        BadInputError: not LAYER:OP, or an unknown layer or op (with the valid ones)."""
    from latentreel.models.bend import BEND_OPS, BendSlot
    from latentreel.spec.fields import closest

    layer, _, op = text.rpartition(":")
    layers = g.bend_layers()
    if not layer or op not in BEND_OPS:
        raise BadInputError(f"--bend {text}: expected LAYER:OP with OP one of "
                            f"{', '.join(BEND_OPS)}, e.g. {next(iter(layers))}:rotate")
    if layer not in layers:
        raise BadInputError(f"--bend {text}: {g.name} has no layer {layer!r}"
                            f"{closest(layer, layers)}")
    return BendSlot(layer=layer, op=op, channels=0.5 if op == "scale" else 1.0)
