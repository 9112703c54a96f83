"""Small helpers shared by the server tests: the engine's own answer to a request, raw HTTP, a PNG data URL."""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request

from simyard.agents.backends.engine import Request, SamplingOptions

HELLO = [{"role": "user", "content": "Push the box onto the target. Which action?"}]


def engine_answer(engine, messages=HELLO, **options):
    """The engine's own Generations for a request, without the server."""
    return engine.generate_sync(Request(messages, SamplingOptions(**options)))


def post(url: str, body: bytes | str | dict, content_type: str = "application/json") -> tuple[int, dict]:
    """POST raw bytes (or JSON) and return (status, decoded JSON body), whatever the status."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def png_data_url(size: int = 32, colour=(200, 30, 30)) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
