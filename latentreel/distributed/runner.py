"""The driver of a distributed render: keyframes resolved once, segments handed to Ray actors.

The driver resolves the scene into a frame path (photo inversions and their pivotal tuning,
feedback chains, searches and re-timing happen here, once), puts the path and the tuning's
weight delta into Ray's object store and hands segment numbers to idle workers. Each worker
streams back frames-done counts (for the one progress bar) and then the segment's bytes,
which the driver writes into the same work folder and manifest as a plain segmented render,
so `--resume` works across both. A worker that dies costs only the segment it was rendering:
the segment goes to the next idle worker, and the dead one rejoins once Ray has restarted it.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from latentreel.distributed.cluster import Cluster, RayOptions, connect, import_ray
from latentreel.distributed.worker import WorkerSpec, plan_workers, start_workers
from latentreel.errors import BadInputError, LatentreelError, RenderError
from latentreel.render.pipeline import RenderOptions, mux_soundtrack, plan_render
from latentreel.render.prepared import PreparedScene
from latentreel.render.segments import DEFAULT_SEGMENT_SECONDS, SegmentWork, prepare_segments
from latentreel.scene.model import Scene
from latentreel.video.writer import atomic_output

MAX_ATTEMPTS = 3  # a segment whose worker died this often ends the render (not a lost machine)


@dataclass(frozen=True)
class RayRenderResult:
    path: Path
    frames: int  # frames in the video
    rendered: int  # frames rendered by this run (fewer after --resume)
    seconds: float  # wall time of the whole render, cluster start included
    first_frame_seconds: float | None  # from the start until a worker reported a frame
    workers: int
    retried: int  # segments handed out again after their worker died

    @property
    def fps(self) -> float:
        return self.rendered / self.seconds if self.seconds > 0 else float("inf")


def render_scene_ray(scene: Scene, options: RenderOptions, ray_options: RayOptions, *,
                     on_event=None) -> RayRenderResult:
    """Render ``scene`` on a Ray cluster, in segments, into one MP4.

    ``on_event(name, **info)``: called with "worker-ready" (host, pid, device), "progress"
    (segment, frames, pid: the first batch of each segment) and "retried" (segment, error),
    for tools and tests that watch a render.

    Raises:
        BadInputError: bad scene, Ray missing, bad or unreachable address, too few resources.
        RenderError: a segment failed on every attempt, or ffmpeg failed.
    """
    t0 = time.perf_counter()
    ray = import_ray()  # before any work: without Ray, say how to install it
    # 1. Connect (or start a local instance) and start the workers: they load the model
    #    while the driver resolves the keyframes.
    with connect(ray_options, device=options.device) as cluster:
        spec = plan_workers(cluster, ray_options, model=scene.model, base=scene.base,
                            device=options.device, precision=options.precision,
                            batch_size=options.batch_size)
        workers = start_workers(ray, spec)
        # 2. Resolve keyframes once, here, and open the work folder (finished segments stay).
        plan = plan_render(scene, options)
        work = prepare_segments(plan.output, plan.path.total_frames, plan.fingerprint(),
                                segment_seconds=_segment_seconds(options, plan, spec),
                                resume=options.resume, progress=options.progress)
        # 3. Wait (bounded) until the workers have their models.
        infos = _await_workers(ray, workers, cluster, ray_options, on_event)
        # 4. Hand out the missing segments; collect their bytes; retry lost ones.
        loop = _SegmentLoop(ray, workers, infos, plan, work, options.progress, t0, on_event)
        loop.run()
    # 5. Join the segments losslessly and atomically; add the soundtrack.
    work.join(plan.output.path)
    mux_soundtrack(plan.output)
    return RayRenderResult(path=plan.output.path, frames=work.total, rendered=loop.rendered,
                           seconds=time.perf_counter() - t0,
                           first_frame_seconds=loop.first_frame, workers=len(workers),
                           retried=loop.retried)


def _segment_seconds(options: RenderOptions, plan: PreparedScene,
                     spec: WorkerSpec) -> float | None:
    """The asked-for length; on resume the interrupted one's; else a few segments a worker."""
    if options.segment_seconds or options.resume:
        return options.segment_seconds
    seconds = plan.path.total_frames / plan.output.fps
    return min(DEFAULT_SEGMENT_SECONDS, max(1.0, seconds / (3 * spec.count)))


def _await_workers(ray, workers: list, cluster: Cluster, ray_options: RayOptions,
                   on_event) -> list[dict]:
    """Each worker's ready() answer, once all have their models (bounded by --ray-timeout)."""
    refs = [w.ready.remote() for w in workers]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=ray_options.timeout)
    if len(ready) < len(refs):
        raise BadInputError(f"--ray {cluster.address}: only {len(ready)} of {len(refs)} "
                            f"workers started within {ray_options.timeout:.0f} s (the cluster "
                            f"has {cluster.cpus} CPUs, {cluster.gpus} GPUs, shared with other "
                            "jobs); use fewer --workers or a longer --ray-timeout")
    infos = ray.get(refs)
    for info in infos:
        if info["error"] is not None:
            message, code = info["error"]
            kind = BadInputError if code == 2 else RenderError
            raise kind(f"worker on {info['host']}: {message}")
        if on_event:
            on_event("worker-ready", **info)
    return infos


def cpu_path(path):
    """``path`` with its tensors on the CPU, for workers that may have no GPU of that number
    (a grid's CellPaths: each cell's)."""
    from latentreel.latents.cells import CellPaths
    from latentreel.latents.path import LatentPath

    if isinstance(path, CellPaths):
        return CellPaths([cpu_path(p) for p in path.paths])

    return LatentPath(path.keyframes.detach().cpu(), path.hold_frames, path.transition_frames,
                      path.interpolation, path.easing, path.loop,
                      {i: t.cpu() for i, t in path.t_override.items()}, path.offsets,
                      None if path.camera is None else path.camera.cpu(), path.turns,
                      None if path.react is None else path.react.cpu())


def _bend_ref(ray, plan: PreparedScene):
    """The scene's bend slots and whole per-frame bend track (on the CPU), shipped once: each
    worker hooks its own model's layers and bends every frame as the driver would (None: the
    scene bends nothing)."""
    bender = plan.source.bender
    if bender is None or "bend" not in plan.tracks:
        return None
    return ray.put((bender.slots, plan.tracks["bend"].detach().cpu()))


class _SegmentLoop:
    """Idle workers take the next missing segment; results and deaths come back in any order."""

    def __init__(self, ray, workers: list, infos: list[dict], plan: PreparedScene,
                 work: SegmentWork, progress: bool, t0: float, on_event):
        self.ray, self.plan, self.work, self.t0, self.on_event = ray, plan, work, t0, on_event
        self.path_ref = ray.put(cpu_path(plan.path))  # shipped once, read by every worker
        # The scene's tuning (photos): a small weight delta each worker adds to its own model.
        self.tuning_ref = None if plan.delta is None else \
            ray.put((plan.tuning, plan.delta.to_arrays()))
        self.bend_ref = _bend_ref(ray, plan)
        self.queue = deque(work.pending())
        self.workers, self.infos = workers, list(infos)
        self.idle = deque(range(len(workers)))  # worker numbers
        self.running: dict = {}  # streaming generator -> [worker, segment, frames done]
        self.recovering: dict = {}  # ready() call -> worker that died and may come back
        self.attempts: Counter = Counter()
        self.retried = self.rendered = 0
        self.first_frame: float | None = None
        self.bar = tqdm(total=work.total, initial=work.done_frames(), unit="frame",
                        desc=plan.output.path.name, disable=not progress, dynamic_ncols=True)

    def run(self) -> None:
        with self.bar:
            while self.queue or self.running:
                self._hand_out()
                if not self.running and not self.recovering:
                    raise RenderError("every Ray worker was lost; the finished segments are "
                                      "kept, continue with --resume")
                ready, _ = self.ray.wait([*self.running, *self.recovering], num_returns=1,
                                         timeout=1.0)
                for ref in ready:
                    if ref in self.recovering:
                        self._rejoin(ref)
                    else:
                        self._receive(ref)

    def _hand_out(self) -> None:
        while self.queue and self.idle:
            worker, i = self.idle.popleft(), self.queue.popleft()
            gen = self.workers[worker].render.remote(self.path_ref, self.work.bounds(i),
                                                     self.plan.output, self.plan.space,
                                                     self.tuning_ref, self.bend_ref)
            self.running[gen] = [worker, i, 0]

    def _receive(self, gen) -> None:
        worker, i, done = self.running[gen]
        try:
            item = self.ray.get(next(gen))
        except self._lost_worker_errors() as e:
            del self.running[gen]
            self._retry(worker, i, done, e)
            return
        except self.ray.exceptions.RayTaskError as e:  # a real failure: ffmpeg, a bug
            cause = e.cause if isinstance(e.cause, LatentreelError) else \
                RenderError(f"segment {i} failed on a worker: {e.cause!r}")
            raise cause from None
        if isinstance(item, int):
            if done == 0 and self.on_event:
                self.on_event("progress", segment=i, frames=item, pid=self.infos[worker]["pid"])
            self.running[gen][2] += item
            self.rendered += item
            self.bar.update(item)
            if self.first_frame is None:
                self.first_frame = time.perf_counter() - self.t0
            return
        with atomic_output(self.work.names[i]) as tmp:  # complete or absent, as locally
            tmp.write_bytes(item)
        del self.running[gen]
        self.idle.append(worker)

    def _retry(self, worker: int, i: int, done: int, error: Exception) -> None:
        self.attempts[i] += 1
        self.retried += 1
        self.rendered -= done
        self.bar.update(-done)
        if self.attempts[i] >= MAX_ATTEMPTS:
            raise RenderError(f"segment {i} lost its worker {MAX_ATTEMPTS} times "
                              f"({type(error).__name__}); continue with --resume")
        self.queue.appendleft(i)  # next idle worker, elsewhere if one is free
        self.recovering[self.workers[worker].ready.remote()] = worker  # once restarted
        if self.on_event:
            self.on_event("retried", segment=i, error=type(error).__name__)

    def _rejoin(self, ref) -> None:
        worker = self.recovering.pop(ref)
        try:
            info = self.ray.get(ref)
        except self._lost_worker_errors():
            return  # gone for good (its machine left the cluster): the others carry on
        if info["error"] is None:
            self.infos[worker] = info
            self.idle.append(worker)

    def _lost_worker_errors(self) -> tuple[type[Exception], ...]:
        ex = self.ray.exceptions
        return tuple(getattr(ex, name) for name in (
            "RayActorError", "WorkerCrashedError", "ObjectLostError", "NodeDiedError",
            "OwnerDiedError") if hasattr(ex, name))
