"""How tests/data/nvidia_parity/*.npz were made (not run by the tests; no NVIDIA code here).

Run it OUTSIDE this repository with NVIDIA's stylegan3 checkout on the path (its custom ops
fall back to their reference implementations on the CPU; a stub ``pkg_resources`` module
with ``parse_version = packaging.version.parse`` is enough for newer setuptools):

    PYTHONPATH=/tmp/shim:/tmp/stylegan3 python make_reference.py OUT_DIR

It builds small random generators with NVIDIA's networks, randomises every learned tensor
(zero-initialised biases, the input affine, magnitude EMAs, w_avg and the input transform
included; the designed low-pass filters are kept), pickles each snapshot the official way
(OUT_DIR/NAME.pkl, for checking latentreel's loader by hand) and stores the tensors, the
constructor arguments and NVIDIA's images for fixed z, truncation and W+ in NAME.npz.
"""
import sys, pickle, copy, json
import numpy as np, torch
sys.path[:0] = []  # NVIDIA modules come from PYTHONPATH
import dnnlib
from training import networks_stylegan3 as n3, networks_stylegan2 as n2

OUT = sys.argv[1]

def randomise(G, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(G.named_parameters()) + list(G.named_buffers()):
            if name.endswith('_filter'):
                continue  # designed, not learned
            if name.endswith('magnitude_ema'):
                t.copy_(torch.rand(t.shape, generator=g) * 2 + 0.5)
            elif name.endswith('input.transform'):
                a = float(torch.rand(1, generator=g)) * 6.28
                m = torch.tensor([[np.cos(a), np.sin(a), 0.1], [-np.sin(a), np.cos(a), -0.2], [0, 0, 1]], dtype=torch.float32)
                t.copy_(m)
            elif name.endswith('input.affine.bias'):
                t.copy_(torch.tensor([1.0, 0.3, 0.05, -0.05]) + 0.05 * torch.randn(4, generator=g))
            elif name.endswith('input.affine.weight'):
                t.copy_(torch.randn(t.shape, generator=g) * 2)
            elif name.endswith('.bias'):
                t.copy_(torch.randn(t.shape, generator=g) * 0.2)
            elif name.endswith('w_avg'):
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
            elif name.endswith('noise_strength'):
                t.copy_(torch.tensor(0.3))
            elif name.endswith('freqs') or name.endswith('phases') or name.endswith('noise_const'):
                pass  # already random
            else:
                t.copy_(torch.randn(t.shape, generator=g) * t.std().clamp(min=1e-3) if t.numel() > 1 else torch.randn(t.shape, generator=g))
    return G

def make(cls, kwargs, seed):
    torch.manual_seed(seed)
    G = cls(**kwargs).eval().requires_grad_(False)
    return randomise(G, seed)

def refs(G, seed, is3):
    g = torch.Generator().manual_seed(seed + 100)
    z = torch.randn(2, G.z_dim, generator=g)
    ws_rand = G.mapping(torch.randn(1, G.z_dim, generator=g), None) + 0.3 * torch.randn(1, G.num_ws, G.w_dim, generator=g)
    kw = {} if is3 else dict(noise_mode='const')
    with torch.no_grad():
        img_z = G(z[:1], None, truncation_psi=1, **kw)
        img_t = G(z[1:], None, truncation_psi=0.6, truncation_cutoff=3, **kw)
        img_w = G.synthesis(ws_rand, **kw)
    return dict(z=z.numpy(), wplus=ws_rand.numpy(), img_z=img_z.numpy(), img_trunc=img_t.numpy(), img_wplus=img_w.numpy())

nets = {
  'sg3t16': (n3.Generator, dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=64, channel_max=8,
             num_layers=4, num_critical=2, margin_size=3, num_fp16_res=0, conv_clamp=None, magnitude_ema_beta=0.999,
             mapping_kwargs=dnnlib.EasyDict(num_layers=2))),
  'sg3r16': (n3.Generator, dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=128, channel_max=8,
             num_layers=4, num_critical=2, margin_size=3, num_fp16_res=0, conv_clamp=None, magnitude_ema_beta=0.999,
             conv_kernel=1, use_radial_filters=True, mapping_kwargs=dnnlib.EasyDict(num_layers=2))),
  'sg3t32': (n3.Generator, dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=32, img_channels=3, channel_base=64, channel_max=8,
             num_layers=4, num_critical=2, margin_size=3, num_fp16_res=2, conv_clamp=256, magnitude_ema_beta=0.999,
             mapping_kwargs=dnnlib.EasyDict(num_layers=2))),
  'sg3r32': (n3.Generator, dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=32, img_channels=3, channel_base=128, channel_max=8,
             num_layers=4, num_critical=2, margin_size=3, num_fp16_res=2, conv_clamp=256, magnitude_ema_beta=0.999,
             conv_kernel=1, use_radial_filters=True, mapping_kwargs=dnnlib.EasyDict(num_layers=2))),
  'sg2_16': (n2.Generator, dict(z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3, channel_base=64, channel_max=8,
             num_fp16_res=1, conv_clamp=256, fused_modconv_default='inference_only', mapping_kwargs=dnnlib.EasyDict(num_layers=2))),
}
for i, (name, (cls, kwargs)) in enumerate(nets.items()):
    if len(sys.argv) > 2 and name not in sys.argv[2:]:
        continue
    G = make(cls, kwargs, seed=i + 1)
    snap = dict(G=G, D=None, G_ema=copy.deepcopy(G).eval().requires_grad_(False).cpu(), augment_pipe=None, training_set_kwargs=None)
    with open(f'{OUT}/{name}.pkl', 'wb') as f:
        pickle.dump(snap, f)
    r = refs(G, i, cls is n3.Generator)
    sd = {k: v.numpy() for k, v in G.state_dict().items() if v is not None}
    kws = {k: (dict(v) if isinstance(v, dict) else v) for k, v in kwargs.items()}
    print(name, G.num_ws, {k: v.shape for k, v in r.items()}, sum(v.size for v in sd.values()))
    data = {f'tensor/{k}': v for k, v in sd.items()}
    data.update({f'ref/{k}': v for k, v in r.items()})
    data['init_kwargs_json'] = np.array(json.dumps(kws, sort_keys=True))
    np.savez_compressed(f'{OUT}/{name}.npz', **data)
