"""Harbor task folders, both ways: run them as the `harbor` world, and write SyncMind instances as them.

    simyard bench run path/to/tasks --agent oracle            # a folder of task folders (or one) is a suite
    simyard repos export SUITE_DIR --format harbor --out DIR  # SyncMind instances as task folders

`format` reads and checks a folder (`read_task`) and turns a directory of them into tasks (`load_task_folders`,
which `registry.load_suite` calls for a directory path); `world` runs one in a Docker container built from its
Dockerfile (`HarborEnv`); `export` writes instances (`export_instances`); `samples` writes small generated folders
for `HarborEnv.sample_task`.
"""

from simyard.harbor.format import HarborConfig, HarborTask, find_task_dirs, load_task_folders, read_task

__all__ = ["HarborConfig", "HarborTask", "find_task_dirs", "load_task_folders", "read_task"]
