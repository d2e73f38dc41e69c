"""A short beat, synthesised (no download): kick, snare, hats and a bass line, as a mix and
as stems, for scenes/beat.yaml (the synthesis itself: latentreel.audio.beat).

    python examples/make_beat.py            # writes scenes/beat/{beat,kick,bass}.wav
    python examples/make_beat.py --bars 64  # a longer one (2 s a bar)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from latentreel.audio.beat import write_beat

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bars", type=int, default=8, help="length in bars (2 s each)")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "scenes" / "beat")
    args = parser.parse_args()
    print(f"wrote {write_beat(args.out, args.bars)} and its stems")
