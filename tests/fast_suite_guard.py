"""The fast suite's guard: a test file whose unmarked tests take longer than the budget together fails the
`-m "not slow"` session, so a slow test cannot creep into `make test` unmarked: it has to be marked
@pytest.mark.slow (`make test-all` runs it) or sped up.

What is measured is CPU time (the test process's own and that of the subprocesses it ran and waited for), not
wall time: on a 2-core machine shared with other jobs the wall time of the same test varies fourfold (measured:
tests/test_decompose.py 18 s alone, 92 s at a load average of 10), its CPU time hardly. A file's time is the sum
over its unmarked tests of setup, call and teardown, so a module fixture's cost counts against the file.

Hooks for tests/conftest.py, which imports all four (pytest_runtest_protocol, _makereport, _logreport,
_sessionfinish); a module of its own (no torch) so that
tests/test_fast_suite_guard.py can run it in small pytest sessions of its own.
"""

import os
import resource
import time

import pytest


BUDGET_ENV = "KERNELVIS_FAST_FILE_BUDGET_S"
DEFAULT_FILE_BUDGET_S = 30.0


def files_over_budget(durations_s: dict[str, float], budget_s: float) -> dict[str, float]:
    """The test files whose summed duration exceeds ``budget_s`` (file -> seconds), slowest first."""
    over = {path: seconds for path, seconds in durations_s.items() if seconds > budget_s}
    return dict(sorted(over.items(), key=lambda item: -item[1]))


def file_budget_s() -> float:
    return float(os.environ.get(BUDGET_ENV, DEFAULT_FILE_BUDGET_S))


CPU_PROPERTY = "cpu_s"


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished (waited-for) subprocesses, user and system."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


_phase_started_cpu = [0.0]
_unmarked_seconds: dict[str, float] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _phase_started_cpu[0] = cpu_seconds()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Runs where the test runs (an xdist worker): each phase's CPU time rides on its report to the controller.
    outcome = yield
    now = cpu_seconds()
    outcome.get_result().user_properties.append((CPU_PROPERTY, now - _phase_started_cpu[0]))
    _phase_started_cpu[0] = now


def pytest_runtest_logreport(report):
    # Runs in the xdist controller for every worker's report (and in a plain session for its own).
    if "slow" not in report.keywords:
        path = report.nodeid.split("::")[0]
        seconds = dict(report.user_properties).get(CPU_PROPERTY, report.duration)
        _unmarked_seconds[path] = _unmarked_seconds.get(path, 0.0) + seconds


def _is_xdist_worker(config) -> bool:
    return hasattr(config, "workerinput")


def _runs_the_fast_suite(config) -> bool:
    return "not slow" in (config.option.markexpr or "")


def pytest_sessionfinish(session, exitstatus):
    if _is_xdist_worker(session.config):
        return  # the controller sees every report and decides
    budget_s = file_budget_s()
    over = files_over_budget(_unmarked_seconds, budget_s)
    if not over:
        return
    lines = [f"  {path}: {seconds:.1f} CPU s" for path, seconds in over.items()]
    # Only the fast suite (-m "not slow") is held to the budget; in other runs (test-all's slow half, a -k of
    # one's own) the numbers are a note, not a verdict.
    enforced = _runs_the_fast_suite(session.config)
    header = (f"fast-suite guard: unmarked tests take more than {budget_s:g} CPU s per file ({BUDGET_ENV}); mark the "
              "slow ones @pytest.mark.slow or speed them up:" if enforced else
              f"note: unmarked tests over {budget_s:g} CPU s per file in this run (not enforced outside -m 'not slow'):")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter else print
    write(header)
    for line in lines:
        write(line)
    if enforced and session.exitstatus == 0:
        session.exitstatus = 1
