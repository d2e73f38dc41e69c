"""StyleGAN2 backend: a clean-room PyTorch generator built from NVIDIA's network pickles and
rosinality checkpoints (both read safely by models/pickles/), and downloads of NVIDIA's
published face networks.

Modules: ops (upfirdn, bias_act, modulated conv), network (the generator), kwargs (NVIDIA's
recorded constructor arguments -> config), limits (bounds on a file's configuration), load
(.pkl), rosinality (.pt), weights (name/shape-checked copying), backend (the Generator
protocol), catalog and pull (downloads), bench (images/s by batch and precision).

Nothing is imported here, so the registry can read the catalog without loading the rest.
"""
