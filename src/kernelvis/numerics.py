"""Training whose weights do not depend on the machine's core count or vector width.

Why: the run trains the demo model, and every demo table follows from its weights. Measured on one
machine (Xeon with AVX-512, torch 2.14.1 CPU, seed 0, the default task): two trainings on one thread are
bit-identical, but capping the vector width at AVX2 gives different weights (largest parameter difference
3.0, held-out accuracy 97.8 % instead of 97.4 %), and so does the thread count (1 vs 2 threads: up to 0.006
after one short epoch), which the workflow used to set from ``--cores``. Training is chaotic: a rounding difference in one step grows into another model.
So a training run here

- uses :data:`TRAINING_THREADS` compute threads, whatever the job was given (torch's reductions are
  ordered per thread), and
- is capped at AVX2 (:data:`PORTABLE_ISA_ENVIRONMENT`): ATen's kernels, oneDNN's convolutions and MKL's
  conditional numerical reproducibility branch. Intel documents MKL's AVX2 branch as giving the same
  results on every Intel CPU with AVX2; oneDNN's kernels at one ISA are the same code. Not verified on a
  second CPU model here (one machine type), and not claimed for non-Intel CPUs, where MKL may take its
  automatic branch. The cap costs 1.4× the training time measured here (215 s vs 157 s, AVX-512 host); AVX2 is the
  widest vector width common to x86-64 machines of the last decade, a narrower floor (SSE4.1) cost 3×.

The ISA cap is read by torch when it starts, so it is requested before torch is imported
(:func:`request_portable_isa`: the ``kernelvis`` command does it for the commands that train) and recorded
as it took effect (:func:`training_numerics`, written into the training metrics). A value the user set in
the environment is respected and recorded.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager

TRAINING_THREADS = 1
PORTABLE_ISA_ENVIRONMENT = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"}
"""Environment read by torch at start-up: ATen's dispatch, oneDNN's JIT and MKL's reproducibility branch."""
PORTABLE_CPU_CAPABILITY = "AVX2"
"""``torch.backends.cpu.get_cpu_capability()`` when the cap took effect."""


def request_portable_isa(environ=None) -> bool:
    """Cap torch's vector width at AVX2 for this process (:data:`PORTABLE_ISA_ENVIRONMENT`, values the
    environment already holds are kept). Returns False, changing nothing, when torch is already imported:
    the cap would not take effect (:func:`training_numerics` then records what did)."""
    environ = os.environ if environ is None else environ
    if "torch" in sys.modules:
        return False
    for name, value in PORTABLE_ISA_ENVIRONMENT.items():
        environ.setdefault(name, value)
    return True


@contextmanager
def training_threads(threads: int = TRAINING_THREADS):
    """torch uses ``threads`` compute threads inside the block (restored after)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def training_numerics() -> dict:
    """What decides a training run's rounding, as it is now: threads, torch's CPU capability, the ISA
    environment, and ``portable`` (one thread, AVX2 in effect, every variable at its portable value)."""
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    environment = {name: os.environ.get(name) for name in PORTABLE_ISA_ENVIRONMENT}
    portable = (torch.get_num_threads() == TRAINING_THREADS and capability == PORTABLE_CPU_CAPABILITY
                and all((environment[name] or "").lower() == value.lower()
                        for name, value in PORTABLE_ISA_ENVIRONMENT.items()))
    return {"threads": torch.get_num_threads(), "cpu_capability": capability, "environment": environment,
            "torch": torch.__version__, "portable": portable}
