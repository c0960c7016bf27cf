"""Model zoo, layer/kernel addressing, run-to-layer and a kernel's response (:mod:`kernelvis.models.activation`).

``load_model(spec, weights=None)`` (in :mod:`kernelvis.models.zoo`) returns a :class:`LoadedModel`.
"""

from kernelvis.models.layers import LayerInfo, check_kernels, conv_layers, resolve_layer, run_to_layer
from kernelvis.models.loaded import LoadedModel
from kernelvis.models.preprocessing import Preprocessing

__all__ = ["LayerInfo", "LoadedModel", "Preprocessing", "check_kernels", "conv_layers", "resolve_layer", "run_to_layer"]
