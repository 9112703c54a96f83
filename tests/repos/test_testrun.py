"""Reading pytest's output: per-test outcomes, SyncBench's counts, the log an agent is shown."""

from __future__ import annotations

from simyard.repos.testrun import SUMMARY_KEYS, error_log, parse_outcomes, parse_summary, pytest_command

LOG = """============================= test session starts ==============================
collecting ... collected 5 items

tests/test_a.py::test_ok PASSED                                          [ 20%]
tests/test_a.py::test_bad FAILED                                         [ 40%]
tests/test_a.py::test_param[a b] PASSED                                  [ 60%]
tests/test_a.py::test_skip SKIPPED (no reason)                           [ 80%]
tests/test_a.py::test_teardown PASSED                                    [100%]
tests/test_a.py::test_teardown ERROR                                     [100%]

=========================== short test summary info ============================
PASSED tests/test_a.py::test_ok
PASSED tests/test_a.py::test_param[a b]
PASSED tests/test_a.py::test_teardown
FAILED tests/test_a.py::test_bad - assert 1 == 2
SKIPPED [1] tests/test_a.py:9: no reason
ERROR tests/test_a.py::test_teardown - RuntimeError: boom
========== 1 failed, 3 passed, 1 skipped, 2 warnings, 1 error in 0.12s ==========
"""


def test_outcomes_come_from_the_short_summary_and_an_error_wins():
    assert parse_outcomes(LOG) == {
        "tests/test_a.py::test_ok": "passed",
        "tests/test_a.py::test_param[a b]": "passed",
        "tests/test_a.py::test_teardown": "error",
        "tests/test_a.py::test_bad": "failed",
    }


def test_outcomes_fall_back_to_verbose_lines():
    verbose = LOG.split("=========================== short")[0]
    outcomes = parse_outcomes(verbose)
    assert outcomes["tests/test_a.py::test_skip"] == "skipped" and outcomes["tests/test_a.py::test_bad"] == "failed"


def test_counts_are_syncbenchs():
    summary = parse_summary(LOG)
    assert tuple(summary) == SUMMARY_KEYS
    assert (summary["passed"], summary["failed"], summary["skipped"], summary["warning"], summary["error"]) == \
        (3, 1, 1, 2, 1)
    assert summary["total"] == 3 + 1 + 1 + 2 + 1  # SyncBench counts warnings into its total
    assert parse_summary("no summary here")["total"] == 0


def test_the_log_starts_at_the_session_and_keeps_its_end_when_long():
    noisy = "pip noise\n" * 10 + LOG
    assert error_log(noisy).startswith("=====") and "pip noise" not in error_log(noisy)
    long = "x" * 50_000 + "\nshort test summary info\nFAILED t.py::a\n"
    assert error_log(long).startswith("short test summary info")
    assert len(error_log("y" * 20_000)) < 13_000


def test_the_command_writes_no_cache_into_the_workspace():
    argv = pytest_command("tests/test_a.py", python="python3")
    assert argv[:3] == ["python3", "-m", "pytest"] and "no:cacheprovider" in argv and argv[-1] == "tests/test_a.py"
