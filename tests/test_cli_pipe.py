"""A reader that stops early (``latentreel ... | head``) ends the command quietly.

Each run gets a stdout pipe whose reader is already closed, so the first write fails with
EPIPE every time rather than only when ``head`` wins a race.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _run_into_closed_pipe(args: list[str]) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(args, stdout=write_end, stderr=subprocess.PIPE, text=True,
                              env=ENV, cwd=ROOT, timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("argv", [["invert", "--help"], ["directions", "list"]],
                         ids=["help", "command-output"])
def test_closed_stdout_ends_quietly(argv):
    r = _run_into_closed_pipe([sys.executable, "-m", "latentreel", *argv])
    assert r.stderr == "", r.stderr
    assert r.returncode == 1  # click's code for a closed stdout, as `--help` has always had


def test_a_broken_pipe_elsewhere_is_still_an_error():
    # An encoder whose ffmpeg died raises BrokenPipeError too, with stdout in good health.
    code = ("import sys\n"
            "from latentreel.edits import directions\n"
            "def broken(*a, **k): raise BrokenPipeError(32, 'Broken pipe')\n"
            "directions.DirectionStore.__init__ = broken\n"
            "sys.argv = ['latentreel', 'directions', 'list']\n"
            "from latentreel.cli import main\n"
            "main()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=ENV, cwd=ROOT, timeout=120)
    assert r.returncode == 1
    assert r.stderr.startswith("error: BrokenPipeError: [Errno 32] Broken pipe"), r.stderr
