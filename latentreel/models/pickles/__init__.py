"""Safe reading of model files that are pickles, shared by the backends: nothing a file
carries ever runs, and nothing is built that the file's own bytes do not back.

Modules: prescan (walks a pickle's opcode stream before anything is unpickled), standins (what
the numpy and torch globals a file may name become: checked, loader-owned functions), unpickle
(NVIDIA's network pickles: the allow-listed unpickler, G_ema's record and its tensors),
checkpoint (``torch.save`` files, pre-scanned then loaded with weights_only), tensors (storage
claims and NaN/inf checks on a file's tensors).

It knows no backend: StyleGAN2 and StyleGAN3 build their generators from what it returns.
Nothing is imported here, so importing one module does not load the rest.
"""
