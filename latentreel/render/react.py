"""The scene's music in the render: its features, pinned keyframes, and the drives that move
every frame's latent and camera (latents.react holds the per-frame math).

prepare_scene calls ``music_timing`` before it lays out the frames and ``react_path`` after,
so every way of drawing a scene (render, segments, --resume, Ray, play) draws the same
reactive frames from the one prepared path.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from latentreel.audio.cache import song_features
from latentreel.audio.features import Features
from latentreel.audio.load import file_digest
from latentreel.audio.pins import pin_frame
from latentreel.audio.shaping import shape
from latentreel.errors import BadInputError
from latentreel.latents.path import LatentPath
from latentreel.latents.camera import CAMERA_FIELDS, ZOOM
from latentreel.latents.react import (
    Blend, CameraMove, Push, Reaction as FrameReaction, Truncation, retime, warp_u,
)
from latentreel.models.base import Generator, check_average_space, seed_latent
from latentreel.models.bend import BendSlot
from latentreel.scene.model import Keyframe, Reaction, Scene

RANDOM_TARGETS = 16  # fresh pulse targets, used in turn (one per hit)
HITS = ("onsets", "beats", "bars", "sections")  # features made of separate hits
TURN_DEGREES = 45.0  # a camera turn of amount 1 at full feature
ZOOM_FLOOR = 0.05  # the smallest zoom factor a bend reaction can push a layer to (as `bend:`)


@dataclass(frozen=True)
class SceneMusic:
    """The features of a scene's mix and stems at the render's fps."""

    mix: Features
    stems: dict[str, Features]
    digest: str  # the files' bytes and the reactions: part of the resume fingerprint

    def of(self, reaction: Reaction) -> Features:
        return self.stems[reaction.stem] if reaction.stem else self.mix


def scene_music(scene: Scene, fps: int) -> SceneMusic | None:
    """The scene's music analysed at ``fps`` (None: the scene has no `audio:`)."""
    if scene.audio is None:
        return None
    mix = song_features(scene.audio.path, fps)
    stems = {name: song_features(p, fps) for name, p in scene.audio.stems.items()}
    h = hashlib.sha256(json.dumps({
        "mix": file_digest(scene.audio.path),
        "stems": {n: file_digest(p) for n, p in sorted(scene.audio.stems.items())},
        "length": scene.audio.length,
        "react": [{**asdict(r), "where": None} for r in scene.react],
    }, sort_keys=True, default=str).encode())
    return SceneMusic(mix=mix, stems=stems, digest=h.hexdigest()[:24])


def music_timing(scene: Scene, music: SceneMusic | None, fps: int
                 ) -> tuple[dict[int, int], int | None]:
    """(pinned frame of each keyframe with `at:`, the video's length in frames or None)."""
    features = music.mix if music else None
    pins = {}
    for kf in scene.keyframes:
        if kf.at is not None:
            frame = pin_frame(kf.at.unit, kf.at.value, fps, features)
            if isinstance(frame, str):  # only at another --fps than the scene was checked at
                raise BadInputError(f"{kf.at.where}: at: {frame}")
            pins[kf.index] = frame
    total = features.frames if features and scene.audio.length == "song" else None
    return pins, total


def react_path(path: LatentPath, scene: Scene, music: SceneMusic | None,
               keyframes: list[Keyframe], latents: torch.Tensor, generator: Generator,
               space: str) -> LatentPath:
    """``path`` with the scene's reactions: speed re-times its transitions, every other drive
    becomes part of a per-frame Reaction. Reactions of amount 0 are left out entirely.

    Raises:
        BadInputError: reactions but no `audio:` (only `play --listen` feeds those).
    """
    if music is None and scene.react:
        raise BadInputError(f"{scene.react[0].where}: react: the scene has no `audio:` to "
                            "follow; add `audio: {path: song.wav}` to render it, or perform "
                            "it with `latentreel play --listen`")
    live = [r for r in scene.react if r.amount != 0 and r.drive != "bend"]  # bend: its track
    if music is None or not live:
        return path
    fps, total = music.mix.fps, path.total_frames
    drives, sources = [], []
    for r in live:
        if r.drive == "chroma":  # 12 series, shaped one by one
            drives.append(_chroma(r, music, latents, total))
            sources.append(r.index)
            continue
        env = _fit(r.amount * shape(music.of(r).series(r.feature), r.shaping, fps), total)
        if r.drive == "speed":
            path = _speed(path, env)
            continue
        drives.append(reaction_drive(r, env, keyframes, latents, generator, space, scene))
        sources.append(r.index)
    react = FrameReaction(drives=tuple(drives), frames=total,
                          moves_camera=any(isinstance(d, CameraMove) for d in drives),
                          digest=music.digest, sources=tuple(sources))
    return path.with_react(react) if drives else path


def bend_offsets(scene: Scene, music: SceneMusic | None, slots: tuple[BendSlot, ...],
                 frames: int) -> torch.Tensor | None:
    """[frames, D]: what the bend reactions add to the bend track (None: none react): each
    moves its slot's first number (translate x, rotate angle, zoom factor, scale gain, drop
    fraction) by amount times its shaped feature, on every frame."""
    from latentreel.render.bends import bend_reactions

    reactions = bend_reactions(scene.react)
    if music is None or not reactions:
        return None
    starts, at = {}, 0
    for s in slots:
        starts[s], at = at, at + len(s.fields)
    out = torch.zeros(frames, at, dtype=torch.float64)
    for r in reactions:
        env = _fit(r.amount * shape(music.of(r).series(r.feature), r.shaping, music.mix.fps),
                   frames)
        out[:, starts[r.bend]] += torch.from_numpy(env)
    return out


def with_bend_offsets(track: torch.Tensor, offsets: torch.Tensor | None,
                      slots: tuple[BendSlot, ...]) -> torch.Tensor:
    """The keyframes' eased bend track plus the reactions' offsets, a zoom kept above
    ZOOM_FLOOR (a factor of 0 or below would divide by nothing)."""
    if offsets is None:
        return track
    out = track.to(torch.float64) + offsets
    at = 0
    for s in slots:
        if s.op == "zoom":
            out[:, at] = out[:, at].clamp(min=ZOOM_FLOOR)
        at += len(s.fields)
    return out.to(torch.float32)


def reaction_drive(r: Reaction, env: np.ndarray, keyframes: list[Keyframe],
                   latents: torch.Tensor, generator: Generator, space: str, scene: Scene):
    """The per-frame drive of reaction ``r`` (not speed or chroma) following ``env`` [T].

    A performance listening live builds each with a unit envelope and sets it frame by frame
    (live.walker)."""
    if r.drive == "camera":
        if not generator.has_camera:
            from latentreel.scene.load import camera_problem

            raise BadInputError(f"{r.where}: react[{r.index}].drive: "
                                f"{camera_problem(generator.name)}")
        return _camera(r, env, scene.seed)
    if r.drive == "truncation":
        check_average_space(generator, space, "truncation", r.where)
        return Truncation(torch.from_numpy(env), generator.mean_latent(space).cpu())
    return _push(r, env, keyframes, latents, generator, space, scene)  # pulse, direction


def _fit(x: np.ndarray, frames: int) -> np.ndarray:
    """A song-long series cut (or padded with 0: silence) to the video's frames."""
    x = np.asarray(x, dtype=np.float64)
    return x[:frames] if len(x) >= frames else np.pad(x, (0, frames - len(x)))


def _speed(path: LatentPath, env: np.ndarray) -> LatentPath:
    """Each transition re-timed so the walk moves 1 + env as fast on each frame."""
    weights = torch.from_numpy(np.clip(1.0 + env, 0.05, None))
    override = {}
    for seg in path.segments:
        if seg.kind != "transition" or seg.length < 2:
            continue
        i, j = seg.index, torch.arange(seg.length)
        closed = path.loop or i != len(path.transition_frames) - 1
        u_old = path.transition_u(i)
        u_new = warp_u(u_old, weights[seg.start:seg.start + seg.length], closed)
        override[i] = retime(path.transition_t(i, j), u_old, u_new)
    return path.with_t_override(override)


def _pulse_events(env: np.ndarray) -> np.ndarray:
    """How many pulses have started by each frame. A pulse starts where the envelope starts
    to rise (a hit's own frame when there is no attack), its lowest point, so the switch to
    the next target is where it shows least."""
    prev = np.r_[env[:1], env[:-1]]
    prev2 = np.r_[env[:2], env[:-2]]
    return np.cumsum((env > prev) & (prev <= prev2))


def _push(r: Reaction, env: np.ndarray, keyframes: list[Keyframe],
          latents: torch.Tensor, generator: Generator, space: str, scene: Scene) -> Push:
    """A pulse towards a target (random latents, a keyframe) or along a direction."""
    events = torch.zeros(len(env), dtype=torch.long)
    names = {kf.name: row for row, kf in enumerate(keyframes) if kf.name}
    target = r.target or ("random" if r.drive == "pulse" else None)
    if r.drive == "pulse" and target == "random":
        seeds = [(scene.seed * 1_000_003 + 7919 * (r.index + 1) + k) % 2**32
                 for k in range(RANDOM_TARGETS)]
        z = torch.from_numpy(np.stack([seed_latent(s, generator.z_dim) for s in seeds]))
        with torch.inference_mode():
            targets = generator.to_space(z.to(generator.device), space).cpu()
        if r.feature in HITS:
            events = torch.from_numpy(_pulse_events(np.abs(env)))
        else:  # a continuous feature drifts towards one target: switching would jump
            targets = targets[:1]
        return Push(torch.from_numpy(env), events, targets, toward=True,
                    keep_norm=space == "z")
    if r.drive == "pulse" and target in names:
        return Push(torch.from_numpy(env), events, latents[names[target]][None].cpu(),
                    toward=True, keep_norm=space == "z")
    from latentreel.edits.keyframes import edit_vector
    from latentreel.spec.kind import ResolveContext

    ctx = ResolveContext(generator=generator, space=space, scene_seed=scene.seed,
                         scene_file=scene.file)
    vec = edit_vector(ctx, target, [], f"{r.where}: react[{r.index}].target")
    return Push(torch.from_numpy(env), events, vec[None].cpu(), toward=False)


def _chroma(r: Reaction, music: SceneMusic, latents: torch.Tensor, frames: int) -> Blend:
    """Pitch class c leans towards keyframe c mod K (K: the first 12 keyframes at most)."""
    chroma = music.of(r).series("chroma")  # [12, T]
    k = min(12, len(latents))
    shaped = np.stack([_fit(shape(c, r.shaping, music.mix.fps), frames) for c in chroma])
    folded = np.zeros((k, frames))
    for c in range(12):
        folded[c % k] += shaped[c] ** 4  # sharpened: the dominant pitch class leads
    sums = folded.sum(0, keepdims=True)
    weights = np.where(sums > 0, folded / np.where(sums > 0, sums, 1), 0.0) * r.amount
    return Blend(torch.from_numpy(weights.T.copy()), latents[:k].cpu())


def _camera(r: Reaction, env: np.ndarray, seed: int) -> CameraMove:
    """shake: seeded jitter of x and y; pan: x; turn: the angle; zoom: log2 of the zoom (the
    camera's zoom column), so amount 1 at full feature doubles the magnification."""
    offsets = np.zeros((len(env), len(CAMERA_FIELDS)))
    move = r.target or "shake"
    if move == "shake":
        jitter = np.random.RandomState((seed + 104729 * (r.index + 1)) % 2**32)
        offsets[:, :2] = env[:, None] * jitter.uniform(-1, 1, (len(env), 2))
    elif move == "pan":
        offsets[:, 0] = env
    elif move == "zoom":
        offsets[:, ZOOM] = env
    else:
        offsets[:, 2] = env * TURN_DEGREES
    return CameraMove(torch.from_numpy(offsets))
