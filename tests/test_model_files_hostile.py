"""Model files from strangers: every hostile or broken file is one clean line and exit 2.

Each file is built here, from raw pickle opcodes or from our own tiny networks (nothing is
committed as a binary). The classes follow issue 15: crashes, exit codes, memory bombs, BUILD,
terminal injection, messages, non-finite weights; then one CLI table over all of them.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from latentreel.errors import ModelError
from latentreel.models.pickles import standins, unpickle
from latentreel.models.stylegan2 import load as pickle_load
from latentreel.models.stylegan2 import rosinality
from latentreel.models.stylegan2.backend import load_stylegan2_file
from tests.test_stylegan2_pickle import (  # noqa: F401 - nvidia_modules is a fixture
    Persistent,
    _EasyDict,
    as_persistent,
    nvidia_kwargs,
    nvidia_modules,
    random_net,
    write_nvidia_pickle,
)
from tests.test_stylegan2_rosinality import as_rosinality
from tests.test_stylegan2_rosinality import random_net as ros_net

# --- raw opcode helpers ------------------------------------------------------------------


def uni(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def snapshot(g_ema: bytes) -> bytes:
    """{'G_ema': <g_ema opcodes>} as protocol 2."""
    return b"\x80\x02}" + uni("G_ema") + g_ema + b"s."


def storage_bytes(values: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    torch.save(values.storage(), buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def binbytes(b: bytes) -> bytes:
    return b"B" + struct.pack("<I", len(b)) + b


def tensor_ops(values: torch.Tensor, size, stride) -> bytes:
    """_rebuild_tensor_v2(_load_from_bytes(...), 0, size, stride, False, OrderedDict())."""
    tup = b"(" + b"".join(b"J" + struct.pack("<i", n) for n in size) + b"t"
    st = b"(" + b"".join(b"J" + struct.pack("<i", n) for n in stride) + b"t"
    return (glob("torch._utils", "_rebuild_tensor_v2") + b"(" +
            glob("torch.storage", "_load_from_bytes") + binbytes(storage_bytes(values)) +
            b"\x85R" + b"K\x00" + tup + st + b"\x89" + glob("collections", "OrderedDict") +
            b")Rt" + b"R")


def pickle_record(net, **kwargs_over) -> bytes:
    kwargs = nvidia_kwargs(net.cfg)
    for key, value in kwargs_over.items():
        if key in ("num_layers",):
            kwargs["mapping_kwargs"] = _EasyDict(kwargs["mapping_kwargs"], **{key: value})
        else:
            kwargs[key] = value
    return pickle.dumps({"G_ema": as_persistent(net, {"_init_args": (),
                                                       "_init_kwargs": kwargs})})


def torch_zip_with(data_pkl: bytes, path: Path) -> Path:
    torch.save({"g_ema": {"x": torch.zeros(1)}}, path)
    src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            data = src.read(info.filename)
            out.writestr(info.filename, data_pkl if info.filename.endswith("data.pkl") else data)
    return path


@pytest.fixture
def no_build(monkeypatch):
    """Building the real generator fails the test: bombs must be refused before allocating."""

    def refuse(cfg):
        raise AssertionError(f"the loader built a generator for {cfg}")

    monkeypatch.setattr(pickle_load, "empty_generator", refuse)
    monkeypatch.setattr(rosinality, "empty_generator", refuse)


def refused(path: Path, match: str) -> str:
    with pytest.raises(ModelError, match=match) as e:
        load_stylegan2_file(path, "cpu")
    return str(e.value)


# --- every hostile file, by name: builder(tmp_path) -> path, and what the message says ----

DEEP = 10 ** 6


def _deep_tuple_key(tmp):
    (tmp / "m.pkl").write_bytes(b"\x80\x02}" + b"(" * DEEP + b"t" * DEEP + b"K\x01s.")
    return tmp / "m.pkl"


def _deep_tuple_key_pt(tmp):
    return torch_zip_with(b"\x80\x02}" + b"(" * DEEP + b"t" * DEEP + b"K\x01s.", tmp / "m.pt")


def _tuple1_chain(tmp):
    (tmp / "t1.pkl").write_bytes(b"\x80\x02})" + b"\x85" * DEEP + b"K\x01s.")
    return tmp / "t1.pkl"


def _list_chain(tmp):  # nesting without a single MARK: ]]]...aaa
    (tmp / "l.pkl").write_bytes(b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b".")
    return tmp / "l.pkl"


def _frozenset_5000(tmp):
    body = b"\x80\x04}" + b"(" * 5000 + b"\x91" * 5000 + b"K\x01s."
    (tmp / "fs.pkl").write_bytes(body)
    return tmp / "fs.pkl"


def _doubling_tuple_key(tmp):  # t = (t, t) 60 times: a hash visiting 2**60 nodes
    body = b"\x80\x02}" + b")" + b"2\x86" * 60 + b"K\x01s."
    (tmp / "dag.pkl").write_bytes(body)
    return tmp / "dag.pkl"


def _module_chain(levels: int, name: str):
    """A record whose only child has a child ... ``levels`` deep, written as raw opcodes
    (pickle.dumps itself would recurse that deep)."""
    persist = glob("torch_utils.persistence", "_reconstruct_persistent_obj")
    def open_level(cls: str) -> bytes:
        return (persist + b"}" + uni("class_name") + uni(cls) + b"s" + uni("state") + b"}" +
                uni("_modules") + b"}" + uni("child"))

    leaf = persist + b"}" + uni("class_name") + uni("Leaf") + b"s\x85R"
    body = (open_level("Generator") + open_level("Chain") * (levels - 1) + leaf +
            b"sss\x85R" * levels)

    def build(tmp):
        (tmp / name).write_bytes(snapshot(body))
        return tmp / name
    return build


def _parameters_tensor(tmp):
    net = random_net()
    rec = as_persistent(net, {"_init_args": (), "_init_kwargs": nvidia_kwargs(net.cfg),
                              "_parameters": torch.zeros(3)})
    (tmp / "ptensor.pkl").write_bytes(pickle.dumps({"G_ema": rec}))
    return tmp / "ptensor.pkl"


def _shared_child(tmp):  # the same child under two names: a DAG walk could go exponential
    net = random_net()
    state = {"_init_args": (), "_init_kwargs": nvidia_kwargs(net.cfg)}
    rec = as_persistent(net, state)
    rec.state["_modules"]["mapping2"] = rec.state["_modules"]["mapping"]
    (tmp / "shared.pkl").write_bytes(pickle.dumps({"G_ema": rec}))
    return tmp / "shared.pkl"


def _w_dim(value):
    def build(tmp):
        (tmp / "wdim.pkl").write_bytes(pickle_record(random_net(), w_dim=value))
        return tmp / "wdim.pkl"
    return build


def _num_layers_nested(tmp):
    nested = 1
    for _ in range(60):
        nested = [nested]
    (tmp / "nl.pkl").write_bytes(pickle_record(random_net(), num_layers=nested))
    return tmp / "nl.pkl"


def _resolution_16384(tmp):
    kwargs = {"z_dim": 512, "w_dim": 512, "img_resolution": 16384, "img_channels": 3}
    (tmp / "big.pkl").write_bytes(pickle.dumps({"G_ema": Persistent(
        "Generator", {"_init_args": (), "_init_kwargs": kwargs, "_modules": {}})}))
    return tmp / "big.pkl"


def _resolution_1024_no_tensors(tmp):  # within bounds: refused by the shape-only fit
    kwargs = {"z_dim": 512, "w_dim": 512, "img_resolution": 1024, "img_channels": 3}
    (tmp / "empty.pkl").write_bytes(pickle.dumps({"G_ema": Persistent(
        "Generator", {"_init_args": (), "_init_kwargs": kwargs, "_modules": {}})}))
    return tmp / "empty.pkl"


def _mapping_layers_1e6(tmp):
    (tmp / "map.pkl").write_bytes(pickle_record(random_net(), num_layers=10 ** 6))
    return tmp / "map.pkl"


def _numpy_object_array(tmp):
    mod = "numpy.core.multiarray"
    state = (b"(K\x01J" + struct.pack("<i", 300_000_000) + b"\x85" + glob("numpy", "dtype") +
             uni("O8") + b"\x89\x88\x87R" + b"\x89" + b"]" + b"t")
    body = glob(mod, "_reconstruct") + glob("numpy", "ndarray") + b"K\x00\x85C\x01b\x87R" + \
        state + b"b"
    (tmp / "obj.pkl").write_bytes(snapshot(body))
    return tmp / "obj.pkl"


def _numpy_direct_alloc(tmp):  # ndarray((10**10,)) called directly
    body = glob("numpy", "ndarray") + b"\x8a\x05" + (10 ** 10).to_bytes(5, "little") + \
        b"\x85\x85R"
    (tmp / "nd.pkl").write_bytes(snapshot(body))
    return tmp / "nd.pkl"


def _storage_direct_alloc(tmp):  # torch.FloatStorage(10**10)
    body = glob("torch", "FloatStorage") + b"\x8a\x05" + (10 ** 10).to_bytes(5, "little") + \
        b"\x85R"
    (tmp / "st.pkl").write_bytes(snapshot(body))
    return tmp / "st.pkl"


def _inner_storage_claim(tmp):  # a storage's own pickle claims 10**10 elements
    raw = storage_bytes(torch.zeros(3))
    raw = raw.replace(b"K\x03Nt", b"\x8a\x05" + (10 ** 10).to_bytes(5, "little") + b"Nt", 1)
    body = glob("torch.storage", "_load_from_bytes") + binbytes(raw) + b"\x85R"
    (tmp / "inner.pkl").write_bytes(snapshot(body))
    return tmp / "inner.pkl"


def _huge_memo_index(tmp):
    (tmp / "memo.pkl").write_bytes(b"\x80\x02K\x01r" + struct.pack("<I", 0xFFFFFFF0) + b"0N.")
    return tmp / "memo.pkl"


def _length_claim(tmp):  # BINBYTES8 claiming 2**60 bytes
    (tmp / "len.pkl").write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 60) + b"x.")
    return tmp / "len.pkl"


def _frame_claim(tmp):
    (tmp / "frame.pkl").write_bytes(b"\x80\x04\x95" + struct.pack("<Q", 2 ** 40) + b"N.")
    return tmp / "frame.pkl"


def _long_line(tmp):
    (tmp / "line.pkl").write_bytes(b"\x80\x02c" + b"a" * 100_000 + b"\nb\n.")
    return tmp / "line.pkl"


def _stride0_pkl(tmp):  # a [10**6]-element view of a 1-element storage
    body = tensor_ops(torch.zeros(1), (10 ** 6,), (0,))
    (tmp / "s0.pkl").write_bytes(snapshot(body))
    return tmp / "s0.pkl"


def _stride0_pt(tmp):  # g_ema tensors as stride-0 views claiming 1e9 channels
    sd = as_rosinality(ros_net())
    sd["input.input"] = torch.zeros(1, 1, 1, 1).expand(1, 10 ** 9, 4, 4)
    torch.save({"g_ema": sd}, tmp / "s0.pt")
    return tmp / "s0.pt"


def _twelve_to_rgbs_pt(tmp):  # read as a 16,384-px network from 12 tiny to_rgbs entries
    sd = as_rosinality(ros_net())
    for j in range(12):
        sd[f"to_rgbs.{j}.conv.weight"] = torch.zeros(1).expand(1, 3, 32, 1, 1)
    torch.save({"g_ema": sd}, tmp / "rgb.pt")
    return tmp / "rgb.pt"


def _build_on(target: bytes, state: bytes, name: str):
    def build(tmp):
        (tmp / name).write_bytes(snapshot(target + state + b"b"))
        return tmp / name
    return build


_DEFAULTS_STATE = b"(N}" + uni("__defaults__") + b"(K\x01t" + b"st"  # (None, {...}) slots


def _build_on_tensor(tmp):
    state = b"(" + glob("torch.storage", "_load_from_bytes") + \
        binbytes(storage_bytes(torch.zeros(2))) + b"\x85RK\x00J" + struct.pack("<i", 10 ** 6) + \
        b"\x85K\x01\x85t"
    (tmp / "bt.pkl").write_bytes(snapshot(tensor_ops(torch.zeros(2), (2,), (1,)) + state + b"b"))
    return tmp / "bt.pkl"


def _easydict_instance_state(tmp):
    body = glob("dnnlib.util", "EasyDict") + b")\x81" + b"}" + uni("x") + b"K\x01s" + b"b"
    (tmp / "ed.pkl").write_bytes(snapshot(body))
    return tmp / "ed.pkl"


def _ansi_global(tmp):
    (tmp / "ansi.pkl").write_bytes(b"\x80\x02c" + b"os\x1b[2J\x1b[H" + b"\nsystem\rwrote "
                                   b"out.mp4\n)R.")
    return tmp / "ansi.pkl"


def _huge_key(tmp):
    key = "k" * (8 << 20)
    (tmp / "key.pkl").write_bytes(b"\x80\x02}" + uni(key) + b"K\x01s.")
    return tmp / "key.pkl"


def _ansi_class_name(tmp):
    (tmp / "cls.pkl").write_bytes(pickle.dumps({"G_ema": Persistent(
        "\x1b[2J\r\nwrote out.mp4\u202e", {})}))
    return tmp / "cls.pkl"


def _ansi_path(tmp):
    return write_nvidia_pickle(tmp / "x\x1b[2Jy\r.pkl", random_net(),
                               extra={"G_ema": Persistent("\x1b[31mRed", {})})


def _pt_os_system(tmp):
    torch.save({"g_ema": {}, "evil": _Hostile()}, tmp / "evil.pt")
    return tmp / "evil.pt"


class _Hostile:
    def __reduce__(self):
        return (os.system, ("true",))


def _pt_random(tmp):
    (tmp / "rand.pt").write_bytes(bytes(range(256)) * 8)
    return tmp / "rand.pt"


def _directory(tmp):
    (tmp / "dir.pkl").mkdir()
    return tmp / "dir.pkl"


def _fifo(tmp):
    os.mkfifo(tmp / "fifo.pkl")
    return tmp / "fifo.pkl"


def _symlink_loop(tmp):
    os.symlink(tmp / "loop.pkl", tmp / "loop.pkl")
    return tmp / "loop.pkl"


def _dev_zero(tmp):
    os.symlink("/dev/zero", tmp / "zero.pkl")
    return tmp / "zero.pkl"


def _zip_named_pkl(tmp):
    torch.save({"g_ema": {}}, tmp / "ckpt.pkl")
    return tmp / "ckpt.pkl"


def _legacy_torch_named_pkl(tmp):
    torch.save({"g_ema": {}}, tmp / "old.pkl", _use_new_zipfile_serialization=False)
    return tmp / "old.pkl"


def _bare_tensor(tmp):
    (tmp / "t.pkl").write_bytes(pickle.dumps(torch.arange(3.0)))
    return tmp / "t.pkl"


def _nvidia_named_pt(tmp):
    return write_nvidia_pickle(tmp / "net.pt", random_net())


def _numpy_as_g_ema(tmp):
    import numpy as np

    (tmp / "np.pkl").write_bytes(pickle.dumps({"G_ema": np.arange(4.0)}))
    return tmp / "np.pkl"


def _nan_pkl(tmp):
    net = random_net()
    with torch.no_grad():
        net.synthesis.b8.conv0.weight[0, 0, 0, 0] = float("nan")
    return write_nvidia_pickle(tmp / "nan.pkl", net)


def _inf_pt(tmp):
    sd = as_rosinality(ros_net())
    sd["style.1.weight"][0, 0] = float("inf")
    torch.save({"g_ema": sd}, tmp / "inf.pt")
    return tmp / "inf.pt"


def _raw(name: str, body: bytes):
    def build(tmp):
        (tmp / name).write_bytes(body)
        return tmp / name
    return build


def _legacy_pt_view(tmp):  # legacy torch.save: a view claiming 10**9 elements of 4
    buf = io.BytesIO()
    torch.save({"g_ema": {"x": torch.zeros(4)}}, buf, _use_new_zipfile_serialization=False)
    raw = buf.getvalue()
    at = raw.index(b"K\x00K\x04\x85")
    (tmp / "lv.pt").write_bytes(raw[:at] + b"K\x00\x8a\x05" + (10 ** 9).to_bytes(5, "little") +
                                b"\x85" + raw[at + 5:])
    return tmp / "lv.pt"


def _two_data_pkl(tmp):
    with zipfile.ZipFile(tmp / "two.pt", "w") as z:
        z.writestr("a/data.pkl", b"\x80\x02N.")
        z.writestr("b/data.pkl", b"\x80\x02N.")
    return tmp / "two.pt"


# name -> (builder, what the message must say). Grouped by the classes.
CASES = {
    # 1. crashes
    "deep-tuple-key": (_deep_tuple_key, "nested more than 100 levels"),
    "deep-tuple-key-in-torch-zip": (_deep_tuple_key_pt, "nested more than 100 levels"),
    "tuple1-chain": (_tuple1_chain, "nested more than 100 levels"),
    "list-chain-without-marks": (_list_chain, "nested more than 100 levels"),
    "frozenset-5000": (_frozenset_5000, "nested more than 100 levels"),
    "doubling-tuple-hash": (_doubling_tuple_key, "a tuple of more than 10000"),
    # 2. malformed, exit 2 not 1
    "module-chain-3000": (_module_chain(3000, "c3000.pkl"), "nested more than 100 levels"),
    "module-chain-18": (_module_chain(18, "c18.pkl"), "modules nested more than 16 deep"),
    "parameters-is-a-tensor": (_parameters_tensor, "'_parameters' that is a Tensor"),
    "module-reached-twice": (_shared_child, "reached twice"),
    "w_dim-inf": (_w_dim(float("inf")), r"w_dim=inf is not an int"),
    "w_dim-1e9-float": (_w_dim(1e9), r"w_dim=1000000000.0 is not an int"),
    "w_dim-1e9": (_w_dim(10 ** 9), r"w_dim=1000000000 \(allowed 1..4096\)"),
    "num_layers-nested-list": (_num_layers_nested, "num_layers=a list is not an int"),
    "stride0-pt-1e9-channels": (_stride0_pt, "claims 16000000000 elements from a storage"),
    # 3. memory and time bombs
    "resolution-16384": (_resolution_16384, r"img_resolution=16384 \(allowed 4..4096\)"),
    "resolution-1024-no-tensors": (_resolution_1024_no_tensors, "missing synthesis.b4.const"),
    "mapping-layers-1e6": (_mapping_layers_1e6, r"num_layers=1000000 \(allowed 1..32\)"),
    "numpy-object-array": (_numpy_object_array, "not plain numbers"),
    "numpy-ndarray-call": (_numpy_direct_alloc, "a direct numpy.ndarray call"),
    "storage-class-call": (_storage_direct_alloc, "a direct call of torch.FloatStorage"),
    "storage-claims-1e10": (_inner_storage_claim, "claiming 10000000000 elements"),
    "memo-index-2e32": (_huge_memo_index, "a memo index of 4294967280"),
    "length-claim-2e60": (_length_claim, "truncated"),
    "frame-claim-2e40": (_frame_claim, "truncated"),
    "global-line-100kb": (_long_line, "longer than 4096 bytes"),
    "stride0-pkl-view": (_stride0_pkl, "outside its storage of 1 elements"),
    "twelve-to_rgbs-pt": (_twelve_to_rgbs_pt, "claims 96 elements from a storage of 1"),
    "out-of-band-buffer": (_raw("oob.pkl", b"\x80\x05\x97."), "an out-of-band buffer"),
    "extension-code": (_raw("ext.pkl", b"\x80\x02\x82\x01."), "an extension-registry code"),
    "persistent-id-in-pkl": (_raw("pid.pkl", b"\x80\x02K\x01Q."), "a persistent id"),
    "stack-global-not-strings": (_raw("sg.pkl", b"\x80\x04K\x01K\x02\x93."),
                                 "a global whose name is not a short string"),
    "pop-below-mark": (_raw("pm.pkl", b"\x80\x02](a."), "pops an empty stack"),
    "legacy-pt-view-1e9": (_legacy_pt_view, "torch cannot read it"),
    "zip-with-two-data-pkl": (_two_data_pkl, "no single data.pkl"),
    # 4. BUILD smuggling
    "build-on-easydict-class": (_build_on(glob("dnnlib.util", "EasyDict"),
                                          b"}" + uni("x") + b"K\x01s", "b1.pkl"),
                                "dnnlib.util.EasyDict itself"),
    "build-on-storage-class": (_build_on(glob("torch", "FloatStorage"),
                                         b"}" + uni("x") + b"K\x01s", "b2.pkl"),
                               "torch.FloatStorage itself"),
    "build-on-rebuild-defaults": (_build_on(glob("torch._utils", "_rebuild_tensor_v2"),
                                            _DEFAULTS_STATE, "b3.pkl"),
                                  "torch._utils._rebuild_tensor_v2 itself"),
    "build-on-tensor": (_build_on_tensor, "a torch._utils._rebuild_tensor_v2 value"),
    "build-easydict-attributes": (_easydict_instance_state, "an EasyDict with attribute state"),
    # 5. terminal injection
    "ansi-global-name": (_ansi_global, r"'os\\x1b\[2J\\x1b\[H.system\\x0dwrote out.mp4'"),
    "8mib-dict-key": (_huge_key, r"'kkkk.*\.\.\. \(8388608 characters\)"),
    "ansi-class-name": (_ansi_class_name, r"G_ema is a '\\x1b\[2J\\x0d\\x0awrote out.mp4\\u202e'"),
    "ansi-path": (_ansi_path, r"x\\x1b\[2Jy\\x0d\.pkl"),
    # 6. messages that say what happened
    "pt-os-system": (_pt_os_system, "it asks for 'posix.system'; latentreel never runs code"),
    "pt-random-bytes": (_pt_random, "not a loadable torch checkpoint"),
    "directory": (_directory, "is a directory, not a model file"),
    "fifo": (_fifo, r"is a named pipe \(FIFO\)"),
    "symlink-loop": (_symlink_loop, "is a symbolic link loop"),
    "link-to-dev-zero": (_dev_zero, r"is a device \(through a symbolic link\)"),
    "torch-zip-named-pkl": (_zip_named_pkl, "a torch.save checkpoint, not an NVIDIA"),
    "legacy-torch-named-pkl": (_legacy_torch_named_pkl, "a .legacy. torch.save checkpoint"),
    "bare-tensor-pkl": (_bare_tensor, "no G_ema generator in it .it holds a Tensor"),
    "nvidia-pickle-named-pt": (_nvidia_named_pt, "an NVIDIA network pickle; give it a .pkl"),
    "numpy-array-as-g_ema": (_numpy_as_g_ema, "its G_ema is a numpy array"),
    # 7. non-finite weights
    "nan-weight-pkl": (_nan_pkl, "synthesis.b8.conv0.weight' holds NaN or infinite"),
    "inf-weight-pt": (_inf_pt, "style.1.weight' holds NaN or infinite"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_hostile_file_is_refused_before_building(tmp_path, nvidia_modules, no_build, case):
    build, match = CASES[case]
    path = build(tmp_path)
    message = refused(path, match)
    assert "weights_only" not in message
    assert len(message) < 400, message


def test_build_cannot_change_the_loaders_own_classes_or_functions(tmp_path, nvidia_modules):
    for name in ("build-on-easydict-class", "build-on-storage-class",
                 "build-on-rebuild-defaults"):
        refused(CASES[name][0](tmp_path), "only the loader's own records take state")
    assert not hasattr(unpickle._EasyDict, "x")
    assert standins.rebuild_tensor.__defaults__ == (False, None, None)


def test_legit_pickles_still_build_easydicts_with_empty_state(tmp_path, nvidia_modules):
    """Pickles written by Python < 3.11 BUILD each EasyDict with its empty __dict__."""
    older = pickle.dumps({"opts": _EasyDict(a=1)}, protocol=2)
    assert older.count(b"\x81") == 1  # NEWOBJ: add the empty-dict BUILD right after it
    (tmp_path / "opts.pkl").write_bytes(older.replace(b"\x81", b"\x81}b"))
    opts = unpickle.read_network_pickle(tmp_path / "opts.pkl")["opts"]
    assert isinstance(opts, unpickle._EasyDict) and opts == {"a": 1}
    write_nvidia_pickle(tmp_path / "ok.pkl", random_net())
    assert load_stylegan2_file(tmp_path / "ok.pkl", "cpu").resolution == 32


def test_deep_nesting_in_a_child_process_exits_2_not_139(tmp_path):
    """A regression here would kill pytest itself; in a child it is just a failed test."""
    path = _deep_tuple_key(tmp_path)
    scene = tmp_path / "scene.yaml"
    scene.write_text(f"model: {path.name}\noutput: {{fps: 5, size: 32}}\n"
                     "keyframes: [{seed: 1}, {seed: 2}]\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    r = subprocess.run([sys.executable, "-m", "latentreel", "render", str(scene), "-q",
                        "-o", str(tmp_path / "out.mp4")], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 2, (r.returncode, r.stderr[-500:])
    assert "nested more than 100 levels" in r.stderr


runner = CliRunner()


@pytest.mark.parametrize("case", list(CASES))
def test_cli_refuses_each_with_one_clean_line(tmp_path, nvidia_modules, case):
    path = CASES[case][0](tmp_path)
    scene = tmp_path / "scene.yaml"
    out = tmp_path / "out.mp4"
    model = str(path.name).replace("\\", "\\\\").replace('"', '\\"')
    model = model.encode("unicode_escape").decode("ascii")  # YAML double-quoted escapes
    scene.write_text(f'model: "{model}"\noutput: {{fps: 5, size: 32}}\n'
                     "keyframes: [{seed: 1}, {seed: 2}]\n")
    from latentreel.cli import app

    r = runner.invoke(app, ["render", str(scene), "-q", "-o", str(out)])
    assert r.exit_code == 2, (r.exit_code, r.output)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and r.stderr.endswith("\n"), r.stderr
    line = lines[0]
    assert line.startswith("error: ")
    assert all(ch.isprintable() for ch in line), repr(line)
    assert len(line) <= 400, line
    assert "Traceback" not in r.output and "weights_only" not in r.output
    assert not out.exists()


@pytest.mark.parametrize("cfg", [
    dict(img_resolution=32, z_dim=32, w_dim=16, mapping_layers=2, channel_base=256,
         channel_max=32),
    dict(img_resolution=16, z_dim=8, w_dim=8, mapping_layers=3, mapping_features=12,
         channel_base=64, channel_max=16, architecture="orig", use_noise=False,
         img_channels=1, resample_filter=(1.0, 1.0)),
], ids=["skip", "orig-no-noise"])
def test_expected_shapes_match_the_network_without_building_it(cfg):
    from latentreel.models.stylegan2.limits import expected_shapes
    from latentreel.models.stylegan2.network import Generator, StyleGAN2Config

    cfg = StyleGAN2Config(**cfg)
    real = {k: tuple(t.shape) for k, t in Generator(cfg).state_dict().items()}
    assert expected_shapes(cfg) == real


def test_file_text_is_quoted_escaped_and_cut():
    from latentreel.errors import printable, quote, shown_path

    assert quote("a\x1b[2J\r\nb\u202e'") == "'a\\x1b[2J\\x0d\\x0ab\\u202e\\''"
    assert quote("k" * 1000, 10) == "'kkkkkkkkkk'... (1000 characters)"
    assert quote([[[1]]]) == "a list" and quote(10 ** 400) == "an integer of 1329 bits"
    assert printable("one\x1b[H\nt\two") == "one\\x1b[H\nt\\x09wo"
    assert shown_path("/x/" + "d" * 500 + "/m\r.pkl").endswith("/m\\x0d.pkl")
    assert len(shown_path("/x/" + "d" * 500)) <= 203
