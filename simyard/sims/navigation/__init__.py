"""EB-Navigation's world on MuJoCo: kitchens, EB's eight moves, collisions, the grid oracle and EB's task files.

`world.py` holds the `navigation` world; `actions.py` the eight actions; `kitchens.py` procedural kitchens;
`space.py` what blocks the agent's body; `planner.py` the oracle; `starts.py` start poses; `rebuild.py` a kitchen
built around a recorded EB-Navigation task; `eb_data.py` reads EB-Navigation's `datasets/<subset>.json`.
Pictures come from the household engine's scene (`simyard.sims.household.scene`).
"""
