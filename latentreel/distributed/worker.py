"""The Ray actor that renders whole segments: the generator loaded once, the bytes sent back.

A worker needs latentreel (and its model) installed on its machine, nothing shared with the
driver: the frame path (and the weight delta of a scene tuned for its photos) arrives through
Ray's object store and each finished segment goes back
the same way, as the bytes of a complete MP4.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from latentreel.distributed.cluster import Cluster, RayOptions
from latentreel.errors import BadInputError, LatentreelError
from latentreel.render.segments import encode_segment
from latentreel.scene.model import Output


@dataclass(frozen=True)
class WorkerSpec:
    """How the driver asks for its workers, and what each one loads."""

    model: str  # the scene's model name or file (a file is shipped: see start_workers)
    base: str  # folder that relative model paths resolve against
    device: str  # auto | cpu | cuda (chosen on the worker, where its GPU is)
    precision: str  # fp32 | bf16 | fp16
    batch_size: int | None  # frames per generator call (None: by device)
    count: int  # how many actors
    num_gpus: int  # GPUs each actor reserves (0 or 1)
    num_cpus: int  # CPUs each actor reserves; also its torch threads


def plan_workers(cluster: Cluster, options: RayOptions, *, model: str, base: Path,
                 device: str, precision: str, batch_size: int | None) -> WorkerSpec:
    """One GPU per actor where the cluster has GPUs (and --device allows), else CPUs.

    Raises:
        BadInputError: the cluster cannot hold the workers asked for.
    """
    where = f"--ray {options.address}"
    use_gpu = device != "cpu" and cluster.gpus > 0
    if device.startswith("cuda") and not use_gpu:
        raise BadInputError(f"{where}: the cluster has no GPUs for --device {device}; "
                            "use --device cpu or auto, or add GPU machines")
    have, unit = (cluster.gpus, "GPU") if use_gpu else (cluster.cpus, "CPU")
    count = options.workers or (cluster.gpus if use_gpu else 1)
    if count > have:
        raise BadInputError(f"{where}: --workers {count} needs {count} {unit}s, the cluster "
                            f"has {have}; use --workers {max(1, have)} or add machines")
    num_cpus = 1 if use_gpu else max(1, min(cluster.cpus // count, cluster.largest_node_cpus))
    return WorkerSpec(model=model, base=str(base), device=device, precision=precision,
                      batch_size=batch_size, count=count, num_gpus=int(use_gpu),
                      num_cpus=num_cpus)


def start_workers(ray, spec: WorkerSpec) -> list:
    """Create the actors (they load their generators in the background).

    A model file (``model: my.pkl``) travels with them through the object store, read once
    here: the worker machines need not have it at the same path.
    """
    actor = ray.remote(SegmentWorker).options(
        num_cpus=spec.num_cpus, num_gpus=spec.num_gpus,
        max_restarts=2,  # a killed process comes back (reloading the model) ...
        max_task_retries=0,  # ... but its segment is handed out again by the driver
    )
    model_file = _model_file(spec)
    model_bytes = ray.put(model_file.read_bytes()) if model_file else None
    return [actor.remote(spec, model_bytes) for _ in range(spec.count)]


def _model_file(spec: WorkerSpec) -> Path | None:
    from latentreel.models.registry import MODELS, is_model_file

    if spec.model in MODELS or not is_model_file(spec.model):
        return None  # a registry name: installed (or pulled) on each worker machine
    path = Path(spec.base) / spec.model
    return path if path.is_file() else None  # missing: the worker reports it in one line


class SegmentWorker:
    """Loads the generator once; renders segments of a frame path into MP4 bytes."""

    def __init__(self, spec: WorkerSpec, model_bytes: bytes | None = None):
        import torch

        from latentreel.device import autocast_dtype, default_batch_size, pick_device

        self.error: tuple[str, int] | None = None
        self._drawn = None  # (settings key, FrameSource) of the render in hand
        try:
            torch.set_num_threads(spec.num_cpus)  # Ray's own default would be one thread
            device = pick_device(spec.device)
            self.generator = _load(spec, model_bytes, device)
            self.autocast = autocast_dtype(spec.precision, device)
            self.batch = spec.batch_size or default_batch_size(device, self.generator.resolution)
        except LatentreelError as e:  # reported by ready(): a missing model file, say
            self.error = (str(e), e.exit_code)

    def ready(self) -> dict:
        """Where this worker runs, or the error that stopped it loading its model."""
        return {"host": socket.gethostname(), "pid": os.getpid(), "error": self.error,
                "device": None if self.error else str(self.generator.device)}

    def render(self, path, bounds: tuple[int, int], output: Output, space: str,
               tuning: tuple[str, dict] | None = None,
               bend: tuple | None = None) -> Iterator[int | bytes]:
        """Yields frames done after each batch, then the finished segment's bytes.

        ``tuning``: (digest, WeightDelta.to_arrays()) of the scene's tuned generator, or None.
        ``bend``: (the scene's BendSlots, its bend track [total_frames, D]), or None.
        """
        slots, track = bend if bend is not None else ((), None)
        with tempfile.TemporaryDirectory(prefix="latentreel-segment-") as tmp:
            dest = Path(tmp) / "segment.mp4"
            source = self._source(output, tuning, tuple(slots))
            yield from encode_segment(source, path, bounds, output, space, dest,
                                      batch_size=self.batch, autocast=self.autocast,
                                      bends=track)
            yield dest.read_bytes()

    def _source(self, output: Output, tuning: tuple[str, dict] | None, slots: tuple = ()):
        """What draws the render's frames, as the driver's prepared scene does: this worker's
        model with the scene's tuning added and hooks on the layers ``slots`` bend, behind the
        upscaler ``output`` asks for (built once per render).

        Raises:
            LatentFileError: the tuning was made on other weights than this worker's model.
        """
        from latentreel.invert.delta import WeightDelta, apply_delta
        from latentreel.render.bends import bender_for
        from latentreel.render.frames import frame_source, output_canvas
        from latentreel.render.prepared import check_extend

        key = (output.upscale, output.frame, output.fit, output.background, output.grid,
               output.upscale_smooth, None if tuning is None else tuning[0], slots)
        if self._drawn is None or self._drawn[0] != key:
            if self._drawn is not None and self._drawn[1].bender is not None:
                self._drawn[1].bender.remove()  # the last render's hooks: not on this one
            generator = self.generator if tuning is None else apply_delta(
                self.generator, WeightDelta.from_arrays(tuning[1]), "the scene's tuning")
            check_extend(output, generator)
            source = frame_source(generator, upscale=output.upscale, size=output.size,
                                  smooth=output.upscale_smooth, canvas=output_canvas(output))
            self._drawn = (key, replace(source, bender=bender_for(generator, slots)))
        return self._drawn[1]


def _load(spec: WorkerSpec, model_bytes: bytes | None, device):
    """The scene's generator; a shipped model file is loaded from a private copy."""
    from latentreel.models.registry import load_generator

    if model_bytes is None:
        return load_generator(spec.model, device, base=Path(spec.base))
    with tempfile.TemporaryDirectory(prefix="latentreel-model-") as tmp:
        copy = Path(tmp) / Path(spec.model).name  # same name: same generator name
        copy.write_bytes(model_bytes)
        return load_generator(str(copy), device)
