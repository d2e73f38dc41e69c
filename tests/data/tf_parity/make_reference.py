"""How tests/data/tf_parity/*.npz were made (not run by the tests; no NVIDIA code here).

Run it OUTSIDE this repository, with NVIDIA's stylegan2-ada-pytorch checkout on the path (its
custom ops fall back to their reference implementations on the CPU; a stub ``pkg_resources``
module with ``parse_version = packaging.version.parse`` is enough for newer setuptools), and
this repository's tests/tf_nets.py importable (it uses nothing from latentreel):

    PYTHONPATH=/tmp/shim:/tmp/stylegan2-ada-pytorch:REPO python make_reference.py OUT_DIR

For each config below it writes a TensorFlow-era (G, D, Gs) pickle from seeded random
variables (tests/tf_nets.py), converts Gs with NVIDIA's legacy.convert_tf_generator (what
legacy.load_network_pkl does for such files; its discriminator converter is not asked to read
the writer's stand-in D) and stores NVIDIA's images, noise_mode='const', in NAME.npz:
z (img_z), a truncated W+ (psi 0.6, cutoff 3: img_trunc) and a random W+ (img_wplus).
"""
import json, pickle, sys
import numpy as np, torch
import legacy
from tests.tf_nets import write_tf_pickle
from tests.tf_nets import CONFIGS

OUT = sys.argv[1]

for name, (kw, options) in CONFIGS.items():
    path = write_tf_pickle(f"{OUT}/{name}.pkl", kw, seed=options["seed"],
                           version=options["version"], lod=options["lod"])
    with open(path, "rb") as f:
        tf_G, tf_D, tf_Gs = legacy._LegacyUnpickler(f).load()
    G = legacy.convert_tf_generator(tf_Gs).eval()
    g = torch.Generator().manual_seed(options["seed"] + 100)
    z = torch.randn(2, G.z_dim, generator=g)
    c = torch.zeros(1, 0)
    with torch.no_grad():
        img_z = G(z[:1], c, truncation_psi=1, noise_mode="const")
        ws = G.mapping(z[1:], c, truncation_psi=0.6, truncation_cutoff=3)
        img_trunc = G.synthesis(ws, noise_mode="const")
        wplus = G.mapping(z[:1], c) + 0.3 * torch.randn(1, G.num_ws, G.w_dim, generator=g)
        img_wplus = G.synthesis(wplus, noise_mode="const")
    np.savez(f"{OUT}/{name}.npz", z=z.numpy(), wplus=wplus.numpy(), img_z=img_z.numpy(),
             img_trunc=img_trunc.numpy(), img_wplus=img_wplus.numpy(),
             kwargs_json=json.dumps(kw))
    print(name, float(img_z.std()), float(img_trunc.std()), float(img_wplus.std()))
