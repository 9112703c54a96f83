"""`python -m simyard` is the `simyard` command."""

from simyard.cli import main

main()
