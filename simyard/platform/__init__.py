"""The core, which knows no particular world: the contract (`api`), one episode (`episode`), many episodes (`bench`,
`executor`, `lanes`, `pool`), the run directory (`rundir`, `manifest`, `results`, `trajectory`, `frames`), resources,
the registry and reports (`metrics`, `stats`). Nothing here imports `simyard.tasks`, `simyard.agents`, `simyard.gym`,
the CLI or the top-level package, so every layer above can build on it.
"""
