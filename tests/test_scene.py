"""Scene loading: defaults, references, and every error path (all reported at once)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.errors import SceneError
from latentreel.scene import load_scene

runner = CliRunner()


def test_defaults_and_overrides(write_scene):
    path = write_scene("""
        defaults: {hold: 1.0, transition: 3.0, easing: linear}
        keyframes:
          - seed: 6
          - {seed: 42, name: margaret, hold: 0.25,
             transition: {duration: 1.0, interpolation: spline}}
          - {anti: margaret}
    """)
    scene = load_scene(path)
    a, b, c = scene.keyframes
    assert scene.model == "dcgan-digiface" and scene.loop is False
    assert (a.kind, a.params, a.hold, a.transition.duration) == ("seed", 6, 1.0, 3.0)
    assert a.transition.interpolation == "slerp" and a.transition.easing == "linear"
    assert (b.name, b.hold, b.transition.duration, b.transition.interpolation) == (
        "margaret", 0.25, 1.0, "spline")
    assert c.kind == "anti" and c.params == {"of": "margaret", "psi": -1.0}
    assert scene.output.path == (path.parent / "out" / "scene.mp4").resolve()


def test_output_path_is_relative_to_scene(write_scene, tmp_path):
    path = write_scene("output: {path: videos/x.mp4, fps: 24}\nkeyframes: [{seed: 1}]\n")
    scene = load_scene(path)
    assert scene.output.path == (tmp_path / "videos" / "x.mp4").resolve()
    assert scene.output.fps == 24


BAD_SCENES = {
    "wrong-type": ("keyframes:\n  - seed: 1\n  - seed: abc\n",
                   ["scene.yaml:3:11: keyframes[1].seed: expected an integer, got 'abc'"]),
    "unknown-key-suggests": ("keyframes:\n  - {seed: 1, hodl: 2}\n",
                             ["keyframes[0].hodl: unknown key 'hodl'; did you mean 'hold'?"]),
    "unknown-top-key": ("keyframe:\n  - seed: 1\n",
                        ["keyframe: unknown key 'keyframe'; did you mean 'keyframes'?",
                         "missing required key 'keyframes'"]),
    "no-kind": ("keyframes:\n  - {hold: 1}\n", ["keyframes[0]: needs exactly one kind key"]),
    "two-kinds": ("keyframes:\n  - {seed: 1, latent: a.npz}\n",
                  ["keyframes[0]: needs exactly one kind key", "found seed, latent"]),
    "missing-file": ("keyframes:\n  - latent: nothere.npz\n",
                     ["keyframes[0].latent: file 'nothere.npz' not found"]),
    "bad-enum": ("defaults: {interpolation: slurp}\nkeyframes: [{seed: 1}]\n",
                 ["defaults.interpolation: expected one of linear, slerp, spline, got 'slurp'; "
                  "did you mean 'slerp'?"]),
    "out-of-range": ("output: {fps: 0}\nkeyframes: [{seed: 1}]\n",
                     ["output.fps: 0 is out of range"]),
    "psi-range": ("keyframes:\n  - {seed: 1, name: a}\n  - anti: {of: a, psi: -5}\n",
                  ["keyframes[1].anti.psi: -5 is out of range; use a value in [-3.0, 3.0]"]),
    "unknown-ref": ("keyframes:\n  - {seed: 1, name: alice}\n  - anti: alcie\n",
                    ["keyframes[1].anti.of: no keyframe is named 'alcie'; did you mean 'alice'?"]),
    "cycle": ("keyframes:\n  - {anti: b, name: a}\n  - {anti: a, name: b}\n",
              ["depends on itself through a cycle"]),
    "duplicate-name": ("keyframes:\n  - {seed: 1, name: a}\n  - {seed: 2, name: a}\n",
                       ["name 'a' is already used by keyframes[0]"]),
    "not-a-list": ("keyframes: 5\n", ["keyframes: expected a list, got 5"]),
    "empty-list": ("keyframes: []\n", ["keyframes: needs at least 1 item(s), got 0"]),
    "bool-is-not-int": ("keyframes:\n  - seed: true\n", ["expected an integer, got True"]),
    "not-a-mapping": ("- seed: 1\n", ["a scene must be a mapping"]),
    "yaml-syntax": ("keyframes:\n  - seed: 1\n   - seed: 2\n", ["scene.yaml:3:", "invalid YAML"]),
}


@pytest.mark.parametrize("text,expected", BAD_SCENES.values(), ids=BAD_SCENES.keys())
def test_bad_scene_exits_2_with_location(write_scene, text, expected):
    path = write_scene(text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for piece in expected:
        assert piece in result.output, result.output
    assert f"{path}:" in result.output


def test_every_problem_reported_at_once(write_scene):
    path = write_scene("""
        output: {fps: many, crf: 99}
        keyframes:
          - seed: -1
          - {seed: 2, transition: {easing: bouncy}}
    """)
    with pytest.raises(SceneError) as info:
        load_scene(path)
    text = str(info.value)
    assert len(info.value.problems) == 4, text
    for field in ("output.fps", "output.crf", "keyframes[0].seed",
                  "keyframes[1].transition.easing"):
        assert field in text


def test_validate_ok_reports_frame_count(write_scene):
    path = write_scene("output: {fps: 10}\nkeyframes: [{seed: 1, hold: 1}, {seed: 2, hold: 0.5}]\n")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    # 10 + 5 hold frames + one 2 s transition (20 frames).
    assert "35 frames" in result.output


def test_missing_scene_file(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "no such scene file" in result.output


def test_json_schema_lists_kinds_and_rejects_unknown_keys():
    import json

    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    kf = schema["properties"]["keyframes"]["items"]
    assert {"seed", "latent", "anti"} <= set(kf["properties"])
    assert kf["additionalProperties"] is False
    assert schema["properties"]["output"]["properties"]["crf"]["maximum"] == 51


def test_scene_never_imports_from_yaml(write_scene):
    path = write_scene("model: os.system\nkeyframes: [{seed: 1}]\n")
    result = runner.invoke(app, ["render", str(path), "-q"])
    assert result.exit_code == 2
    assert "unknown model 'os.system'" in result.output


def test_debug_shows_the_traceback(write_scene):
    from latentreel.cli.app import _state
    from latentreel.errors import SceneError as _SceneError

    path = write_scene("keyframes: 5\n")
    try:
        result = runner.invoke(app, ["--debug", "validate", str(path)])
    finally:
        _state["debug"] = False
    assert isinstance(result.exception, _SceneError)  # re-raised, not turned into one line


def test_unexpected_errors_exit_1_without_traceback(write_scene, monkeypatch):
    import latentreel.scene.load as load

    def broken(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(load, "load_located", broken)
    result = runner.invoke(app, ["validate", str(write_scene("keyframes: [{seed: 1}]\n"))])
    assert result.exit_code == 1
    assert "disk on fire" in result.output and "--debug" in result.output
    assert "Traceback" not in result.output
