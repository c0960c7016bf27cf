"""Shared test set-up: one torch thread per xdist worker, no network, deterministic seeds."""

import os
import socket

import numpy as np
import pytest
import torch

torch.set_num_threads(1)
os.environ.setdefault("KERNELVIS_NO_DOWNLOAD", "1")


@pytest.fixture(autouse=True)
def _no_network_and_seeded(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket, "create_connection", refuse)
    torch.manual_seed(0)
    np.random.seed(0)
    yield
