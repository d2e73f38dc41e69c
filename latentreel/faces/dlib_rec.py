"""A second face recogniser, independent of FaceNet: dlib's ResNet face descriptor (128-d,
trained on other data with another architecture), for benchmarks only: no loss ever sees it,
so a reconstruction cannot score well on it by fooling the network it was optimised against.

Weights ship in the PyPI package ``face-recognition-models`` (dlib's own model files) and
dlib itself in ``dlib-bin`` (prebuilt wheels); both are in latentreel's ``test`` extra.
Distances are Euclidean; dlib calls faces under 0.6 the same person.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from latentreel.errors import ModelError

INSTALL_HINT = "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0"
UPSCALE = 256  # small crops are upscaled first: dlib's detector misses faces under ~80 px


class DlibRecognizer:
    def __init__(self):
        try:
            import dlib
        except ImportError:
            raise ModelError(f"the independent face recogniser needs dlib; {INSTALL_HINT}"
                             ) from None
        models = _models_dir()
        self.detector = dlib.get_frontal_face_detector()
        self.shapes = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self.net = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat"))
        self._dlib = dlib

    def embed(self, image: np.ndarray) -> np.ndarray:
        """128-d descriptor of the most confident face in an RGB uint8 image [H, W, 3];
        small images are upscaled, and when no face is detected the whole frame is taken as
        one (generated crops are faces by construction).

        Most confident, not largest: the astronaut's mission patch passes as a face (score
        0.1 against her 1.2), and in the off-centre variant its box is a pixel larger."""
        if max(image.shape[:2]) < UPSCALE:
            image = np.asarray(Image.fromarray(image).resize((UPSCALE, UPSCALE), Image.BICUBIC))
        image = np.ascontiguousarray(image)
        boxes, scores, _ = self.detector.run(image, 1, 0.0)
        if len(boxes):
            box = boxes[int(np.argmax(scores))]
        else:
            h, w = image.shape[:2]
            box = self._dlib.rectangle(int(w * 0.1), int(h * 0.1), int(w * 0.9), int(h * 0.9))
        return np.array(self.net.compute_face_descriptor(image, self.shapes(image, box)))

    def embed_many(self, images: np.ndarray) -> np.ndarray:
        """[N, 128] for uint8 images [N, H, W, 3]."""
        return np.stack([self.embed(im) for im in images])


def _models_dir() -> Path:
    # find_spec only: importing the package would pull in pkg_resources for nothing.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the independent face recogniser's weights are missing; {INSTALL_HINT}")
    return Path(list(spec.submodule_search_locations)[0]) / "models"
