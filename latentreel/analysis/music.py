"""A picture of a song's features, with a scene's pinned keyframes and reactions marked.

`latentreel audio song.wav -o features.png` plots what the analysis heard (onsets with the
beats and bars, loudness, the bands, chroma, section starts); given a scene instead, it also
marks where each keyframe starts and draws every reaction's shaped envelope, the very values
its drive receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentreel.audio.cache import song_features
from latentreel.audio.features import Features
from latentreel.audio.shaping import shape
from latentreel.errors import BadInputError

SCENE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class MusicSummary:
    features: Features
    keyframe_frames: list[int]  # where each keyframe's hold starts (a scene only)
    reactions: list[str]  # one label per reaction drawn


def plot_music(source: Path, out: Path, *, fps: int | None = None) -> MusicSummary:
    """Plot the features of ``source`` (a sound file, or a scene with `audio:`) to ``out``.

    Raises:
        BadInputError: unreadable sound, a bad scene, or a scene without music.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scene = None
    if source.suffix.lower() in SCENE_SUFFIXES:
        from latentreel.scene.load import load_scene

        scene = load_scene(source)
        if scene.audio is None:
            raise BadInputError(f"{source}: the scene has no `audio:`; add one or plot a "
                                "sound file")
    fps = fps or (scene.output.fps if scene else 30)
    f = song_features(scene.audio.path if scene else source, fps)
    starts = _keyframe_starts(scene, fps) if scene else []
    rows = 5 + bool(scene and scene.react)
    fig, axes = plt.subplots(rows, 1, figsize=(14, 2.0 * rows), sharex=True)
    t = np.arange(f.frames)
    axes[0].plot(t, f.onsets, lw=0.8, label="onsets")
    for b in f.beats:
        axes[0].axvline(b, color="0.8", lw=0.5, zorder=0)
    for b in f.bars:
        axes[0].axvline(b, color="0.4", lw=0.8, zorder=0)
    axes[0].set_title(f"{(scene.audio.path if scene else source).name}: {f.tempo:.1f} bpm, "
                      f"{len(f.beats)} beats, {f.frames} frames at {fps} fps "
                      "(grey: beats, dark: bars)", fontsize=9)
    axes[1].plot(t, f.loudness, lw=0.8, label="loudness")
    for s in f.sections:
        axes[1].axvline(s, color="tab:red", lw=1.2)
    for name in ("bass", "mid", "high"):
        axes[2].plot(t, getattr(f, name), lw=0.8, label=name)
    axes[3].imshow(f.chroma, aspect="auto", origin="lower", interpolation="nearest",
                   extent=(0, f.frames, -0.5, 11.5))
    axes[3].set_yticks(range(12), "C C# D D# E F F# G G# A A# B".split(), fontsize=6)
    labels = []
    if scene and scene.react:
        labels = _plot_reactions(axes[4], scene, f, fps)
    ax = axes[-1]
    ax.set_yticks([])
    for i, s in enumerate(starts):
        for a in axes:
            a.axvline(s, color="tab:green", lw=1.0, ls="--")
        ax.text(s, 0.5, f" kf {i}", fontsize=7, color="tab:green")
    ax.set_xlabel("video frame (green dashes: keyframes start; red: section starts)")
    for a in axes[:3]:
        a.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return MusicSummary(features=f, keyframe_frames=starts, reactions=labels)


def _plot_reactions(ax, scene, mix: Features, fps: int) -> list[str]:
    labels = []
    for r in scene.react:
        feats = song_features(scene.audio.stems[r.stem], fps) if r.stem else mix
        x = feats.series(r.feature)
        env = r.amount * (shape(x.max(axis=0), r.shaping, fps) if x.ndim == 2 else
                          shape(x, r.shaping, fps))
        label = f"{r.drive} <- {r.feature}" + (f" ({r.stem})" if r.stem else "")
        ax.plot(np.arange(len(env)), env, lw=0.8, label=label)
        labels.append(label)
    ax.legend(loc="upper right", fontsize=7)
    ax.set_title("reactions: shaped envelopes x amount", fontsize=9)
    return labels


def _keyframe_starts(scene, fps: int) -> list[int]:
    """Where each keyframe's hold starts, laid out as the render lays it out (feedback chains
    count as their first keyframe; no model is loaded)."""
    from latentreel.render.react import music_timing, scene_music
    from latentreel.render.schedule import build_path

    music = scene_music(scene, fps)
    pins, total = music_timing(scene, music, fps)
    path = build_path(scene.keyframes, torch.zeros(len(scene.keyframes), 1), fps, scene.loop,
                      pins=pins, total=total)
    starts, at = [], 0
    for i in range(len(scene.keyframes)):
        starts.append(at)
        at += path.hold_frames[i] + (path.transition_frames[i]
                                     if i < len(path.transition_frames) else 0)
    return starts
