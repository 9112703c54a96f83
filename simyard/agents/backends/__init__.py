"""Model access for agents: one chat client per kind of server, each answering a `Prompt` with a `ModelCall`.

`openai_compat` speaks to any OpenAI-compatible endpoint (the OpenAI API, vLLM, lmdeploy, llama.cpp). Backends take
the provider-neutral `simyard.agents.formats.Prompt`, so reply formats and prompt builders never see wire formats.
"""

from simyard.agents.backends.openai_compat import ChatOptions, OpenAICompatClient, png_data_url

__all__ = ["ChatOptions", "OpenAICompatClient", "png_data_url"]
