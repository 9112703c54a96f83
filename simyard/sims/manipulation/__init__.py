"""EB-Manipulation on MuJoCo: a Franka Panda at a table, EmbodiedBench's discretised 7-D actions.

The world is `world.ManipulationEnv` (registered as `manipulation`); the suite is `simyard.tasks.eb_manipulation`.
"""
