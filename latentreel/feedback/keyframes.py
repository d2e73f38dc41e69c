"""Keyframe kinds for feedback loops: ``feedback: {from, steps, map, mix, until}``."""

from __future__ import annotations

from tqdm import tqdm

from latentreel.faces.photo import face_photo_problem
from latentreel.feedback.maps import MAPS
from latentreel.spec.fields import REQUIRED, Spec
from latentreel.spec.kind import KeyframeKind, KindReport, ResolveContext


def _resolve_feedback(params: dict, ctx: ResolveContext, where: str):
    from latentreel.feedback.chain import FeedbackSettings, run_chain

    settings = FeedbackSettings(steps=params["steps"], map=params["map"], mix=params["mix"],
                                until=params["until"], threshold=params["threshold"],
                                seed=ctx.scene_seed)
    report = run_chain(ctx.generator, ctx.facenet(), ctx.named[params["from"]], settings,
                       progress=ctx.progress, space=ctx.space)
    ctx.state.reports.append(KindReport(where, report))
    if ctx.progress:
        found = []
        if report.fixed_point is not None:
            found.append(f"face {report.fixed_point} is a fixed point")
        if report.cycle is not None:
            found.append(f"cycle: face {report.cycle[1]} returns to face {report.cycle[0]}")
        tqdm.write(f"{where}: feedback chain of {len(report.latents)} faces; "
                   + ("; ".join(found) if found else "no fixed point or cycle"))
    return report.latents


def _resolve_search(params: dict, ctx: ResolveContext, where: str):
    import torch

    from latentreel.faces.align import align_face
    from latentreel.faces.photo import load_photo
    from latentreel.faces.template import generator_template
    from latentreel.feedback.search import search_identity

    crop = align_face(load_photo(params["target"]), generator_template(ctx.generator), 160,
                      source=params["target"]).crop
    facenet = ctx.facenet()  # after the photo's checks: a photo without a face fails fast
    with torch.no_grad():
        target = facenet.embed(torch.from_numpy(crop[None].copy()))
    result = search_identity(ctx.generator, facenet, target, dims=params["dims"],
                             method=params["method"], until=params["until"],
                             seconds=params["seconds"], seed=ctx.scene_seed,
                             progress=ctx.progress)
    ctx.state.reports.append(KindReport(where, result))
    if ctx.progress:
        tqdm.write(f"{where}: search reached FaceNet similarity {1 - result.distance:.3f} "
                   f"after {result.evaluations} faces in {result.seconds:.1f} s")
    return ctx.generator.to_space(result.latent[None], ctx.space)


KEYFRAME_KINDS = [
    KeyframeKind(
        name="feedback",
        spec=Spec("mapping", help="a chain of faces, each seeded by FaceNet's view of the last",
                  fields={
                      "from": Spec("string", default=REQUIRED, help="the keyframe to start from"),
                      "steps": Spec("int", default=20, min=1, max=100000),
                      "map": Spec("enum", choices=MAPS, default="direct",
                                  help="embedding -> latent"),
                      "mix": Spec("number", default=0.0, min=0, max=0.99,
                                  help="weight of the previous latent (slower drift)"),
                      "until": Spec("enum", choices=("fixed-point",),
                                    help="stop the chain at the first fixed point"),
                      "threshold": Spec("number", default=0.02, min=0, max=2,
                                        help="FaceNet distance (1 - cosine) that counts as "
                                             "the same face"),
                  }),
        help="a FaceNet feedback loop expanded into keyframes",
        resolve=_resolve_feedback,
        refs=lambda p: [("from", p["from"])],
    ),
    KeyframeKind(
        name="search",
        spec=Spec("mapping", help="search a low-dimensional subspace for a face like a photo",
                  shorthand="target", fields={
                      "target": Spec("path", default=REQUIRED, must_exist=True,
                                     check=face_photo_problem, help="the photo to look like"),
                      "dims": Spec("int", default=8, min=1, max=100, help="subspace size"),
                      "method": Spec("enum", choices=("dual-annealing", "random"),
                                     default="dual-annealing"),
                      "until": Spec("number", default=0.9, min=-1, max=1,
                                    help="stop at this FaceNet cosine similarity"),
                      "seconds": Spec("number", default=60.0, min=0.1, max=86400,
                                      help="time limit"),
                  }),
        help="a face found by gradient-free search towards a target photo (seed 003)",
        resolve=_resolve_search,
    ),
]
