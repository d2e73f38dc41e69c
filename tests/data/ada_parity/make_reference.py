"""How tests/data/ada_parity/*.npz were made (not run by the tests; no NVIDIA or rosinality
code here).

Run it OUTSIDE this repository, with NVIDIA's stylegan2-ada-pytorch and rosinality's
stylegan2-pytorch checkouts on the path (their custom ops fall back to reference
implementations on the CPU; rosinality's build-on-import is skipped by making
``torch.utils.cpp_extension.load`` return None; a stub ``pkg_resources`` module with
``parse_version = packaging.version.parse`` serves newer setuptools) and this repository's
tests/ importable (tf_nets.py and ada_nets.py use nothing from latentreel):

    PYTHONPATH=/tmp/shim:/tmp/stylegan2-ada-pytorch:REPO python make_reference.py OUT_DIR ROS_DIR

Per config it stores NAME.npz: the z, labels c, w and W+ it drew with, NVIDIA's (or
rosinality's) images for z, w, truncation (psi 0.6; cutoff 3 except rosinality, which has
none), W+ (noise 'const') and z with noise 'none', each subsampled every res/32 pixels
(``sub_*``) with the full image's std (``std_*``), and for PyTorch-era networks the names
and shapes of the network's tensors (the tests fill those names with ada_nets.fill):
- tf_*: TensorFlow-era pickles (tests/tf_nets.py) through legacy.load_network_pkl's converter;
- ada_*: NVIDIA's training/networks.Generator built from the kwargs, tensors from fill();
- ros_*: rosinality's model.Generator, tensors from fill().
"""
import json, sys
import numpy as np, torch
import torch.utils.cpp_extension as cpp

OUT, ROS = sys.argv[1], sys.argv[2]
import legacy
from training import networks
from tests import ada_nets, tf_nets

cpp.load = lambda *a, **k: None  # rosinality compiles CUDA ops on import; the CPU path needs none
sys.path.insert(0, ROS)
import model as ros_model


def sub(img, res):
    s = max(1, res // 32)
    return img[..., ::s, ::s].numpy(), np.float32(img.std())


def save(name, res, imgs, **arrays):
    data = dict(arrays)
    for key, img in imgs.items():
        data[f"sub_{key}"], data[f"std_{key}"] = sub(img, res)
    np.savez_compressed(f"{OUT}/{name}.npz", **data)
    print(name, {k: float(v.std()) for k, v in imgs.items()})


def nvidia_refs(G, seed, name, **extra):
    g = torch.Generator().manual_seed(seed + 100)
    z = torch.randn(2, G.z_dim, generator=g)
    c = torch.from_numpy(ada_nets.labels(G.c_dim, 2, seed))
    with torch.no_grad():
        img_z = G(z[:1], c[:1], truncation_psi=1, noise_mode="const")
        img_none = G(z[:1], c[:1], noise_mode="none")
        w = G.mapping(z[1:], c[1:])[:, 0]
        img_w = G.synthesis(w[:, None].repeat(1, G.num_ws, 1), noise_mode="const")
        ws = G.mapping(z[1:], c[1:], truncation_psi=0.6, truncation_cutoff=3)
        img_trunc = G.synthesis(ws, noise_mode="const")
        wplus = G.mapping(z[:1], c[:1]) + 0.3 * torch.randn(1, G.num_ws, G.w_dim, generator=g)
        img_wplus = G.synthesis(wplus, noise_mode="const")
    save(name, G.img_resolution, dict(z=img_z, none=img_none, w=img_w, trunc=img_trunc,
                                      wplus=img_wplus),
         z=z.numpy(), c=c.numpy(), w=w.numpy(), wplus=wplus.numpy(), **extra)


def filled(net, seed, lrmul):
    names = {}
    with torch.no_grad():
        for k, t in net.state_dict().items():
            t.copy_(torch.from_numpy(ada_nets.fill(k, tuple(t.shape), seed, lrmul)))
            names[k] = list(t.shape)
    return names


for name, (kw, opt) in tf_nets.VARIANT_CONFIGS.items():
    path = tf_nets.write_tf_pickle(f"{OUT}/{name}.pkl", kw, seed=opt["seed"],
                                   version=opt["version"], lod=opt["lod"])
    with open(path, "rb") as f:
        _, _, tf_Gs = legacy._LegacyUnpickler(f).load()
    nvidia_refs(legacy.convert_tf_generator(tf_Gs).eval(), opt["seed"], name,
                kwargs_json=json.dumps(kw))

for name, (kw, seed) in ada_nets.ADA_CONFIGS.items():
    G = networks.Generator(**kw).eval().requires_grad_(False)
    names = filled(G, seed, ada_nets.lr_multiplier(kw))
    nvidia_refs(G, seed, name, kwargs_json=json.dumps(kw), names_json=json.dumps(names))

for name, (kw, seed) in ada_nets.ROSINALITY_CONFIGS.items():
    G = ros_model.Generator(kw["size"], kw["style_dim"], kw["n_mlp"],
                            channel_multiplier=kw["channel_multiplier"]).eval()
    names = filled(G, seed, 0.01)  # rosinality's lr_mlp default
    avg = torch.from_numpy(ada_nets.fill("latent_avg", (kw["style_dim"],), seed))
    g = torch.Generator().manual_seed(seed + 100)
    z = torch.randn(2, kw["style_dim"], generator=g)
    zeros = [torch.zeros_like(getattr(G.noises, f"noise_{i}")) for i in range(G.num_layers)]
    with torch.no_grad():
        img_z = G([z[:1]], randomize_noise=False)[0]
        img_none = G([z[:1]], noise=zeros)[0]
        w = G.style(z[1:])
        img_w = G([w], input_is_latent=True, randomize_noise=False)[0]
        img_trunc = G([z[1:]], truncation=0.6, truncation_latent=avg[None],
                      randomize_noise=False)[0]
        wplus = G.style(z[:1])[:, None] + 0.3 * torch.randn(1, G.n_latent, kw["style_dim"],
                                                            generator=g)
        img_wplus = G([wplus], input_is_latent=True, randomize_noise=False)[0]
    save(name, kw["size"], dict(z=img_z, none=img_none, w=img_w, trunc=img_trunc,
                                wplus=img_wplus),
         z=z.numpy(), w=w.numpy(), wplus=wplus.numpy(), kwargs_json=json.dumps(kw),
         names_json=json.dumps(names))
