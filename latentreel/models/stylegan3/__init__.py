"""StyleGAN3 backend (Karras et al. 2021, "Alias-Free Generative Adversarial Networks"): a
clean-room PyTorch generator for configs T and R, read from NVIDIA's network pickles through
the allow-listed unpickler in models/pickles/, with a per-frame camera on its input layer.

Modules: filters (windowed-sinc/jinc design, filtered leaky ReLU), network (the generator),
kwargs (recorded constructor arguments -> config), backend (the Generator protocol, loading,
camera transforms), bench (random networks for benchmarks).

Nothing is imported here, so the registry can read the catalog without loading the rest.
"""
