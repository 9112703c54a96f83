"""Tools for people who write worlds and agents, and for simyard's own tests.

- `simyard.testing.conformance`: `check_world`, the contract tested on any world (`simyard env check`).
- `simyard.testing.scripted`: `ScriptedWorld` and `ScriptedAgent`, whose behaviour a test injects, so any corner
  case of a runner is one line of test code.
"""

from simyard.testing.conformance import CheckResult, all_passed, check_world, format_report, summary
from simyard.testing.scripted import ScriptedAgent, ScriptedWorld, counting_step

__all__ = ["CheckResult", "ScriptedAgent", "ScriptedWorld", "all_passed", "check_world", "counting_step",
           "format_report", "summary"]
