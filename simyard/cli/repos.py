"""`simyard repos build|import-csv|export-csv|export|mini`: out-of-sync scenarios from git repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from simyard.cli.common import console, err_console
from simyard.platform.errors import SimyardError

repos_app = typer.Typer(help="Git repositories as worlds: build SyncBench-style suites, import and export their CSV.",
                        no_args_is_help=True)


@repos_app.command("build")
def repos_build(
    source: Annotated[Path, typer.Argument(help="A git repository with pytest tests (a local clone).")],
    out: Annotated[Path, typer.Option("--out", help="Suite directory to write (new, or the one to --resume).")],
    workers: Annotated[int, typer.Option(help="Processes verifying candidates in parallel.", min=1)] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted build in --out.")] = False,
    name: Annotated[str | None, typer.Option(help="Short repository name in instance ids (default: folder).")] = None,
    world_sha: Annotated[str | None, typer.Option("--world-sha", help="World state to pin (default: HEAD).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per pytest run.", min=1)] = 120.0,
    sandbox: Annotated[str, typer.Option(help="Where tests run: local, bwrap or docker.")] = "local",
    python: Annotated[str | None, typer.Option(help="Interpreter that runs pytest (default: this one).")] = None,
    no_async: Annotated[bool, typer.Option("--no-async", help="Skip async functions, as SyncBench does.")] = False,
    setting: Annotated[list[str] | None, typer.Option(help="caller and/or callee (repeatable; default both).")] = None,
    limit: Annotated[int | None, typer.Option(help="Verify at most this many candidates.", min=1)] = None,
) -> None:
    """Build verified out-of-sync instances (Caller and Callee) from a repository's history.

    Each kept instance passes its test file at the world state (HEAD, pinned by sha) and fails it with one function
    rolled back to an older version. Instances are written as they are verified, so --resume continues a build
    that was interrupted.

    Example: simyard repos build ~/src/requests --out suites/requests --workers 2

    Example: simyard repos build ~/src/requests --out suites/requests --resume
    """
    from simyard.repos.builder import BuildOptions, build_suite

    settings = tuple(setting or ("caller", "callee"))
    bad = [s for s in settings if s not in ("caller", "callee")]
    if bad:
        raise SimyardError(f"unknown --setting {bad[0]!r}", hint="use caller or callee")
    options = BuildOptions(timeout_s=timeout, sandbox=sandbox, python=python, include_async=not no_async,
                           settings=settings, limit=limit)
    progress = Progress(TextColumn("[bold]verifying"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("kept {task.fields[kept]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                        console=err_console, transient=False)
    task = progress.add_task("verify", total=None, kept=0)

    def on_progress(done: int, total: int, kept: int) -> None:
        if not progress.live.is_started:  # shown from the first verdict on, so a bad input prints one line only
            progress.start()
        progress.update(task, completed=done, total=total, kept=kept)

    try:
        report = build_suite(source, out, workers=workers, resume=resume, options=options, name=name,
                             world_sha=world_sha, on_progress=on_progress)
    finally:
        progress.stop()
    rejected = ", ".join(f"{n} {reason}" for reason, n in report.rejected.most_common())
    console.print(f"{report.kept} instances ({report.caller} caller, {report.callee} callee) from {report.pairs} "
                  f"candidates at {report.world_sha[:12]} in {report.duration_s:.1f} s"
                  + (f"; {report.skipped} done before" if report.skipped else "") + f" -> {out}", markup=False)
    if rejected:
        console.print(f"rejected: {rejected}", markup=False)


@repos_app.command("import-csv")
def repos_import_csv(
    csv_path: Annotated[Path, typer.Argument(help="A SyncBench CSV (published, or written by export-csv).")],
    out: Annotated[Path, typer.Option("--out", help="Suite directory to write (must be new or empty).")],
    source: Annotated[Path | None, typer.Option(help="A clone of the rows' repository: pins each row's world "
                                                "state by sha.")] = None,
) -> None:
    """Turn SyncBench CSV rows into a simyard suite directory, so published instances can be run.

    SyncBench rows do not name the world state; with --source each is pinned to the commit whose version of the
    file equals the row's `new_complete_context`.

    Example: simyard repos import-csv syncbench_300_callee.csv --out suites/sb300 --source ~/src/requests
    """
    import json

    from simyard.repos.instances import import_csv, write_instances
    from simyard.repos.workspaces import open_source

    repo = open_source(source) if source is not None else None
    instances = import_csv(csv_path, source=repo)
    if out.exists() and any(out.iterdir()):
        raise SimyardError(f"{out} is not empty", hint="choose an empty or new --out directory")
    out.mkdir(parents=True, exist_ok=True)
    write_instances(sorted(instances, key=lambda i: i.instance_id), out / "instances.jsonl")
    pinned = sum(bool(i.world_sha) for i in instances)
    manifest = {"format": "simyard-repos-suite", "version": 1, "source": str(source or ""), "imported_from":
                str(csv_path), "repo": "", "world_sha": "", "status": "complete",
                "counts": {"instances": len(instances), "pinned": pinned}}
    (out / "suite.json").write_text(json.dumps(manifest, indent=2))
    console.print(f"{len(instances)} instances ({pinned} pinned to a world sha) -> {out}", markup=False)


@repos_app.command("export-csv")
def repos_export_csv(
    suite_dir: Annotated[Path, typer.Argument(help="A suite directory (from `simyard repos build`).")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
) -> None:
    """Write a suite as SyncBench's CSV (its 19 columns in its order, then simyard_* columns).

    Example: simyard repos export-csv suites/requests --out requests.csv
    """
    from simyard.repos.instances import export_csv, read_instances

    count = export_csv(read_instances(suite_dir), out)
    console.print(f"{count} rows -> {out}", markup=False)


@repos_app.command("export")
def repos_export(
    suite_dir: Annotated[Path, typer.Argument(help="A suite directory (from `simyard repos build` or import-csv).")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write one folder per instance in (new or empty).")],
    output_format: Annotated[str, typer.Option("--format", help="What to write: harbor (Harbor task folders).")]
    = "harbor",
    source: Annotated[Path | None, typer.Option(help="The repository the suite was built from (default: the "
                                                "source suite.json names).")] = None,
    base_image: Annotated[str | None, typer.Option("--base-image", help="The image the Dockerfiles start FROM; it "
                                                   "needs bash, git, python3 and pytest.",
                                                   show_default="simyard/base:bookworm")] = None,
    limit: Annotated[int | None, typer.Option(help="Export only the first N instances.", min=1)] = None,
) -> None:
    """Write a suite's instances as Harbor task folders, so other harnesses (and `simyard bench run DIR`) run them.

    Each folder's Dockerfile starts FROM simyard's base image by default: build it once with
    `bash scripts/setup.sh` (or simyard.sandboxes.images.ensure_base_image) on the machine that runs the tasks.

    Example: simyard repos export suites/requests --format harbor --out harbor/requests

    Example: simyard bench run harbor/requests --agent oracle
    """
    if output_format != "harbor":
        raise SimyardError(f"unknown --format {output_format!r}",
                           hint="use --format harbor; SyncBench's CSV is `simyard repos export-csv`")
    from simyard.harbor.export import export_instances
    from simyard.repos.builder import read_manifest
    from simyard.repos.instances import read_instances
    from simyard.sandboxes.docker import BASE_IMAGE

    manifest = read_manifest(suite_dir)
    instances = read_instances(suite_dir)[:limit]
    where = source if source is not None else Path(manifest.get("source") or "")
    if not str(where) or not where.exists():
        raise SimyardError(f"the suite's source repository {str(where) or '(none recorded)'!r} is not here",
                           hint="pass --source PATH, the repository the suite was built from")
    options = manifest.get("options") or {}
    report = export_instances(instances, where, out, base_image=base_image or BASE_IMAGE,
                              pytest_args=options.get("pytest_args") or (),
                              verifier_timeout_s=max(120.0, 2 * float(options.get("timeout_s") or 120.0)))
    console.print(f"{report.count} Harbor task folders -> {out} (Dockerfiles FROM {report.base_image})", markup=False)


@repos_app.command("mini")
def repos_mini(
    path: Annotated[Path, typer.Argument(help="Where to create the repository (new or empty).")],
    seed: Annotated[int, typer.Option(help="Picks the package name and numbers; same seed, same shas.")] = 0,
) -> None:
    """Create a small repository with real history (the kind `syncmind-mini` is built from).

    Example: simyard repos mini /tmp/mini0 --seed 0 && simyard repos build /tmp/mini0 --out /tmp/mini0-suite
    """
    from simyard.repos.minirepos import make_repo

    try:
        repo = make_repo(path, seed)
    except FileExistsError:
        raise SimyardError(f"{path} exists and is not empty", hint="choose a new path") from None
    console.print(f"{repo.path}: package {repo.package}, {len(repo.commits)} commits, HEAD {repo.head[:12]}",
                  markup=False)
