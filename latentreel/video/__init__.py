"""Video in and out: H.264 encoding through ffmpeg, probing and decoding, soundtracks,
segment joining, and PNG contact sheets.

Modules are imported where needed (``from latentreel.video.writer import FrameWriter``), so
importing the package does not pull in moviepy or Pillow.
"""
