"""Worlds that need no repository: RAGEN's puzzles today; household, navigation and others as they arrive."""
