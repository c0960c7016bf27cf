"""The fast suite's guard (tests/fast_suite_guard.py, hooked in by tests/conftest.py): a test file whose unmarked tests take longer than the budget fails
the `-m "not slow"` session, naming the file; marked tests and other sessions are not held to it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from fast_suite_guard import DEFAULT_FILE_BUDGET_S, files_over_budget

GUARD = Path(__file__).with_name("fast_suite_guard.py")


def test_only_files_over_the_budget_are_named_slowest_first():
    durations = {"tests/test_a.py": 31.0, "tests/test_b.py": 30.0, "tests/test_c.py": 45.5, "tests/test_d.py": 0.1}
    over = files_over_budget(durations, 30.0)
    assert list(over) == ["tests/test_c.py", "tests/test_a.py"]  # 30.0 itself is within the budget
    assert over["tests/test_a.py"] == 31.0
    assert files_over_budget(durations, 60.0) == {}
    assert files_over_budget({}, 30.0) == {}
    assert DEFAULT_FILE_BUDGET_S == 30.0


def _inner_session(tmp_path: Path, budget_s: str, *args: str) -> subprocess.CompletedProcess:
    """A pytest session of its own on two small test files, hooked up to the guard as tests/conftest.py does."""
    shutil.copyfile(GUARD, tmp_path / "fast_suite_guard.py")
    (tmp_path / "conftest.py").write_text("from fast_suite_guard import (pytest_runtest_logreport, pytest_runtest_makereport,"
                                          " pytest_runtest_protocol, pytest_sessionfinish)\n")
    # CPU time is what counts: the "sleepy" tests keep the processor busy (a sleep would cost none), one of them in
    # a subprocess, whose CPU time counts too.
    (tmp_path / "test_sleepy.py").write_text(
        "import subprocess, sys, time\nimport pytest\n\n"
        "BUSY = 'import time\\nstart = time.process_time()\\nwhile time.process_time() - start < 0.4: pass'\n\n"
        "def test_one():\n    exec(BUSY)\n\n"
        "def test_two():\n    subprocess.run([sys.executable, '-c', BUSY], check=True)\n\n"
        "@pytest.mark.slow\ndef test_marked():\n    exec(BUSY.replace('0.4', '1.0'))\n")
    (tmp_path / "test_quick.py").write_text("import time\n\ndef test_quick():\n    time.sleep(1.0)\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n")
    # not the outer session's xdist/pytest variables: the inner session is a session of its own
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_")}
    environment["KERNELVIS_FAST_FILE_BUDGET_S"] = budget_s
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=tmp_path,
                          capture_output=True, text=True, env=environment, timeout=300)


def test_the_fast_session_fails_naming_the_file_whose_unmarked_tests_add_up_over_the_budget(tmp_path):
    # Each busy test is under the budget on its own; together (0.8 CPU s) the file is over it. The quick file
    # takes 1 s of wall time sleeping but no CPU: not named. Two xdist workers: the controller must see the
    # workers' reports.
    result = _inner_session(tmp_path, "0.6", "-n", "2", "-m", "not slow")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "3 passed" in output and "failed" not in output, output  # the tests passed: the guard failed the run
    assert "test_sleepy.py:" in output and "test_quick.py:" not in output, output


def test_within_the_budget_or_outside_the_fast_suite_the_session_passes(tmp_path):
    assert _inner_session(tmp_path, "5", "-m", "not slow").returncode == 0
    # every test, the marked one too (1 CPU s, not counted): over the budget is only a note outside the fast suite
    result = _inner_session(tmp_path, "0.6")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout and "note: unmarked tests over" in result.stdout, result.stdout
