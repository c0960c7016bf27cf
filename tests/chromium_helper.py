"""What the atlas's browser tests (tests/test_atlas_browser.py, tests/test_atlas_layer_browser.py) share: Debian's
``chromium`` found on the PATH, the opt-in and skip markers, and the headless launcher.

Imported by name, as tests/fast_suite_guard.py (pytest puts tests/ on ``sys.path``: the folder has no ``__init__.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)

BROWSER_MARKS = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("KERNELVIS_TEST_BROWSER") != "1",
                       reason="browser test of the atlas is opt-in: set KERNELVIS_TEST_BROWSER=1"),
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install chromium); atlas browser "
                                                "test skipped"),
]
"""A browser test module's ``pytestmark``: slow, opt-in with ``KERNELVIS_TEST_BROWSER=1``, skipped without chromium."""


def chromium(tmp_path: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """Run headless Chromium with ``args`` and a fresh profile under ``tmp_path``; its stdout holds ``--dump-dom``."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
               "--mute-audio", f"--user-data-dir={tmp_path / 'chromium-profile'}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
