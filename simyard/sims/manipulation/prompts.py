"""EB-Manipulation's words: its planner's role and action description, and its per-step feedback sentence.

Paraphrased facts from EmbodiedBench's `eb_manipulation_system_prompt` (the input space, the 7-D output space, the
19 colours) and `EBManEnv.get_env_feedback`; the feedback sentence is kept as EB builds it, so agents and reports
read the same text.
"""

from __future__ import annotations

from simyard.sims.manipulation import discrete, shapes

ROLE = (
    "You are a Franka Panda robot with a parallel gripper. You can perform various tasks and output a sequence of "
    "gripper actions to accomplish a given task with images of your status."
)

HELP = f"""** Input Space **
- Each input object is represented as a 3D discrete position in the following format: [X, Y, Z].
- There is a red XYZ coordinate frame located in the top-left corner of the table. The X-Y plane is the table surface.
- The allowed range of X, Y, Z is [0, {discrete.VOXELS - 1}].
- Objects are ordered by Y in ascending order.

** Output Action Space **
- Each output action is represented as a 7D discrete gripper action in the following format: [X, Y, Z, Roll, Pitch, \
Yaw, Gripper state].
- X, Y, Z are the 3D discrete position of the gripper in the environment. It follows the same coordinate system as \
the input object coordinates.
- The allowed range of X, Y, Z is [0, {discrete.VOXELS - 1}].
- Roll, Pitch, Yaw are the 3D discrete orientation of the gripper in the environment, represented as discrete Euler \
Angles.
- The allowed range of Roll, Pitch, Yaw is [0, {discrete.ROTATION_BINS - 1}] and each unit represents \
{discrete.ROTATION_STEP_DEG} degrees.
- Gripper state is 0 for close and 1 for open.
- [X, Y, Z, 0, 60, Yaw, 1] points the open gripper straight down; the fingers close across the direction Yaw names.

** Color space **
- Each object can be described using one of the colors below:
  {list(shapes.COLORS)},"""

VALID = "Last action is valid. "
INVALID = "Last action is invalid. "
#: RLBench's refusals, as EB-Manipulation passes them on.
OUTSIDE_WORKSPACE = "Target is outside of workspace."
NO_PATH = "Could not create path."


def feedback(instruction: str, steps: int, problem: str | None, reward: float) -> str:
    """EB-Manipulation's feedback after a step (`get_env_feedback`)."""
    text = f"You are currently performing the task intended to {instruction.lower()} At this moment, you have "
    text += f"completed executing {steps} steps. "
    text += VALID if problem is None else INVALID + problem.rstrip(".") + ". "
    return text + f"The current reward obtained is {reward:g}."
