"""TensorFlow-era network pickles (NVlabs stylegan2, stylegan2-ada), read as data.

Format: a pickled tuple ``(G, D, Gs)`` of ``dnnlib.tflib.network.Network`` objects; ``Gs`` (the
running average of G) is the one that renders. Each pickles as ``Network.__new__`` then BUILD
with the dict its ``__getstate__`` wrote: ``version``, ``name``, ``static_kwargs`` (the build
function's keyword arguments), ``components`` (nested Networks: mapping, synthesis),
``build_module_src`` and ``build_func_name`` (Python source NVIDIA's TensorFlow code executes
to rebuild the graph), ``variables`` (a list of (scoped name, numpy array)) and, from version 5,
the input/output shapes and names.

Here ``Network`` becomes ``TFNetworkRecord``, whose ``__setstate__`` checks that dict and keeps
only data: the build source is counted, never kept, never executed. The arrays are numpy
stand-ins (standins.NumpyArray) read from the file's own bytes; ``tf_variables`` flattens the
component tree into {'mapping/Dense0/weight': array, ...} once the whole file is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentreel.errors import ModelError, quote, shown_path
from latentreel.models.pickles.standins import BadContent, NumpyArray

GLOBAL = ("dnnlib.tflib.network", "Network")
VERSIONS = (4, 5)  # stylegan2 writes 4, stylegan2-ada 5; 2 and 3 are StyleGAN (1) era
_KNOWN_FIELDS = frozenset({"version", "name", "static_kwargs", "components", "build_module_src",
                           "build_func_name", "variables", "input_shapes", "output_shapes",
                           "input_names", "output_names"})
MAX_VARIABLES = 2_000  # a 1024-px G has about 170 of its own, a D about 70
MAX_COMPONENT_DEPTH = 4  # G -> mapping/synthesis: 1 deep
MAX_KWARGS = 200
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_/.-")


class TFNetworkRecord:
    """What a ``dnnlib.tflib.network.Network`` becomes here: its state as checked data."""

    def __new__(cls, *args, **kwargs):
        if args or kwargs:  # NVIDIA's pickles call Network.__new__ with nothing
            raise BadContent("a TensorFlow network built with arguments")
        return super().__new__(cls)

    def __init__(self):  # never called by the unpickler; only here for clarity
        self.built = False

    def __setstate__(self, state) -> None:
        if getattr(self, "built", False):
            raise BadContent("a TensorFlow network given state twice")
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise BadContent("a TensorFlow network whose state is not a dict of fields")
        unknown = sorted(set(state) - _KNOWN_FIELDS)
        if unknown:
            raise BadContent(f"a TensorFlow network with an unknown field {quote(unknown[0], 40)}")
        version = state.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version not in VERSIONS:
            raise BadContent(f"a TensorFlow network of version {quote(version)} (StyleGAN2 "
                             f"writes {VERSIONS[0]} or {VERSIONS[1]}; older ones are StyleGAN 1)")
        self.version = version
        self.name = _text(state.get("name"), "name")
        self.build_func_name = _text(state.get("build_func_name"), "build_func_name")
        source = state.get("build_module_src")
        # Counted only: NVIDIA's loader exec()s this source; it is never kept here.
        self.module_src_chars = len(source) if isinstance(source, str) else 0
        self.static_kwargs = _kwargs(state.get("static_kwargs"))
        self.components = _components(state.get("components"))
        self.variables = _variables(state.get("variables"))
        self.built = True


def _text(value, what: str) -> str:
    if not isinstance(value, str) or len(value) > 200:
        raise BadContent(f"a TensorFlow network whose {what} is {quote(value)}, not a name")
    return value


def _kwargs(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_KWARGS:
        raise BadContent(f"TensorFlow static_kwargs that are {quote(value)}, not a dict")
    bad = next((k for k in value if not isinstance(k, str)), None)
    if bad is not None:
        raise BadContent(f"a TensorFlow static kwarg named by {quote(bad)}, not a string")
    return dict(value)


def _components(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 16:
        raise BadContent(f"TensorFlow components that are {quote(value)}, not a dict")
    for name, comp in value.items():
        if not isinstance(name, str) or not isinstance(comp, TFNetworkRecord):
            raise BadContent(f"a TensorFlow component {quote(name)} that is not a network")
    return dict(value)


def _variables(value) -> list[tuple[str, NumpyArray]]:
    """(name, array) pairs; the arrays are read later (a hostile file could BUILD one after
    handing it to this record)."""
    if not isinstance(value, (list, tuple)) or len(value) > MAX_VARIABLES:
        raise BadContent("TensorFlow variables that are not a list of (name, array) pairs")
    out = []
    for item in value:
        if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], NumpyArray)):
            raise BadContent("a TensorFlow variable that is not a (name, array) pair")
        if not item[0] or len(item[0]) > 200 or not set(item[0]) <= _NAME_CHARS:
            raise BadContent(f"a TensorFlow variable named {quote(item[0], 60)}")
        out.append((item[0], item[1]))
    return out


def is_tf_pickle(obj: object) -> bool:
    """A TensorFlow-era snapshot: a TensorFlow network, or a tuple holding them."""
    return isinstance(obj, TFNetworkRecord) or (
        isinstance(obj, tuple) and any(isinstance(n, TFNetworkRecord) for n in obj))


def find_tf_generator(obj: object, path: Path) -> TFNetworkRecord:
    """Gs, the generator that renders, from a ``(G, D, Gs)`` TensorFlow snapshot."""
    where = shown_path(path)
    if not (isinstance(obj, tuple) and len(obj) == 3 and
            all(isinstance(n, TFNetworkRecord) for n in obj)):
        raise ModelError(f"{where}: a TensorFlow-era pickle, but not the (G, D, Gs) snapshot "
                         "StyleGAN2's training writes")
    gs = obj[2]
    if not getattr(gs, "built", False):
        raise ModelError(f"{where}: its Gs network has no state; the file is damaged")
    return gs


def tf_variables(record: TFNetworkRecord, where: str) -> dict[str, np.ndarray]:
    """{'mapping/Dense0/weight': array, 'dlatent_avg': array, ...} over the component tree.

    Bounded and iterative: a component reached twice (a cycle) or nested too deep, an array
    never filled, or a name given twice is refused.

    Raises:
        ModelError: one line naming what is wrong.
    """
    out: dict[str, np.ndarray] = {}
    seen: set[int] = set()
    todo = [(record, "", 0)]
    while todo:
        rec, prefix, depth = todo.pop()
        if id(rec) in seen or depth > MAX_COMPONENT_DEPTH or not getattr(rec, "built", False):
            what = "reached twice" if id(rec) in seen else \
                "nested too deep" if depth > MAX_COMPONENT_DEPTH else "without state"
            raise ModelError(f"{where}: a TensorFlow network component {quote(prefix)} "
                             f"{what}; the file is damaged or hostile")
        seen.add(id(rec))
        for name, arr in rec.variables:
            key = prefix + name
            if arr.array is None or key in out:
                problem = "never filled" if arr.array is None else "given twice"
                raise ModelError(f"{where}: TensorFlow variable {quote(key, 80)} {problem}; "
                                 "the file is damaged or hostile")
            out[key] = arr.array
            if len(out) > MAX_VARIABLES:
                raise ModelError(f"{where}: more than {MAX_VARIABLES} TensorFlow variables")
        todo.extend((c, f"{prefix}{n}/", depth + 1) for n, c in rec.components.items())
    return out
