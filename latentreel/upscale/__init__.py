"""Learned upscalers (Real-ESRGAN) read from ncnn files and run as PyTorch modules."""
