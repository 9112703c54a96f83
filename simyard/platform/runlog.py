"""Old home of the run-directory code, kept so imports keep working while callers move (see rundir.py)."""

from simyard.platform.frames import FRAMES_DIR, frame_name  # noqa: F401
from simyard.platform.jsonl import dumps  # noqa: F401
from simyard.platform.manifest import (  # noqa: F401
    RunConfig,
    RunManifest,
    RunSession,
    RunStatus,
    environment_facts,
    now_iso,
)
from simyard.platform.results import ResultsIndex  # noqa: F401
from simyard.platform.rundir import (  # noqa: F401
    INDEX_FILE,
    LOCK_FILE,
    RUN_DIR_HINT,
    RUN_FILE,
    TASKS_FILE,
    RunDir,
    default_run_dir,
    episode_dir_name,
    open_run,
    single_episode_writer,
)
from simyard.platform.trajectory import (  # noqa: F401
    EPISODES_DIR,
    TRAJECTORY_FILE,
    EpisodeWriter,
    read_episode_result,
    read_trajectory,
)
