"""Task files: moved to `simyard.platform.taskfiles` (the platform reads them); kept so old imports work."""

from simyard.platform.taskfiles import TASK_FILE_SUFFIXES, load_task_file, write_task_file

__all__ = ["TASK_FILE_SUFFIXES", "load_task_file", "write_task_file"]
