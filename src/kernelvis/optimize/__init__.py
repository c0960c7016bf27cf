"""Stage 1: the optimal input of a kernel by activation maximization (parameterizations, 3D
transforms, objectives, the optimization loop)."""
