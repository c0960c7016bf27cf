"""kernelvis: what the kernels of 3D convolutional video networks respond to, as texture and motion."""

__version__ = "0.1.0"
