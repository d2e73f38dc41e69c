"""`latentreel play`: a scene live, in a window or headless, steered over OSC, MIDI and sound."""

from __future__ import annotations

from pathlib import Path

import typer

from latentreel.cli.app import app
from latentreel.cli.options import DEVICE_HELP, checked_name


@app.command()
def play(
    scene: Path = typer.Argument(..., help="The scene YAML file."),
    fullscreen: bool = typer.Option(False, "--fullscreen", help="Fill the screen."),
    size: int = typer.Option(None, min=16, max=4096, help="Window and recording size "
                             "(default: output size)."),
    frames: int = typer.Option(None, "--frames", min=1, help="Stop after this many frames."),
    seconds: float = typer.Option(None, "--seconds", min=0.01, help="Stop after this long."),
    headless: bool = typer.Option(False, "--headless", help="No window (stream or record "
                                  "elsewhere)."),
    record: Path = typer.Option(None, "--record", callback=checked_name, help="Write what "
                                "was shown to this MP4, at the scene's fps, with "
                                "NAME.frames.json (replay: render --controls)."),
    osc: int = typer.Option(None, "--osc", min=0, max=65535, help="Listen for OSC on this "
                            "UDP port (/latentreel/goto, set, pulse, pause, resume)."),
    osc_host: str = typer.Option("127.0.0.1", "--osc-host", help="Where --osc listens "
                                 "(0.0.0.0: every interface)."),
    osc_out: str = typer.Option(None, "--osc-out", help="HOST:PORT to send /latentreel/loop "
                                "and /latentreel/keyframe NAME to."),
    midi: str = typer.Option(None, "--midi", help="MIDI input port for the scene's "
                             "controls.midi (auto: the first port)."),
    listen: str = typer.Option(None, "--listen", help="Sound for the scene's "
                               "controls.listen and its react: entries on onsets, loudness, "
                               "bass, mid or high: default (the system's input), a device "
                               "name or number, or file:SONG.wav (played in real time)."),
    screenshot: Path = typer.Option(None, help="Save the last frame shown as a PNG."),
    device: str = typer.Option("auto", help=DEVICE_HELP),
    upscale: str = typer.Option(None, help="Override output.upscale: none | lanczos | an "
                                "upscaler from `latentreel models`."),
) -> None:
    """Show a scene live, looping until stopped (Esc or q in the window, Ctrl-C)."""
    from latentreel.errors import BadInputError
    from latentreel.live.osc import parse_host_port
    from latentreel.live.session import Hooks, LiveOptions, perform
    from latentreel.scene import load_scene
    from latentreel.video.formats import suffix_problem

    if record is not None and suffix_problem(record):
        raise BadInputError(f"--record {record}: {suffix_problem(record)}")
    options = LiveOptions(
        headless=headless, fullscreen=fullscreen, size=size, seconds=seconds,
        max_frames=frames, record=record, screenshot=screenshot, osc_port=osc,
        osc_host=osc_host, osc_out=parse_host_port(osc_out, "--osc-out") if osc_out else None,
        midi=midi, listen=listen, device=device, upscale=upscale)
    hooks = Hooks(on_ready=lambda r, inbox: typer.echo(
        f"listening for OSC on {osc_host}:{r.osc_port}", err=True) if osc is not None else None)
    result = perform(load_scene(scene), options, hooks=hooks,
                     log=lambda line: typer.echo(line, err=True))
    refused = sum(result.refused.values())
    extra = f", {result.dropped} dropped" if result.dropped else ""
    extra += f", {result.applied} controls applied" if result.applied else ""
    extra += f", {refused} refused" if refused else ""
    wrote = f"; wrote {record}" if record is not None else ""
    typer.echo(f"showed {result.shown} frames in {result.seconds:.1f} s{extra}{wrote}")


@app.command("midi-learn")
def midi_learn(
    port: str = typer.Option("auto", "--port", help="MIDI input port (auto: the first)."),
    seconds: float = typer.Option(30.0, "--seconds", min=0.1, help="How long to wait."),
    list_ports: bool = typer.Option(False, "--list", help="List MIDI input ports and exit."),
) -> None:
    """Move a control on a MIDI device: print the controls.midi line that binds it."""
    from latentreel.errors import BadInputError
    from latentreel.live.midi import input_names, learn, open_port

    if list_ports:
        names = input_names("midi-learn")
        typer.echo("\n".join(names) if names else "no MIDI input ports")
        return
    with open_port(port, None, "midi-learn") as opened:
        typer.echo(f"listening on {opened.name}: move a knob or hit a pad", err=True)
        line = learn(opened.iter_pending, timeout=seconds)
    if line is None:
        raise BadInputError(f"midi-learn: nothing moved on {port} in {seconds:g} s")
    typer.echo(line)
