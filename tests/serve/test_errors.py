"""Bad input to `simyard serve`: OpenAI-style 400s and 404s with messages that say what to fix, and a server that
goes on serving after any of them (and after a request that fails inside the engine, or a client that leaves)."""

from __future__ import annotations

import openai
import pytest

from simyard.serve.app import BackgroundServer

from .conftest import NAME
from .helpers import HELLO, png_data_url, post

GOOD = {"model": NAME, "messages": HELLO, "max_tokens": 2}


@pytest.mark.parametrize(
    ("body", "words", "param"),
    [
        ("{not json", "not valid JSON", None),
        (b"\xff\xfe{}", "not valid JSON", None),
        ("[1, 2]", "must be a JSON object, not a JSON array", None),
        ({"model": NAME}, "'messages' is required", "messages"),
        ({"model": NAME, "messages": []}, "at least 1 item", "messages"),
        ({"model": NAME, "messages": "hi"}, "valid list", "messages"),
        ({"model": NAME, "messages": [{"content": "hi"}]}, "'messages[0].role' is required", "messages[0].role"),
        ({"model": NAME, "messages": [{"role": "user", "content": 5}]}, "must be a string or a list of content parts",
         "messages[0].content"),
        ({"model": NAME, "messages": [{"role": "user", "content": [{"type": "video"}]}]}, "'video'",
         "messages[0].content[0]"),
        ({**GOOD, "n": 0}, "'n': Input should be greater than or equal to 1", "n"),
        ({**GOOD, "temperature": "hot"}, "'temperature'", "temperature"),
        ({**GOOD, "top_p": 0}, "'top_p'", "top_p"),
        ({**GOOD, "max_tokens": 0}, "'max_tokens'", "max_tokens"),
        ({**GOOD, "top_logprobs": 50}, "'top_logprobs'", "top_logprobs"),
        ({**GOOD, "top_logprobs": 2}, "needs 'logprobs': true", "top_logprobs"),
        ({**GOOD, "stop": [""]}, "stop strings must be non-empty", "stop"),
        ({**GOOD, "best_of": 3}, "'best_of' is not a field this server takes", "best_of"),
        ({**GOOD, "frequency_penalty": 0.5}, "'frequency_penalty'=0.5 is not supported", "frequency_penalty"),
        ({**GOOD, "n": 999}, "more than the engine batches", None),
    ],
)
def test_malformed_requests_are_400_with_a_clear_message(server, body, words, param) -> None:
    status, answer = post(f"{server.base_url}/chat/completions", body)
    assert status == 400, answer
    error = answer["error"]
    assert words in error["message"] and error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param
    assert post(f"{server.base_url}/chat/completions", GOOD)[0] == 200  # and the server goes on


def test_the_official_client_raises_bad_request_with_the_message(client) -> None:
    with pytest.raises(openai.BadRequestError, match="greater than or equal to 1"):
        client.chat.completions.create(model=NAME, messages=HELLO, n=0)


def test_unknown_model_is_404_naming_the_served_one(client, server) -> None:
    with pytest.raises(openai.NotFoundError, match=f"it serves '{NAME}'") as caught:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert caught.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.models.retrieve("gpt-4o")
    status, answer = post(f"{server.base_url}/completions", GOOD)
    assert status == 404 and "/v1/chat/completions" in answer["error"]["message"]


def test_an_image_for_a_text_only_model_is_400(client) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "look"},
                                           {"type": "image_url", "image_url": {"url": png_data_url()}}]}
    with pytest.raises(openai.BadRequestError, match="takes text only") as caught:
        client.chat.completions.create(model=NAME, messages=[message])
    assert caught.value.body["code"] == "images_not_supported"


def test_an_unreadable_image_is_400(vlm_server) -> None:
    message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}
    status, answer = post(f"{vlm_server.base_url}/chat/completions", {"messages": [message], "max_tokens": 2})
    assert status == 400 and "image could not be read" in answer["error"]["message"]
    assert "not a picture format" in answer["error"]["message"] and "BytesIO" not in answer["error"]["message"]


@pytest.mark.parametrize("url", ["/etc/hostname", "file:///etc/hostname", "http://127.0.0.1:9/cat.png"])
def test_an_image_url_that_is_not_a_data_url_is_400_and_nothing_is_read(vlm_server, tmp_path, url) -> None:
    # a real PNG on the server's disk: over HTTP it must not be opened, though the engine reads paths in-process
    picture = tmp_path / "frame.png"
    picture.write_bytes(__import__("base64").b64decode(png_data_url().partition(",")[2]))
    for sent in (url, str(picture)):
        message = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": sent}}]}
        status, answer = post(f"{vlm_server.base_url}/chat/completions", {"messages": [message], "max_tokens": 2})
        assert status == 400 and "must be a data URL" in answer["error"]["message"]
        assert answer["error"]["param"] == "messages[0].content[0].image_url.url"


@pytest.mark.parametrize("stream", [False, True])
def test_a_prompt_longer_than_the_context_is_400(client, engine, stream) -> None:
    words = " ".join(["push the box onto the target"] * (engine.facts.context_length // 3))
    with pytest.raises(openai.BadRequestError, match="the model's context holds 4,096") as caught:
        client.chat.completions.create(model=NAME, messages=[{"role": "user", "content": words}], max_tokens=2,
                                       stream=stream)
    assert caught.value.body["code"] == "context_length_exceeded"


class Failing:
    """An engine whose generation fails for one prompt (a bug, an OOM) and works for the rest."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def __getattr__(self, name):
        return getattr(self.engine, name)

    async def generate(self, request):
        if request.messages[-1]["content"] == "explode":
            raise ValueError("shapes do not match")
        return await self.engine.generate(request)

    async def stream(self, request):
        if request.messages[-1]["content"] == "explode":
            raise ValueError("shapes do not match")
        async for event in self.engine.stream(request):
            yield event

    async def stream_batches(self, request, wake_every=1):  # what the server streams from, when there
        if request.messages[-1]["content"] == "explode":
            raise ValueError("shapes do not match")
        async for batch in self.engine.stream_batches(request, wake_every):
            yield batch


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_that_fails_in_the_engine_is_500_and_the_server_goes_on(engine, stream) -> None:
    with BackgroundServer(Failing(engine), NAME) as running, openai.OpenAI(
        base_url=running.base_url, api_key="test", max_retries=0
    ) as client:
        with pytest.raises(openai.InternalServerError, match="shapes do not match"):
            client.chat.completions.create(model=NAME, messages=[{"role": "user", "content": "explode"}],
                                           stream=stream)
        reply = client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=3, temperature=0)
        assert reply.usage.completion_tokens == 3


def test_a_client_that_leaves_mid_stream_does_not_stop_the_server(client) -> None:
    stream = client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=200, temperature=0, stream=True)
    for number, _ in enumerate(stream):
        if number == 2:
            break
    stream.close()
    reply = client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=3, temperature=0)
    assert reply.choices[0].finish_reason == "length"


def test_the_listening_socket_turns_nagle_off() -> None:
    """Replies on a kept-alive connection waited ~40 ms for the client's delayed ACK when asyncio left Nagle's
    algorithm on (it turns it off only for sockets whose proto is TCP)."""
    import socket

    from simyard.serve.app import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        sock.close()
