"""The `openai` agent: a planner behind any OpenAI-compatible chat endpoint (OpenAI, vLLM, lmdeploy, llama.cpp).

Each turn it builds one prompt (task, actions, history with feedback, current observation and frames), makes one
model call and turns the reply into a plan in the episode's reply format (EmbodiedBench JSON for skill worlds, RAGEN
`<think>/<answer>` for puzzles and text commands; see `simyard.agents.formats`). A reply it cannot read becomes
`Decision(error=...)`, which the runner charges as one invalid step whose feedback the model reads next turn: a
model that keeps failing the format spends steps, never just tokens. A server that keeps failing raises
`BackendError`, which ends that episode with status `error`.

    simyard episode run sokoban --agent openai --agent-opt model=gpt-4o-mini
    simyard episode run sokoban --agent openai --agent-opt base_url=http://localhost:8000/v1 \
        --agent-opt model=Qwen/Qwen2.5-VL-7B-Instruct --agent-opt temperature=0.5

Replies are data: a reply is parsed in time linear in its length (an overlong one only at its ends, and off the
event loop), and whatever the server sends back is checked before it is believed (see `backends.openai_compat`).
Server-specific settings (text-only models, log-probabilities, token ids) are in docs/servers.md.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from simyard.agents.backends.openai_compat import ChatOptions, OpenAICompatClient, RequestExtras
from simyard.agents.formats import (
    HistoryEntry,
    ReplyFormat,
    build_prompt,
    check_format_name,
    choose_format,
    parse_reply,
)
from simyard.platform.api import Action, ActionSpec, Agent, Decision, Observation, StepResult, Task, feedback
from simyard.platform.errors import SimyardError
from simyard.platform.resources import Resources

log = logging.getLogger(__name__)

#: `images=` values: send the frames a world renders (`auto`), never (`never`: text-only models), or insist on them.
IMAGE_MODES = ("auto", "always", "never")
#: Replies longer than this are parsed in a worker thread, so the event loop keeps serving the other episodes.
THREAD_PARSE_CHARS = 16_000


class OpenAIAgent(Agent):
    """A model planner over an OpenAI-compatible chat API.

    Options arrive as keywords; from the CLI (`--agent-opt key=value`) they are strings and are converted here.

    Args:
        model: Model name as the server knows it (required).
        base_url: Endpoint root, e.g. `http://localhost:8000/v1`; unset for the OpenAI API.
        api_key_env: Environment variable holding the API key.
        temperature: Sampling temperature.
        max_tokens: Completion token cap (`none` leaves it to the server).
        timeout_s: Limit on one attempt of a call, in seconds.
        max_attempts: Attempts per call before giving up (retries on 429, 5xx, timeouts, lost connections).
        backoff_s: First retry delay; doubles per retry, with jitter.
        format: Reply format: `auto`, `embodiedbench`, `ragen`, `json` or `vector`.
        history: How many of the latest steps the prompt repeats (0: none).
        seed: Seeds the retry jitter (unset: drawn from the system).
        images: `auto` sends the frames a world renders as image content parts; `never` sends text only (for
            text-only models; the runner still records the frames); `always` is `auto` that ends the episode with an
            error when an observation has no frame, for vision evaluations that must not silently run blind.
        logprobs: `true` asks for the sampled tokens' log-probabilities (recorded in `ModelCall.logprobs`).
        top_logprobs: Also ask for the N most likely alternatives per token (0-20 on most servers; implies logprobs).
        token_ids: `true` asks vLLM for the sampled token ids (`return_token_ids`; recorded in `ModelCall.token_ids`).
            Ids are also read, without this, wherever a server puts them in its log-probabilities.
        resources: The worker's resource scope (passed by the registry, not an option): agents with the same server,
            model, key and request settings share one backend and its connection pool.

    Raises:
        SimyardError: An option is missing or malformed.
        BackendError: The API key variable is unset.
    """

    name = "openai"

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        temperature: float | str = 0.0,
        max_tokens: int | str | None = 2048,
        timeout_s: float | str = 120.0,
        max_attempts: int | str = 4,
        backoff_s: float | str = 1.0,
        format: str = "auto",  # noqa: A002 (the option's public name)
        history: int | str = 30,
        seed: int | str | None = None,
        images: str = "auto",
        logprobs: bool | str = False,
        top_logprobs: int | str | None = None,
        token_ids: bool | str = False,
        resources: Resources | None = None,
    ) -> None:
        if not model:
            raise SimyardError(
                "the openai agent needs a model name", hint="pass --agent-opt model=NAME (e.g. model=gpt-4o-mini)"
            )
        options = ChatOptions(
            temperature=_number("temperature", temperature, float),
            max_tokens=None if _is_none(max_tokens) else _number("max_tokens", max_tokens, int),
            timeout_s=_number("timeout_s", timeout_s, float),
            max_attempts=_number("max_attempts", max_attempts, int),
            backoff_s=_number("backoff_s", backoff_s, float),
        )
        self.format_name = check_format_name(str(format))
        self.history_kept = _number("history", history, int)
        if self.history_kept < 0:
            raise SimyardError(f"history={history!r} must be >= 0", hint="fix it in --agent-opt history=N")
        self.images = str(images).strip().lower()
        if self.images not in IMAGE_MODES:
            raise SimyardError(
                f"agent option images={images!r} is not one of {', '.join(IMAGE_MODES)}",
                hint="pass --agent-opt images=auto (frames when the world renders them) or images=never (text only)",
            )
        top = None if _is_none(top_logprobs) else _number("top_logprobs", top_logprobs, int)
        if top is not None and top < 0:
            raise SimyardError(f"top_logprobs={top} must be >= 0", hint="pass --agent-opt top_logprobs=N (0-20)")
        extras = RequestExtras(
            logprobs=_flag("logprobs", logprobs) or top is not None,
            top_logprobs=top,
            token_ids=_flag("token_ids", token_ids),
        )
        settings = dict(
            model=str(model),
            base_url=str(base_url) if base_url else None,
            api_key_env=str(api_key_env),
            options=options,
            seed=None if _is_none(seed) else _number("seed", seed, int),
            extras=extras,
        )
        # The backend is shared per worker when a scope is given: one connection pool (and one /models check) for
        # every lane of the worker. Its owner then closes it, not each agent.
        self._owns_client = resources is None
        if resources is None:
            self.client = OpenAICompatClient(**settings)
        else:
            key = ("openai-backend", *(settings[name] for name in sorted(settings)))
            self.client = resources.shared(key, lambda: OpenAICompatClient(**settings))
        self._task: Task | None = None
        self._spec: ActionSpec | None = None
        self._format: ReplyFormat | None = None
        self._history: list[HistoryEntry] = []
        self._notes: list[str] = []

    def reset(self, task: Task, spec: ActionSpec) -> None:
        """Start a fresh history and pick the reply format for this world.

        Raises:
            SimyardError: The chosen format cannot express this world's actions.
        """
        self._task, self._spec = task, spec
        self._format = choose_format(self.format_name, task.world, spec)
        self._history, self._notes = [], []

    async def act(self, observation: Observation) -> Decision:
        """One model call, its reply parsed into a plan (or an error the runner charges as one invalid step)."""
        assert self._task is not None and self._spec is not None and self._format is not None, "reset() comes first"
        if self.images == "never" and observation.images:
            observation = Observation(observation.text, {}, observation.data)
        elif self.images == "always" and not observation.images:
            raise SimyardError(
                f"images=always, but world {self._task.world!r} gave an observation without frames",
                hint="use --agent-opt images=auto to send frames only when the world renders them",
            )
        prompt = build_prompt(
            self._task,
            self._spec,
            observation,
            self._history,
            self._format,
            keep=self.history_kept,
            actions_left=max(0, self._task.max_steps - len(self._history)),
            notes=self._notes,
        )
        completion = await self.client.complete(prompt)  # BackendError propagates: the runner ends the episode
        call = completion.call
        if completion.problem is not None:
            self._notes = []
            return Decision(error=completion.problem, calls=[call])
        if len(call.text) > THREAD_PARSE_CHARS:
            parsed = await asyncio.to_thread(parse_reply, self._format, call.text, self._spec)
        else:
            parsed = parse_reply(self._format, call.text, self._spec)
        notes = list(parsed.notes)
        if call.finish_reason == "length":
            notes.insert(0, "your last reply was cut at the max_tokens limit; answer more briefly")
        self._notes = notes
        for note in notes:
            log.info("task %s: %s", self._task.id, note)
        if parsed.error is not None:
            error = parsed.error
            if call.finish_reason == "length":
                error += " (the reply was cut at the max_tokens limit: answer more briefly)"
            return Decision(error=error, calls=[call])
        if not parsed.actions:  # formats report this themselves; kept so no path sends the runner an empty plan
            return Decision(error="the reply held an empty plan; give at least one action", calls=[call])
        return Decision(actions=parsed.actions, calls=[call])

    def observe(self, action: Action | None, result: StepResult) -> None:
        """Remember the step, with the world's feedback, for the next prompt's history."""
        self._history.append(
            HistoryEntry(action, feedback(result), float(result.reward), bool(result.info.get("valid", True)))
        )

    def close(self) -> None:
        """Close the HTTP connection pool (a shared one is closed by its resource scope instead)."""
        if self._owns_client:
            self.client.close()

    async def aclose(self) -> None:
        """Close the HTTP connection pool from inside the event loop that used it (unless it is shared)."""
        if self._owns_client:
            await self.client.aclose()


def _is_none(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in {"", "none", "null"})


def _flag(name: str, value: Any) -> bool:
    """`value` as a boolean, accepting the strings `--agent-opt` gives (true/false, 1/0, yes/no, on/off)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off", "", "none"}:
        return False
    raise SimyardError(f"agent option {name}={value!r} is not true or false", hint=f"pass --agent-opt {name}=true")


def _number(name: str, value: Any, kind: type[int] | type[float]) -> Any:
    """`value` as an int or float, accepting the strings `--agent-opt` gives; a clear error otherwise."""
    if isinstance(value, kind) and not isinstance(value, bool):
        return value
    try:
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)
        return kind(str(value).strip())
    except ValueError:
        pass
    what = "an integer" if kind is int else "a number"
    raise SimyardError(f"agent option {name}={value!r} is not {what}", hint=f"pass --agent-opt {name}=<{what}>")
