"""Write TensorFlow-era StyleGAN2 pickles ((G, D, Gs) of ``dnnlib.tflib.network.Network``) from
seeded random variables, without TensorFlow or NVIDIA code.

The variable names and shapes follow NVlabs' TensorFlow G_main / G_mapping / G_synthesis
(stylegan2-ada's training/networks.py); written here from that naming, independently of
latentreel's converter, so the parity references (made by NVIDIA's legacy.py from these same
files) test both. Imports nothing from latentreel: tests/data/tf_parity/make_reference.py uses it
outside the repository.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import sys
import types

import numpy as np

SOURCE = "# G_main's module source would be here; a safe loader never executes it\n"


class Network:
    """Pickles like dnnlib.tflib.network.Network: Network.__new__, then BUILD with state."""

    def __init__(self, state: dict):
        self._state = state

    def __getstate__(self):
        return self._state


@contextlib.contextmanager
def tf_modules():
    """Make ``dnnlib.tflib.network.Network`` importable by name while pickling."""
    names = ("dnnlib", "dnnlib.tflib", "dnnlib.tflib.network")
    saved = {n: sys.modules.get(n) for n in names}
    for n in names:
        if sys.modules.get(n) is None:
            sys.modules[n] = types.ModuleType(n)
    module = sys.modules["dnnlib.tflib.network"]
    old = getattr(module, "Network", None)
    module.Network = Network
    Network.__module__, Network.__qualname__ = "dnnlib.tflib.network", "Network"
    try:
        yield
    finally:
        Network.__module__, Network.__qualname__ = __name__, "Network"
        if old is not None:
            module.Network = old
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)


def _state(name: str, kwargs: dict, variables: list, components: dict, version: int) -> dict:
    state = {"version": version, "name": name, "static_kwargs": dict(kwargs),
             "components": components, "build_module_src": SOURCE,
             "build_func_name": "G_main" if name == "G" else name,
             "variables": variables}
    if version >= 5:
        state.update(input_shapes=[[None, 8]], output_shapes=[[None, 3, 8, 8]],
                     input_names=["latents_in"], output_names=["images_out"])
    return state


def generator_variables(kw: dict, seed: int) -> dict[str, list]:
    """{'': G's own, 'mapping': ..., 'synthesis': ...} lists of (name, float32 array)."""
    rng = np.random.RandomState(seed)
    res_log2 = int(math.log2(kw["resolution"]))
    z_dim, w_dim = kw.get("latent_size", 512), kw.get("dlatent_size", 512)
    layers, lrmul = kw.get("mapping_layers", 8), kw.get("mapping_lrmul", 0.01)
    fmaps = kw.get("mapping_fmaps")
    arch, channels = kw.get("architecture", "skip"), kw.get("num_channels", 3)

    def nf(stage: int) -> int:
        return int(np.clip(int(kw.get("fmap_base", 16384) / 2.0 ** stage), 1,
                           kw.get("fmap_max", 512)))

    def arr(*shape, scale=1.0, offset=0.0):
        return (rng.randn(*shape) * scale + offset).astype(np.float32)

    mapping = []
    width = z_dim
    labels = kw.get("label_size", 0)
    if labels:  # stylegan2-ada's conditioning: an embedding concatenated to normalised z
        embed = kw.get("label_fmaps") or w_dim
        mapping += [("LabelEmbed/weight", arr(labels, embed)),
                    ("LabelEmbed/bias", arr(embed, scale=0.2))]
        width += embed
    for i in range(layers):
        out = fmaps if fmaps is not None and i < layers - 1 else w_dim
        mapping += [(f"Dense{i}/weight", arr(width, out, scale=1 / lrmul)),
                    (f"Dense{i}/bias", arr(out, scale=0.2 / lrmul))]
        width = out

    synthesis = []

    def layer(scope: str, cin: int, cout: int, k: int = 3, noise: bool = True):
        synthesis.extend([(f"{scope}/weight", arr(k, k, cin, cout)),
                          (f"{scope}/mod_weight", arr(w_dim, cin)),
                          (f"{scope}/mod_bias", arr(cin, scale=0.2))])
        if noise:
            synthesis.append((f"{scope}/noise_strength", np.array(0.3, np.float32)))
        synthesis.append((f"{scope}/bias", arr(cout, scale=0.2)))

    num_layers = res_log2 * 2 - 2
    for idx in range(num_layers - 1):
        r = 2 ** ((idx + 5) // 2)
        synthesis.append((f"noise{idx}", arr(1, 1, r, r)))
    synthesis.append(("4x4/Const/const", arr(1, nf(1), 4, 4)))
    layer("4x4/Conv", nf(1), nf(1))
    if arch == "skip":
        layer("4x4/ToRGB", nf(1), channels, k=1, noise=False)
    for r in range(3, res_log2 + 1):
        s = f"{2 ** r}x{2 ** r}"
        layer(f"{s}/Conv0_up", nf(r - 2), nf(r - 1))
        if arch == "resnet":
            synthesis.append((f"{s}/Skip/weight", arr(1, 1, nf(r - 2), nf(r - 1))))
        layer(f"{s}/Conv1", nf(r - 1), nf(r - 1))
        if arch == "skip" or r == res_log2:  # orig and resnet: toRGB at the end only
            layer(f"{s}/ToRGB", nf(r - 1), channels, k=1, noise=False)
    own = [("dlatent_avg", arr(w_dim, scale=0.5))]
    return {"": own, "mapping": mapping, "synthesis": synthesis}


def tf_snapshot(kw: dict, seed: int = 0, version: int = 5, lod: bool = False,
                edit=None) -> tuple:
    """(G, D, Gs) as NVIDIA's TensorFlow training loop pickles them; Gs from ``seed``, G from
    another seed (so a loader that renders G instead of Gs is caught). ``edit(variables)`` may
    change Gs's variable lists before they are wrapped."""
    nets = []
    for s in (seed + 1, seed):
        v = generator_variables(kw, s)
        if lod:  # NVlabs stylegan2 (version 4) keeps a progressive-growing level of detail
            v[""].insert(0, ("lod", np.zeros((), np.float32)))
        if edit is not None and s == seed:
            edit(v)
        comps = {"synthesis": Network(_state("G_synthesis", kw, v["synthesis"], {}, version)),
                 "mapping": Network(_state("G_mapping", kw, v["mapping"], {}, version))}
        nets.append(Network(_state("G", kw, v[""], comps, version)))
    d = Network(_state("D", kw, [("Output/weight", np.ones((4, 1), np.float32))], {},
                       version))
    return nets[0], d, nets[1]


def write_tf_pickle(path, kw: dict, seed: int = 0, **options):
    """Write ``tf_snapshot(kw, seed, ...)`` to ``path`` (as TensorFlow's code does: protocol 4)."""
    with tf_modules():
        data = pickle.dumps(tf_snapshot(kw, seed, **options), protocol=4)
    with open(path, "wb") as f:
        f.write(data)
    return path


# Parity configs (tests/test_tf_parity.py, tests/data/tf_parity/make_reference.py): static
# kwargs as TensorFlow training records them, and how the snapshot is written.
CONFIGS = {
    "tf32_map2": ({"resolution": 32, "num_channels": 3, "label_size": 0, "latent_size": 32,
                   "dlatent_size": 32, "mapping_layers": 2, "fmap_base": 128, "fmap_max": 32,
                   "architecture": "skip"},
                  {"seed": 1, "version": 5, "lod": False}),
    "tf64_map8": ({"resolution": 64, "num_channels": 3, "label_size": 0, "latent_size": 48,
                   "dlatent_size": 40, "mapping_layers": 8, "mapping_fmaps": 24,
                   "fmap_base": 512, "fmap_max": 32, "truncation_psi": 0.5,
                   "style_mixing_prob": 0.9},
                  {"seed": 2, "version": 4, "lod": True}),
    "tf32_orig": ({"resolution": 32, "num_channels": 3, "latent_size": 32, "dlatent_size": 32,
                   "mapping_layers": 8, "fmap_base": 256, "fmap_max": 16, "architecture": "orig",
                   "conv_clamp": 2.0},
                  {"seed": 3, "version": 5, "lod": False}),
}

# The variants (tests/test_tf_parity.py, tests/data/ada_parity/make_reference.py): resnet,
# conditional (stylegan2-ada's label embedding), other mapping activations, up to 256 px.
VARIANT_CONFIGS = {
    "tf128_resnet": ({"resolution": 128, "num_channels": 3, "label_size": 0, "latent_size": 24,
                      "dlatent_size": 24, "mapping_layers": 4, "mapping_fmaps": 20,
                      "fmap_base": 512, "fmap_max": 16, "architecture": "resnet",
                      "mapping_nonlinearity": "linear", "conv_clamp": 256},
                     {"seed": 4, "version": 5, "lod": False}),
    "tf256_cond": ({"resolution": 256, "num_channels": 3, "label_size": 4, "label_fmaps": 10,
                    "latent_size": 16, "dlatent_size": 16, "mapping_layers": 3,
                    "mapping_lrmul": 0.1, "fmap_base": 256, "fmap_max": 8,
                    "architecture": "skip"},
                   {"seed": 5, "version": 5, "lod": False}),
    "tf64_cond_resnet": ({"resolution": 64, "num_channels": 3, "label_size": 3,
                          "latent_size": 16, "dlatent_size": 16, "mapping_layers": 8,
                          "fmap_base": 512, "fmap_max": 16, "architecture": "resnet",
                          "mapping_nonlinearity": "swish"},
                         {"seed": 6, "version": 4, "lod": True}),
}
