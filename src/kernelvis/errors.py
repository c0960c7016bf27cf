"""Errors meant for people.

Anything raised as a :class:`KernelvisError` is printed by the CLI as one line, without a traceback,
and the command exits non-zero. Messages should say what was wrong and what would be right
(valid choices, the file that is missing and where it goes).
"""


class KernelvisError(Exception):
    """A user-facing error: the message is the whole story."""


class MissingWeightsError(KernelvisError):
    """Pretrained weights are not available locally and cannot be downloaded."""


class BadInputError(KernelvisError):
    """An input (model spec, layer, kernel, video, config) is invalid."""


class OptimizationDivergedError(KernelvisError):
    """An optimization produced NaN or inf."""


class KernelSilentError(KernelvisError):
    """The kernel does not respond to the given input at all: a property of the kernel, to be recorded."""
