"""`simyard serve`: one local model behind an OpenAI-compatible HTTP server, for other tools and machines.

* `app.ChatServer`: the routes (chat completions, plain and streamed; the model list; health) over one `Engine`;
  concurrent requests share the engine's batched forward passes.
* `app.BackgroundServer`: the same on uvicorn in a thread, on loopback and a free port (tests, benchmarks).
* `protocol`: requests checked into the engine's `Request`, replies in OpenAI's shape with vLLM's token ids.
* `streaming`: server-sent events that never send a token a stop string later takes back.
* `vllm`: `--engine vllm`, which hands serving to vLLM's own OpenAI server where vLLM and a GPU are present.

The command itself is `simyard.cli.serve`; docs/servers.md ("simyard serve") says how to run and call it.
"""
