"""RAGEN's four puzzle worlds: Sokoban, FrozenLake, a two-armed Bandit and Countdown.

Each module is imported on its own through the registry (`simyard.make("sokoban")`), so this package imports
nothing eagerly.
"""
