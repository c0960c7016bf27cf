"""The fast suite's guard: a test file whose unmarked tests take longer than the budget together fails the
`-m "not slow"` session, so a slow test cannot creep into `make test` unmarked: it has to be marked
@pytest.mark.slow (`make test-all` runs it) or sped up.

Hooks for tests/conftest.py, which imports them; a module of its own (no torch) so that
tests/test_fast_suite_guard.py can run it in small pytest sessions of its own.
"""

import os


BUDGET_ENV = "KERNELVIS_FAST_FILE_BUDGET_S"
DEFAULT_FILE_BUDGET_S = 30.0


def files_over_budget(durations_s: dict[str, float], budget_s: float) -> dict[str, float]:
    """The test files whose summed duration exceeds ``budget_s`` (file -> seconds), slowest first."""
    over = {path: seconds for path, seconds in durations_s.items() if seconds > budget_s}
    return dict(sorted(over.items(), key=lambda item: -item[1]))


def file_budget_s() -> float:
    return float(os.environ.get(BUDGET_ENV, DEFAULT_FILE_BUDGET_S))


_unmarked_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report):
    # Runs in the xdist controller for every worker's report (and in a plain session for its own): setup, call
    # and teardown each report once, so a module fixture's cost counts against the file that uses it.
    if "slow" not in report.keywords:
        path = report.nodeid.split("::")[0]
        _unmarked_seconds[path] = _unmarked_seconds.get(path, 0.0) + report.duration


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
    lines = [f"  {path}: {seconds:.1f} s" for path, seconds in over.items()]
    # Only the fast suite (-m "not slow") is held to the budget: next to the slow tests the same files run on a
    # busier machine, and there the numbers are a note, not a verdict.
    enforced = _runs_the_fast_suite(session.config)
    header = (f"fast-suite guard: unmarked tests take more than {budget_s:.0f} s per file ({BUDGET_ENV}); mark the "
              "slow ones @pytest.mark.slow or speed them up:" if enforced else
              f"note: unmarked tests over {budget_s:.0f} s per file in this run (not enforced outside -m 'not slow'):")
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter else print
    write(header)
    for line in lines:
        write(line)
    if enforced and session.exitstatus == 0:
        session.exitstatus = 1
