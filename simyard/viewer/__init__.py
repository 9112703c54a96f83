"""`simyard view`: a local web page over run directories (tables, episode lists, step-by-step replays, pairs of runs).

`runs.py` reads run directories through the platform's readers and keeps what it read until the files change;
`episodes.py` turns one episode's trajectory into what the page shows; `app.py` is the JSON API and the static page
(Starlette); `server.py` runs it on uvicorn. The page (`static/`) is plain HTML, CSS and JavaScript: nothing to
build, nothing loaded from the network.
"""
