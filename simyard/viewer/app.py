"""The viewer's HTTP face: a JSON API over the opened runs, the frames, and the static page (Starlette).

Routes (`R` is a run's position on the command line, `NAME` an episode directory's name):

    GET /                                   the page (static/index.html; everything else happens in its script)
    GET /api/runs                           every run's heading
    GET /api/runs/R                         one run's heading and its report table
    GET /api/runs/R/episodes?...            a page of the episode list (filters: success, world, subset, status,
                                            reason, error_kind, q; offset, limit)
    GET /api/runs/R/episodes/NAME           one episode's replay
    GET /api/runs/R/frames/NAME/frames/F    one frame file
    GET /api/pair?runs=R,R[&differing=1]    runs side by side, paired per task, with `bench compare`'s table
    GET /api/agents                         the agents a fork may be handed to
    POST /api/runs/R/episodes/NAME/fork     start a fork: {"step": K, "agent": NAME, "options": "key=value lines",
                                            "max_steps": N (optional)}
    GET /api/forks/ID                       a fork's progress; when done, the run and episode to open

Everything a run holds goes out as JSON and the page puts it in with `textContent`, so text from worlds and models
is never markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from simyard.cli.render import jsonable
from simyard.platform.errors import SimyardError
from simyard.viewer.episodes import episode_page, frame_path
from simyard.viewer.forks import ForkJobs, forks_of, link_parent
from simyard.viewer.open_runs import OpenRuns
from simyard.viewer.runs import FACETS, PAGE_SIZE, RunView, comparison_cells, paired

STATIC_DIR = Path(__file__).with_name("static")


def _json(data: Any) -> JSONResponse:
    # Never cached: a run being written changes under the page, which polls these.
    return JSONResponse(jsonable(data), headers={"Cache-Control": "no-store"})


def _int(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name, "")
    try:
        return int(text) if text else default
    except ValueError:
        raise HTTPException(400, f"{name} must be a whole number, not {text!r}") from None


def build_app(views: OpenRuns) -> Starlette:
    """The viewer's app over already opened runs (forks started from the page are opened as they end)."""
    jobs = ForkJobs(views)

    def view_of(request: Request) -> RunView:
        try:
            number = int(request.path_params["run"])
            return views[number]
        except (ValueError, IndexError):
            raise HTTPException(404, f"no run {request.path_params['run']!r}; runs are 0-{len(views) - 1}") from None

    async def index(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)

    async def runs(request: Request) -> Response:
        return _json({"runs": [view.describe() for view in views.listed_views()]})

    def run(request: Request) -> Response:
        view = view_of(request)
        return _json({**view.describe(), "table": view.summary_cells()})

    def episodes(request: Request) -> Response:
        view = view_of(request)
        filters = {key: request.query_params.get(key, "") for key in (*FACETS, "success", "q")}
        page = view.episodes(filters, offset=_int(request, "offset", 0), limit=_int(request, "limit", PAGE_SIZE))
        return _json(page)

    def episode(request: Request) -> Response:
        view = view_of(request)
        name = request.path_params["name"]
        try:
            row = view.row(name)
            if row is None:
                raise HTTPException(404, f"run {view.number} has no episode {name!r}")
            page = episode_page(view.episode_dir(name), view.label)
        except SimyardError as exc:
            raise HTTPException(404, str(exc)) from None
        page["row"] = row.to_json()
        page["parent"] = link_parent(views, page["parent"]) if page["parent"] else None
        page["forks"] = forks_of(views, view, name)
        return _json(page)

    def agents(request: Request) -> Response:
        from simyard.platform import registry
        from simyard.platform.plugins import import_plugins

        for view in views.listed_views():  # the runs' plugin agents are choices too
            try:
                import_plugins(view.run.manifest.config.imports)
            except SimyardError:
                pass
        return _json({"agents": registry.names("agent"), "terminal": ["human"]})

    async def start_fork(request: Request) -> Response:
        view = view_of(request)
        name = request.path_params["name"]
        # Only JSON: a cross-site form or plain-text POST (no CORS preflight) cannot start an agent on this machine.
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise HTTPException(415, "send the fork request as Content-Type: application/json")
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, 'send JSON: {"step": K, "agent": NAME, "options": "key=value lines"}') from None
        if not isinstance(body, dict):
            raise HTTPException(400, 'send a JSON object: {"step": K, "agent": NAME}')
        if view.row(name) is None:
            raise HTTPException(404, f"run {view.number} has no episode {name!r}")
        try:
            # prepare_fork imports the parent's plugins and reads its trajectory: off the event loop
            from starlette.concurrency import run_in_threadpool

            job = await run_in_threadpool(jobs.start, view, name, body.get("step"), body.get("agent"),
                                          body.get("options"), body.get("max_steps"))
        except SimyardError as exc:
            raise HTTPException(400, str(exc)) from None
        return _json(job.to_json())

    def fork_job(request: Request) -> Response:
        try:
            job = jobs.get(int(request.path_params["job"]))
        except ValueError:
            job = None
        if job is None:
            raise HTTPException(404, f"no fork {request.path_params['job']!r} was started by this viewer")
        return _json(job.to_json())

    async def frame(request: Request) -> Response:
        view = view_of(request)
        try:
            path = frame_path(view.episode_dir(request.path_params["name"]), request.path_params["file"])
        except SimyardError as exc:
            raise HTTPException(404, str(exc)) from None
        if path is None or not path.is_file():
            raise HTTPException(404, f"no frame {request.path_params['file']!r}")
        # Frames never change once written, so the browser may keep them while stepping back and forth.
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

    def pair(request: Request) -> Response:
        text = request.query_params.get("runs", "")
        try:
            chosen = [views[int(part)] for part in text.split(",") if part.strip()]
        except (ValueError, IndexError):
            raise HTTPException(400, f"runs={text!r}: give run numbers 0-{len(views) - 1}, comma-separated") from None
        if len(chosen) < 2:
            raise HTTPException(400, "runs= needs at least two run numbers, e.g. runs=0,1")
        page = paired(chosen, request.query_params.get("differing") == "1", offset=_int(request, "offset", 0),
                      limit=_int(request, "limit", PAGE_SIZE))
        page["labels"] = [view.label for view in chosen]
        page["table"] = comparison_cells(chosen[0], chosen[1])
        return _json(page)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    routes = [
        Route("/", index),
        Route("/favicon.ico", no_icon),
        Route("/api/runs", runs),
        Route("/api/runs/{run}", run),
        Route("/api/runs/{run}/episodes", episodes),
        Route("/api/runs/{run}/episodes/{name}", episode),
        Route("/api/runs/{run}/frames/{name}/{file:path}", frame),
        Route("/api/pair", pair),
        Route("/api/agents", agents),
        Route("/api/runs/{run}/episodes/{name}/fork", start_fork, methods=["POST"]),
        Route("/api/forks/{job}", fork_job),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})
