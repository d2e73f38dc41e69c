"""Write scikit-image's public-domain astronaut photo to scenes/astronaut.png for the
anti-me scene (pip install scikit-image; it is in latentreel's test extra)."""

from pathlib import Path

from PIL import Image
from skimage import data

out = Path(__file__).resolve().parent.parent / "scenes" / "astronaut.png"
Image.fromarray(data.astronaut()).save(out)
print(f"wrote {out}")
