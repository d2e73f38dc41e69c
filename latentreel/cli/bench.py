"""`latentreel bench ...`: benchmarks that print ratios and write JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from latentreel.cli.app import app
from latentreel.cli.options import DEVICE_HELP, MODEL_HELP, checked_name

bench_app = typer.Typer(help="Benchmarks: speed and memory, side by side, as ratios.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("render")
def bench_render(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    frames: int = typer.Option(900, min=60, help="Frames per measurement."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    model: str = typer.Option("dcgan-digiface", callback=checked_name, help=MODEL_HELP),
    memory: bool = typer.Option(True, help="Also measure peak memory, 300 vs 3,000 frames."),
    wide: bool = typer.Option(True, help="Also a 1920x1080 frame (pad, extend) against a "
                                         "1024-px square, on a 1024-px StyleGAN2."),
    wide_only: bool = typer.Option(False, "--wide-only", help="Only the 1920x1080 case."),
    wide_frames: int = typer.Option(8, min=4, help="Frames per 1920x1080 measurement."),
    wide_rounds: int = typer.Option(2, min=1, help="Rounds of the 1920x1080 cases (each "
                                                   "case's best is kept)."),
    wide_model: str = typer.Option(None, callback=checked_name,
                                   help="A 1024-px model for the 1920x1080 case (default: a "
                                        "random StyleGAN2 with few channels)."),
) -> None:
    """Generator, encoder, full render and the naive way: frames/s and ratios."""
    from latentreel.bench.common import write_json

    results = {}
    if not wide_only:
        from latentreel.bench.render import run_render_bench

        results = run_render_bench(frames=frames, device=device, model=model, memory=memory,
                                   log=typer.echo)
    if wide or wide_only:
        from latentreel.bench.canvas import run_wide_bench

        results["wide"] = run_wide_bench(frames=wide_frames, device=device, model=wide_model,
                                         rounds=wide_rounds, log=typer.echo)
    write_json(json_out, results)


@bench_app.command("upscale")
def bench_upscale(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    frames: int = typer.Option(8, min=2, help="Frames per speed measurement."),
    flicker_frames: int = typer.Option(24, min=3, help="Frames for the flicker figures."),
    e2e_frames: int = typer.Option(24, min=4,
                                   help="Frames per end-to-end render (RRDBNet: a quarter)."),
    memory: bool = typer.Option(True, help="Also measure peak memory, 40 vs 160 frames."),
    bf16: bool = typer.Option(True, help="Also time bf16 (CPU) and its deviation."),
    picture: Path = typer.Option(None, help="Also write lanczos vs each upscaler as a PNG."),
    flicker_only: bool = typer.Option(False, "--flicker-only", help="Only the flicker and "
                                      "sharpness figures, raw and stabilised."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
) -> None:
    """Learned upscalers: frames/s vs the ncnn runtime, E2E ratio, memory, flicker."""
    from latentreel.bench.common import write_json
    from latentreel.bench.upscale import run_upscale_bench

    write_json(json_out, run_upscale_bench(frames=frames, flicker_frames=flicker_frames,
                                           e2e_frames=e2e_frames, memory=memory, bf16=bf16,
                                           picture=picture, flicker_only=flicker_only,
                                           device=device, log=typer.echo))


@bench_app.command("stylegan")
def bench_stylegan(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    resolution: list[int] = typer.Option(None, help="Output resolution of the random "
                                         "FFHQ-shaped network (64-1024; repeat for several). "
                                         "Default: 1024, and 256 too for StyleGAN3."),
    arch: str = typer.Option("stylegan2", help="stylegan2 | stylegan3-t | stylegan3-r "
                             "(StyleGAN3 runs beside a StyleGAN2 of the same resolution)."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    frames: int = typer.Option(240, min=4, help="Frames for the encoder and E2E figures."),
    size: int = typer.Option(None, help="Video size (default: the resolution)."),
    batches: str = typer.Option("1,4,16,32", help="Batch sizes for images/s, e.g. 1,4."),
    invert_steps: int = typer.Option(50, min=2, help="Steps timed per inversion stage."),
    precisions: str = typer.Option(None, help="G table precisions, e.g. fp32 (default: fp32 "
                                   "and fp16 on CUDA, bf16 elsewhere)."),
    parts: str = typer.Option("g,e2e,invert", help="What to measure: g (images/s), e2e "
                              "(encoder and full render), invert (W+ s/1000 steps)."),
) -> None:
    """StyleGAN2/3 (random FFHQ-shaped weights): images/s, E2E render, W+ inversion s/1000."""
    from latentreel.bench.common import write_json
    from latentreel.bench.stylegan import ARCHS, run_arch_bench, run_stylegan_bench
    from latentreel.spec.lists import parse_int_list
    from latentreel.errors import BadInputError

    if arch not in ARCHS:
        raise BadInputError(f"--arch {arch}: use one of {', '.join(ARCHS)}")
    default = [1024] if arch == "stylegan2" else [256, 1024]
    resolutions = list(resolution or default)
    for res in resolutions:
        if res not in (64, 128, 256, 512, 1024):
            raise BadInputError(f"--resolution {res}: use 64, 128, 256, 512 or 1024")
    sizes = tuple(parse_int_list(batches, "--batches"))
    if 0 in sizes:
        raise BadInputError(f"--batches {batches}: batch sizes start at 1")
    wanted = tuple(p.strip() for p in parts.split(",") if p.strip())
    if not wanted or set(wanted) - {"g", "e2e", "invert"}:
        raise BadInputError(f"--parts {parts}: use g, e2e and/or invert, e.g. g,invert")
    common = dict(device=device, frames=frames, size=size, invert_steps=invert_steps,
                  batches=sizes, parts=wanted, log=typer.echo,
                  precisions=[p.strip() for p in precisions.split(",")] if precisions else None)
    if arch == "stylegan2" and len(resolutions) == 1:
        results = run_stylegan_bench(resolution=resolutions[0], **common)
    else:
        results = run_arch_bench(arch, resolutions=resolutions, **common)
    write_json(json_out, results)


@bench_app.command("projector")
def bench_projector(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    faces: int = typer.Option(8, min=1, help="Generated faces to invert."),
    steps: int = typer.Option(1000, min=10, help="Adam steps per inversion."),
    space: str = typer.Option("w+", help="w or w+"),
    small: bool = typer.Option(True, help="A 32 px network (--no-small: FFHQ-shaped)."),
    resolution: int = typer.Option(256, help="Resolution of the FFHQ-shaped network."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
) -> None:
    """W/W+ inversion: cosine vs NVIDIA's held lr vs its latent noise ramp, median PSNR."""
    from latentreel.bench.common import write_json
    from latentreel.bench.projector import run_projector_bench
    from latentreel.errors import BadInputError

    if space not in ("w", "w+"):
        raise BadInputError(f"--space {space}: use w or w+")
    write_json(json_out, run_projector_bench(faces=faces, steps=steps, space=space, small=small,
                                             resolution=resolution, device=device,
                                             log=typer.echo))


@bench_app.command("invert")
def bench_invert(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    n: int = typer.Option(256, min=1, help="Generated faces for the recovery table."),
    steps: int = typer.Option(1000, min=1, help="Adam steps for the recovery table."),
    methods_n: int = typer.Option(64, "--methods-n", min=1, help="Faces for the method table."),
    photo: Path = typer.Option(None, help="A real photo (default: scikit-image's astronaut)."),
    random_faces: int = typer.Option(1000, min=10,
                                     help="Random faces to beat in FaceNet distance."),
    model: str = typer.Option("dcgan-digiface", callback=checked_name, help=MODEL_HELP),
) -> None:
    """Inversion: Lipton & Tripathi's recovery table, methods compared, a real photo."""
    from latentreel.bench.common import write_json
    from latentreel.bench.invert import run_invert_bench

    write_json(json_out, run_invert_bench(model=model, n=n, steps=steps, methods_n=methods_n,
                                          photo=photo, random_faces=random_faces, log=typer.echo))


@bench_app.command("tune")
def bench_tune(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    model: Path = typer.Option(None, "--model", callback=checked_name,
                               help="A StyleGAN2 .pkl/.pt file (default: a random FFHQ-shaped "
                               "StyleGAN2 built in memory, never saved)."),
    resolution: int = typer.Option(256, min=8, max=1024, help="The random network's size."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    steps: int = typer.Option(None, min=1, help="Steps of the new settings (default: this "
                              "device's, by resolution)."),
    today_steps: int = typer.Option(None, min=1, help="Steps of today's settings (300)."),
    recipe: bool = typer.Option(False, "--recipe", help="New settings: the 256-px-and-up "
                                "recipe at any size (a narrow stand-in up to 128 px)."),
    seed: int = typer.Option(1, min=0, help="Seed of the pivot and its photo."),
    channel_base: int = typer.Option(32768, min=64, help="Width of the random network "
                                     "(smaller: a quick narrow stand-in)."),
    timed_steps: int = typer.Option(5, min=2, help="Steps timed when a run is extrapolated."),
    budget: float = typer.Option(1200, min=0, help="Seconds a full run may take; longer "
                                 "ones are timed over --timed-steps and extrapolated."),
    dcgan: bool = typer.Option(False, "--dcgan", help="Instead: the DCGAN photo bench "
                               "(astronaut variants, dlib, locality, average face, anti-me)."),
    photos: int = typer.Option(5, min=1, max=5, help="--dcgan: astronaut variants (up to 5)."),
    invert_steps: int = typer.Option(300, min=1, help="--dcgan: inversion steps."),
    tune_steps: int = typer.Option(300, min=1, help="--dcgan: pivotal tuning steps."),
    random_faces: int = typer.Option(1000, min=10, help="--dcgan: random faces to beat."),
    average_faces: int = typer.Option(1000, min=10, help="--dcgan: faces for centrality."),
    facenet_steps: int = typer.Option(80, min=0, help="--dcgan: FaceNet stage steps."),
    restarts: int = typer.Option(8, min=1, help="--dcgan: inversion restarts."),
    picture: Path = typer.Option(None, help="Also write a PNG: the photo, pivot and random "
                                 "faces before/after each measured tuning (--dcgan: each photo, "
                                 "pivot, tuned face, average, anti-face and seeds)."),
) -> None:
    """Pivotal tuning: seconds per photo, PSNR and locality, today's settings beside this
    device's defaults (StyleGAN2); --dcgan: the DCGAN photo bench."""
    from latentreel.bench.common import write_json

    if not dcgan:
        from latentreel.bench.tune_speed import run_tune_speed_bench

        write_json(json_out, run_tune_speed_bench(
            model=model, resolution=resolution, device=device, steps=steps,
            today_steps=today_steps, recipe=recipe, channel_base=channel_base, seed=seed,
            picture_path=picture,
            timed_steps=timed_steps, budget=budget, log=typer.echo))
        return
    from latentreel.bench.tune import run_tune_bench

    results: dict = {}
    try:
        run_tune_bench(photos=photos, steps=invert_steps, tune_steps=tune_steps,
                       random_faces=random_faces, average_faces=average_faces,
                       facenet_steps=facenet_steps,
                       restarts=restarts, picture=picture, log=typer.echo, results=results)
    finally:
        write_json(json_out, results)  # what finished, even when a later part failed


@bench_app.command("load")
def bench_load(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    baseline: Path = typer.Option(None, "--baseline", help="Another latentreel checkout "
                                  "(its repository root) to time side by side."),
    resolutions: str = typer.Option("64,1024", help="Comma-separated network resolutions."),
    repeats: int = typer.Option(3, min=1, help="Child processes per loader and resolution."),
    tf: bool = typer.Option(False, "--tf", help="Instead: a TensorFlow-era pickle against "
                            "the same network as a PyTorch-era one (time, peak memory)."),
) -> None:
    """Seconds to load a legit FFHQ-shaped StyleGAN2 pickle, this loader vs --baseline
    (or, with --tf, TensorFlow-era vs PyTorch-era files of one network)."""
    from latentreel.bench.common import write_json
    from latentreel.bench.model_load import run_load_bench, run_tf_load_bench
    from latentreel.errors import BadInputError

    try:
        sizes = [int(r) for r in resolutions.split(",")]
    except ValueError:
        raise BadInputError(f"--resolutions {resolutions!r}: write e.g. 64,1024") from None
    if tf:
        if baseline is not None or len(sizes) != 1:
            raise BadInputError("--tf compares two files of one network: give one "
                                "--resolutions value and no --baseline")
        write_json(json_out, run_tf_load_bench(resolution=sizes[0], repeats=repeats,
                                               log=typer.echo))
        return
    if baseline is not None and not (baseline / "latentreel" / "__init__.py").is_file():
        raise BadInputError(f"--baseline {baseline}: not a latentreel checkout (no "
                            "latentreel/__init__.py in it)")
    write_json(json_out, run_load_bench(resolutions=sizes, repeats=repeats, baseline=baseline,
                                        log=typer.echo))


@bench_app.command("ray")
def bench_ray(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    frames: int = typer.Option(600, min=30, help="Frames of the (lossless) bench scene."),
    size: int = typer.Option(256, min=16, max=4096, help="Video size in pixels."),
    workers: str = typer.Option("1,2", help="Ray worker counts to run, e.g. 1,2,4."),
    device: str = typer.Option("auto", help="auto | cpu | cuda"),
    wire_size: int = typer.Option(1024, min=0, help="Also measure MB per minute of video at "
                                  "this size (what workers send back; 0: skip)."),
    repeat: int = typer.Option(2, min=1, help="Runs of each, interleaved; the fastest counts."),
) -> None:
    """Plain render vs `--ray local --workers N`: frames/s, ratios, time to first frame."""
    from latentreel.bench.common import write_json
    from latentreel.bench.distributed import run_ray_bench
    from latentreel.spec.lists import parse_int_list
    from latentreel.distributed.cluster import import_ray

    import_ray()  # without Ray: the install command, before any rendering
    write_json(json_out, run_ray_bench(frames=frames, size=size,
                                       workers=tuple(parse_int_list(workers, "--workers")),
                                       device=device,
                                       wire_size=wire_size or None, repeat=repeat,
                                       log=typer.echo))


@bench_app.command("live")
def bench_live(
    json_out: Path = typer.Option(None, "--json", help="Write the figures as JSON here."),
    seconds: float = typer.Option(10.0, min=1, help="Seconds of play per frame rate."),
    soak: float = typer.Option(None, "--soak", min=5, help="Then play headless this many "
                               "seconds under a control storm (an hour: 3600)."),
    device: str = typer.Option("cpu", help=DEVICE_HELP),
    model: str = typer.Option("dcgan-digiface", callback=checked_name, help=MODEL_HELP),
) -> None:
    """Control-to-frame latency (p50/p95, ms and frames) and jitter at 30 and 60 fps;
    --soak: memory, threads and files at the start and end of a long stormy run."""
    from latentreel.bench.common import write_json
    from latentreel.bench.live import run_live_bench

    write_json(json_out, run_live_bench(model=model, seconds=seconds, soak_seconds=soak,
                                        device=device, log=typer.echo))
