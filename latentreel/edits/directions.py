"""Named latent directions per model: fitted, from photos, unsupervised or imported.

Stored under the user cache as ``directions/<model>/directions.npz`` (unit vectors) with
``directions.json`` (source, space, statistics, names).

Each direction lives in the space it was found in: z for the DCGAN, w (or w+, for directions
from W+ photo inversions) for StyleGAN, where the mapping network has untangled z and edits
are far cleaner (InterFaceGAN, GANSpace). ``stats["sigma"]`` is the spread of the model's
latents along the direction (1 in z, measured on mapped samples in w), so an edit ``amount``
means standard deviations in every space. A w direction also works in a w+ scene (the same
move at every layer); nothing carries across the non-linear mapping between z and w.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from latentreel.cache import atomic_write, cache_dir
from latentreel.errors import BadInputError, LatentFileError, did_you_mean, quote


@dataclass
class Direction:
    name: str
    vector: np.ndarray  # unit vector, the model's latent shape
    source: str  # fitted | photos | pca | sefa | file
    stats: dict = field(default_factory=dict)  # e.g. r2, samples, explained variance, sigma
    space: str = "z"  # the latent space the vector lives in: z, w or w+


class DirectionStore:
    """The directions of one model."""

    def __init__(self, model: str, root: Path | None = None):
        self.model = model
        self.root = root or cache_dir("directions", model)
        self.directions: dict[str, Direction] = {}
        self._load()

    def _load(self) -> None:
        meta_path, vec_path = self.root / "directions.json", self.root / "directions.npz"
        if not meta_path.is_file() or not vec_path.is_file():
            return
        meta = json.loads(meta_path.read_text())
        with np.load(vec_path, allow_pickle=False) as vecs:
            for name, info in meta.items():
                self.directions[name] = Direction(name, vecs[name], info["source"], info["stats"],
                                                  info.get("space", "z"))

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        meta = {n: {"source": d.source, "space": d.space, "stats": d.stats}
                for n, d in self.directions.items()}
        with atomic_write(self.root / "directions.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, **{n: d.vector for n, d in self.directions.items()})
        with atomic_write(self.root / "directions.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=1, default=float))

    def add(self, direction: Direction) -> None:
        """Store ``direction`` as a unit vector (replacing one of the same name: refits update).

        Raises:
            LatentFileError: a zero or non-finite vector, which has no direction to keep.
        """
        v = np.asarray(direction.vector, np.float32)
        norm = float(np.linalg.norm(v))
        if not np.isfinite(norm) or norm < 1e-8:
            raise LatentFileError(f"direction '{direction.name}' ({direction.source}) is "
                                  f"{'not finite' if not np.isfinite(norm) else 'zero'}; "
                                  "it has no direction to keep (check the vector or photos)")
        direction.vector = v / norm
        self.directions[direction.name] = direction

    def get(self, name: str, where: str = "") -> Direction:
        """The direction ``name``, or a BadInputError suggesting the closest one."""
        if name in self.directions:
            return self.directions[name]
        prefix = f"{where}: " if where else ""
        raise BadInputError(prefix + unknown_direction(name, self.directions, self.model))

    def rename(self, old: str, new: str, *, force: bool = False) -> None:
        """Call ``old`` ``new``; an existing ``new`` is replaced only with ``force``."""
        d = self.get(old)
        if new != old:
            self.check_free(new, force=force)
        del self.directions[old]
        d.name = new
        self.directions[new] = d

    def check_free(self, name: str, *, force: bool = False) -> None:
        """The one rule for commands that name a direction (``name``, ``import``): an existing
        direction is replaced only when asked to (``--force``), never silently.

        Raises:
            BadInputError: ``name`` is taken and ``force`` is false.
        """
        if name in self.directions and not force:
            raise BadInputError(f"a direction named {quote(name)} already exists for "
                                f"{self.model}; pick another name, or add --force to "
                                "replace it")

    def summary(self) -> list[dict]:
        return [{"name": d.name, "source": d.source, "space": d.space, **d.stats}
                for d in self.directions.values()]


def step_in_space(d: Direction, space: str, shape: tuple[int, ...], where: str = "") -> np.ndarray:
    """One standard deviation along ``d`` as an offset for ``space`` latents of ``shape``.

    Raises:
        BadInputError: the direction lives in another space (a z vector added to a w latent
            of the same size would run without error and mean nothing).
    """
    step = np.asarray(d.vector, np.float32) * float(d.stats.get("sigma", 1.0))
    if d.space == "w" and space == "w+":
        step = np.broadcast_to(step, shape)  # the same move at every layer
    elif d.space != space:
        prefix = f"{where}: " if where else ""
        raise BadInputError(prefix + space_mismatch(d.name, d.space, space))
    if step.shape != tuple(shape):
        raise LatentFileError(f"{where + ': ' if where else ''}direction '{d.name}' has shape "
                              f"{list(step.shape)} but the scene's {space!r} latents are "
                              f"{list(shape)}; was it made for another model?")
    return np.ascontiguousarray(step)


def unknown_direction(name: str, known, model: str) -> str:
    """Why ``name`` is not among ``known`` directions of ``model``, with the closest names."""
    hint = (did_you_mean(name, known) or
            (maker_of(name, model) if not known else f"known: {', '.join(sorted(known))}"))
    return f"no direction named {quote(name)} for {model}; {hint}"


def maker_of(name: str, model: str) -> str:
    """The command that makes direction ``name``: sefa0.. and pc0.. come from their own
    commands, measured attributes (yaw, zoom, ...) from `fit`, anything else from example
    photos or an imported vector."""
    from latentreel.edits.attributes import ATTRIBUTES
    from latentreel.models.registry import DEFAULT_MODEL

    flag = "" if model == DEFAULT_MODEL else f" --model {model}"
    for prefix, command in (("sefa", "sefa"), ("pc", "pca")):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            return f"make {prefix}0.. with `latentreel directions {command}{flag}`"
    if name in ATTRIBUTES:
        return f"fit it with `latentreel directions fit {name}{flag}`"
    return (f"make it with `latentreel directions from-photos`{flag and ' (' + flag[1:] + ')'}"
            f" or `directions import`, or fit one of {', '.join(ATTRIBUTES)}")


def space_mismatch(name: str, direction_space: str, space: str) -> str | None:
    """Why a direction found in ``direction_space`` cannot move ``space`` latents, or None.

    A w direction works in w+ (the same move at every layer); a z vector added to a w latent
    of the same size would run without error and mean nothing."""
    if direction_space == space or (direction_space == "w" and space == "w+"):
        return None
    fix = (f"use `space: {direction_space}`" + (" or `space: w+`" if direction_space == "w" else "")
           + (f", or refit it with `latentreel directions fit ... --space {space}`"
              if space != "w+" else ", or refit it with `--space w`"))
    return f"direction '{name}' lives in {direction_space}, but this scene moves in {space}; {fix}"


def stored_spaces(model: str) -> dict[str, str]:
    """name -> space of each direction stored for ``model``, from its metadata alone (the
    scene check uses it before any model or vector loads)."""
    root = cache_dir("directions") / model
    meta_path = root / "directions.json"
    if not meta_path.is_file() or not (root / "directions.npz").is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged store is DirectionStore's to report
    return {n: info.get("space", "z") for n, info in meta.items() if isinstance(info, dict)}


def edit_step(store: DirectionStore, name: str, keep: list[str], space: str,
              shape: tuple[int, ...], where: str = "") -> np.ndarray:
    """The offset for ``amount: 1`` of an edit, with the kept directions projected out.

    The projection works on the offsets as the scene will use them (w directions already
    repeated per layer in w+) and keeps the edit's own length."""
    step = step_in_space(store.get(name, where), space, shape, where)
    if not keep:
        return step
    kept = [step_in_space(store.get(k, where), space, shape, where) for k in keep]
    return conditional(step, kept) * np.float32(np.linalg.norm(step))


def conditional(direction: np.ndarray, keep: list[np.ndarray]) -> np.ndarray:
    """``direction`` with the kept directions projected out (InterFaceGAN conditioning),
    so moving along it leaves the kept attributes as they were. Returns a unit vector."""
    d = direction.astype(np.float64).ravel()
    basis: list[np.ndarray] = []
    for k in keep:  # Gram-Schmidt: the kept directions need not be orthogonal to each other
        v = k.astype(np.float64).ravel()
        for b in basis:
            v = v - (v @ b) * b
        if np.linalg.norm(v) > 1e-8:
            basis.append(v / np.linalg.norm(v))
    for b in basis:
        d = d - (d @ b) * b
    norm = np.linalg.norm(d)
    if norm < 1e-8:
        raise BadInputError("the edit direction lies within the kept directions; keep fewer")
    return (d / norm).reshape(direction.shape).astype(np.float32)


def import_vector(path: Path, shape: tuple[int, ...]) -> np.ndarray:
    """A direction from a .npy file, checked against the model's latent shape."""
    path = Path(path)
    if not path.is_file():
        raise LatentFileError(f"{path}: no such file")
    try:
        v = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise LatentFileError(f"{path}: not a .npy array ({e})") from None
    if not isinstance(v, np.ndarray):  # np.load opens .npz archives too
        v.close()
        raise LatentFileError(f"{path}: an .npz archive; give one vector saved with np.save")
    if v.dtype.kind not in "fiu":
        raise LatentFileError(f"{path}: holds {v.dtype} values, not numbers")
    if v.shape != shape and v.size != int(np.prod(shape)):
        raise LatentFileError(f"{path}: shape {list(v.shape)} does not fit this model's "
                              f"latent {list(shape)}; was it made for another model?")
    if not np.isfinite(v).all():
        raise LatentFileError(f"{path}: the vector holds NaN or infinite values")
    return v.reshape(shape).astype(np.float32)


def as_dict(d: Direction) -> dict:
    return {k: v for k, v in asdict(d).items() if k != "vector"}
