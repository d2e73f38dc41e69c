"""Scene input the OS or YAML refuses: over-long and unencodable names, duplicate keys, order."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from latentreel.cli import app
from latentreel.osnames import name_problem

runner = CliRunner()

LONG = "a" * 5000
FIELDS = {
    "model": "model: {v}\nkeyframes:\n  - seed: 1\n",
    "output.path": "output: {{path: {v}}}\nkeyframes:\n  - seed: 1\n",
    "output.audio": "output: {{audio: {v}}}\nkeyframes:\n  - seed: 1\n",
    "keyframes[0].photo.path": "keyframes:\n  - photo: {v}\n",
    "keyframes[0].latent": "keyframes:\n  - latent: {v}\n",
    "keyframes[0].transition.sweep.direction":
        "keyframes:\n  - {{seed: 1, transition: {{sweep: {{direction: {v}}}}}}}\n  - seed: 2\n",
    "keyframes[1].edit.direction":
        "keyframes:\n  - {{seed: 1, name: a}}\n  - edit: {{of: a, direction: {v}}}\n",
}
VALUES = {"too-long": LONG, "nul": '"x\\0y"', "surrogate": '"\\ud800x"',
          "long-part": "d/" + "b" * 300 + ".x"}


@pytest.mark.parametrize("value", list(VALUES.values()), ids=list(VALUES))
@pytest.mark.parametrize("field", list(FIELDS), ids=list(FIELDS))
def test_names_the_os_refuses_are_located_bad_input(write_scene, field, value):
    scene = write_scene(FIELDS[field].format(v=value))
    result = runner.invoke(app, ["validate", str(scene)])
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[0]
    assert line.startswith(f"error: {scene}:") and f": {field}: " in line, line
    assert "Errno" not in result.output and len(result.output) < 600


@pytest.mark.parametrize("text,fragment", [
    ("ok.png", None), ("a/b/c.mp4", None), ("x\0", "NUL"), ("\ud800", "encoding"),
    ("a" * 256, "256 bytes"), ("a/" * 2100, "4200 bytes"),
], ids=["plain", "nested", "nul", "surrogate", "long-part", "long-path"])
def test_name_problem(text, fragment):
    problem = name_problem(text)
    assert (problem is None) if fragment is None else (fragment in problem)


def test_duplicate_keys_report_both_positions(write_scene):
    scene = write_scene("""
        seed: 1
        keyframes:
          - {seed: 1, seed: 2}
        seed: 3
        """)
    result = runner.invoke(app, ["validate", str(scene)])
    assert result.exit_code == 2
    lines = result.output.strip().removeprefix("error: ").splitlines()
    assert lines == [
        f"{scene}:3:15: keyframes[0].seed: given twice (first at {scene}:3:6); keys must be "
        "unique: keep one",
        f"{scene}:4:1: seed: given twice (first at {scene}:1:1); keys must be unique: keep one",
    ]


def test_problems_are_sorted_by_line(write_scene):
    # The model is checked last but sits on the last line; a bad key sits before the keyframes.
    scene = write_scene("""
        keyframes:
          - seed: -1
          - {seed: 2, hold: -3}
        colour: red
        model: nosuchmodel
        """)
    result = runner.invoke(app, ["validate", str(scene)])
    assert result.exit_code == 2
    lines = result.output.removeprefix("error: ").strip().splitlines()
    positions = [tuple(int(n) for n in line.split(":")[1:3]) for line in lines]
    assert len(lines) == 4 and positions == sorted(positions), lines


def test_enum_error_lists_the_valid_values_once(write_scene):
    scene = write_scene("""
        keyframes:
          - {seed: 1, transition: {easing: zzzz}}
          - seed: 2
        """)
    result = runner.invoke(app, ["validate", str(scene)])
    assert result.exit_code == 2
    assert result.output.count("ease-in-out") == 1, result.output


@pytest.mark.parametrize("args,flag", [
    (["render", "s.yaml", "-o", "b" * 300 + ".mp4"], "-o/--out"),
    (["sample", "-o", "b" * 300 + ".png"], "-o/--out"),
    (["strip", "v.mp4", "-o", "b" * 300 + ".png"], "-o/--out"),
    (["sheet", "-o", "b" * 300 + ".png"], "-o/--out"),
    (["invert", "p.png", "-o", "b" * 300 + ".npz"], "-o/--out"),
    (["analyze", "s.yaml", "-o", "b" * 300], "-o/--out"),
    (["sample", "--model", LONG], "--model"),
    (["directions", "list", "--model", "m" * 300], "--model"),
    (["invert", "p.png", "-o", "x.npz", "--model", "x\0y"], "--model"),
], ids=["render", "sample", "strip", "sheet", "invert", "analyze", "sample-model",
        "directions-model", "invert-model-nul"])
def test_flags_naming_files_the_os_refuses_are_bad_input(write_scene, args, flag):
    scene = str(write_scene("keyframes: [{seed: 1}]\n"))
    result = runner.invoke(app, [scene if a == "s.yaml" else a for a in args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {flag} '") and "Errno" not in result.output
