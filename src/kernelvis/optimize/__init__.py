"""Stage 1: the optimal input of a kernel by activation maximization (parameterizations, 3D
transforms, objectives, the optimization loop).

- :mod:`~kernelvis.optimize.api`: ``OptimizeConfig``, ``optimize_kernels`` (kernels × restarts in one
  batch), ``OptimalInput``, ``save_optimal``, ``reference_restart`` (a restart from the audit's best reference);
- :mod:`~kernelvis.optimize.param`: ``pixel`` and ``fourier`` parameterizations;
- :mod:`~kernelvis.optimize.transforms`: per-step, per-element jitter/scale/rotation/temporal offset;
- :mod:`~kernelvis.optimize.objectives`: channel mean, centre neuron, the rectified mean's smooth surrogate,
  weighted sums.

The kernel's response itself (run to the layer, select the kernel) is :mod:`kernelvis.models.activation`,
shared with every later stage and the baselines.
"""
