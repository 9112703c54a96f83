"""Simyard worlds over the network with Meta OpenEnv's HTTP/WebSocket protocol (`simyard env serve`).

`app.py` is the server (routes, the WebSocket loop), `sessions.py` the sessions (one world each, the cap, the idle
reaper), `codec.py` what crosses the wire (shared with the `remote` world in `simyard.sims.remote`).
"""
