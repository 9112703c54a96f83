"""The collaborator a `syncmind` agent may ask: one question in, one answer out, the ground truth in its prompt.

SyncMind simulates the human who changed the code with a "know-everything" model: its prompt holds the out-of-sync
function, the agent's stale version, the failing log and the answer (file, function, up-to-date code), and two rules
-- answer only the specific thing asked, and never give misleading information when unsure. It keeps no memory
between questions. Two collaborators follow that contract here:

- `oracle`: deterministic, for tests and the oracle agent. It reads the question's words and answers with the file,
  the function, the up-to-date code, or (when it cannot tell) the file and function together.
- `openai`: a model on any OpenAI-compatible server (the backend the openai agent uses, shared per worker), with
  SyncMind's prompt structure in simyard's words. SyncMind hard-codes gpt-4o at temperature 0.7; here both are
  options, 0.7 the default.

A collaborator's `answer` is a blocking call (the world's `step` runs on its lane's thread). The model backend is
async, so its calls run on one event loop thread per worker, where the shared client stays bound. Errors: a server
that stays unavailable raises `BackendUnavailableError` (an `InfraError`: the episode is retried); a missing key or
an unknown model is a `BackendError` when the world is built.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass
from typing import Any, Protocol

from simyard.platform.api import ModelCall
from simyard.platform.errors import UnknownNameError
from simyard.platform.resources import Resources
from simyard.repos.instances import Instance

__all__ = ["COLLABORATORS", "Answer", "Collaborator", "ModelCollaborator", "OracleCollaborator", "collaborator_prompt",
           "make_collaborator"]

COLLABORATORS = ("oracle", "openai")


@dataclass(frozen=True, slots=True)
class Answer:
    """What the collaborator said, and the model call behind it (None for the oracle)."""

    text: str
    call: ModelCall | None = None


class Collaborator(Protocol):
    """Answers one question about one instance (no memory between questions)."""

    def answer(self, instance: Instance, question: str) -> Answer: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------------------------------------- the oracle

_WHERE = re.compile(r"\b(files?|where|path|modules?|located)\b")
_WHICH = re.compile(r"\b(functions?|methods?|name|out[- ]of[- ]sync|what\s+changed)\b")
_CODE = re.compile(r"\b(code|fix\w*|implement\w*|version|look\s+like|signature|body|return\w*|up[- ]to[- ]date)\b")


class OracleCollaborator:
    """A deterministic collaborator: what the question asks for, from the ground truth, in fixed words."""

    def answer(self, instance: Instance, question: str) -> Answer:
        words = question.lower()
        parts = []
        if _WHERE.search(words):
            parts.append(f"The file is {instance.file}.")
        if _WHICH.search(words):
            parts.append(f"The out-of-sync {instance.kind} is {instance.function} in {instance.file}.")
        if _CODE.search(words):
            parts.append(f"Its up-to-date version is:\n```python\n{instance.gold_code.rstrip()}\n```")
        if not parts:
            parts.append(f"The out-of-sync {instance.kind} is {instance.function} in {instance.file}.")
        return Answer(" ".join(dict.fromkeys(parts)))

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------------- the model


def collaborator_prompt(instance: Instance, question: str) -> tuple[str, str]:
    """(system, user) for one question: SyncMind's structure (a teacher's helper who knows the answer, two rules,
    the answer only), in simyard's words."""
    system = f"""You help a teacher answer a student's questions about a coding exercise.

The student works in a git repository. A collaborator changed the repository, and the student's own version of one
{instance.kind} no longer fits it, so a test file fails. You know the exercise and its answer:

- The out-of-sync {instance.kind}: {instance.function}
- Its file: {instance.file}
- The test file that fails: {instance.test_file}
- The student's (outdated) version:
```python
{instance.old_code.rstrip()}
```
- The failing test output the student saw:
```
{instance.initial_error_log[-4000:].rstrip()}
```
- The answer: the file {instance.file}, the {instance.kind} {instance.function}, whose up-to-date version is:
```python
{instance.gold_code.rstrip()}
```

Rules:
1. Answer only the specific piece of information the question asks for; do not volunteer the rest.
2. Never give misleading information. If you are not sure, say that you do not know.
3. Reply with the answer only."""
    return system, question


def _loop_thread() -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="simyard-collaborator", daemon=True)
    thread.start()
    return loop, thread


class _LoopRunner:
    """One event loop on a thread of its own: the place where a worker's collaborator calls run."""

    def __init__(self) -> None:
        self.loop, self.thread = _loop_thread()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        try:  # finalises the clients' loop guards, which close their connection pools (see openai_compat)
            asyncio.run_coroutine_threadsafe(self.loop.shutdown_asyncgens(), self.loop).result(timeout=5)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


class ModelCollaborator:
    """A model on an OpenAI-compatible server, told the ground truth (see `collaborator_prompt`).

    Args:
        model: The model name as the server knows it.
        base_url: The server (`http://localhost:8000/v1` for vLLM); None for the OpenAI API.
        api_key_env: The environment variable holding the key.
        temperature: Sampling temperature (SyncMind: 0.7).
        max_tokens: Reply cap (SyncMind: 1000).
        timeout_s: Limit on one attempt.
        max_attempts, backoff_s: Attempts per question and the first retry's delay (doubling, as the agent's).
        resources: The worker's scope: the client and the event loop thread are shared there.

    Raises:
        BackendError: the key variable is unset.
    """

    def __init__(self, model: str, base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 temperature: float = 0.7, max_tokens: int = 1000, timeout_s: float = 120.0,
                 max_attempts: int = 4, backoff_s: float = 1.0, resources: Resources | None = None) -> None:
        from simyard.agents.backends.openai_compat import ChatOptions, OpenAICompatClient

        options = ChatOptions(temperature=temperature, max_tokens=max_tokens, timeout_s=timeout_s,
                              max_attempts=max_attempts, backoff_s=backoff_s)
        settings = dict(model=model, base_url=base_url, api_key_env=api_key_env, options=options)
        self._owned = resources is None
        if resources is None:
            self.client = OpenAICompatClient(**settings)
            self._runner = _LoopRunner()
        else:
            key = ("syncmind-collaborator", model, base_url, api_key_env, options)
            self.client = resources.shared(key, lambda: OpenAICompatClient(**settings))
            self._runner = resources.shared("syncmind-collaborator-loop", _LoopRunner)

    def answer(self, instance: Instance, question: str) -> Answer:
        from simyard.agents.formats.base import Prompt

        system, user = collaborator_prompt(instance, question)
        call = self._runner.run(self.client.chat(Prompt(system=system, user=user)))
        return Answer(call.text.strip(), call)

    def close(self) -> None:
        if self._owned:
            self._runner.run(self.client.aclose())
            self._runner.close()


def make_collaborator(kind: str, resources: Resources | None = None, **options: Any) -> Collaborator:
    """The collaborator named `kind` (`oracle` or `openai`; `options` go to `ModelCollaborator`)."""
    if kind == "oracle":
        return OracleCollaborator()
    if kind == "openai":
        return ModelCollaborator(resources=resources, **options)
    raise UnknownNameError(f"no collaborator named {kind!r}", hint=f"use one of: {', '.join(COLLABORATORS)}")
