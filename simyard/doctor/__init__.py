"""`simyard doctor`: what this machine can run, and proof that this install reproduces reference behaviour.

- `checks.py` looks for what each world and backend needs (MuJoCo rendering, bubblewrap, Docker, torch, ...) and
  names the fix for anything missing or broken.
- `golden.py` replays golden episodes (oracle trajectories shipped in `golden/`) and compares every step's reward,
  flags, feedback and frames, and the final state, with what was recorded.
- `frames.py` fingerprints pictures: an exact hash, and a small thumbnail for comparing across GL stacks.
- `make_golden.py` regenerates the goldens (`python -m simyard.doctor.make_golden`).
"""
