"""The `local` agent: the `openai` agent's planner over a model loaded in this process (`backends.local`).

    simyard episode run sokoban --agent local --agent-opt model=/models/Qwen2.5-0.5B-Instruct
    simyard bench run ragen --agent local -o model=/models/qwen -o choice=scored --concurrency 32
    simyard bench run eb-alfred --agent local -o model=/models/Qwen2-VL-2B -o device=cuda -o dtype=bfloat16

It *is* the openai agent (same prompts, reply formats, history, notes, parsing, error handling: it subclasses
`OpenAIAgent` and only swaps the backend), with three local differences:

* **One model per worker.** Agents with the same model folder, device, dtype and batch size share one
  `TransformersEngine` through the worker's resources, and its batching thread batches every lane's requests
  (`--concurrency K`: K episodes, one forward pass per token for all of them).
* **Exact tokens.** Every `ModelCall` records the sampled token ids and their log-probabilities as the engine
  sampled them (token-faithful rollouts for StarPO-style RL).
* **`choice=scored`**: where the world lists its actions (a choice world, or `valid_actions` in a text world's
  observation) and the reply format is RAGEN's or EmbodiedBench's, the reply is not generated but chosen: every
  valid action's reply is scored by the model (`backends.choice`), so a small model always acts validly. Other
  turns are generated.

Context: when the prompt with `max_tokens` of room does not fit the model's context, history is dropped from the
oldest step until it does (the prompt then says "the latest N of M steps"), and the step's info says so
(`prompt_truncated`). Images: a text-only model gets text only under `images=auto` (said once in the log and in
the step info as `images_dropped`); `images=always` with a text-only model is refused when the agent is built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from simyard.agents.backends.engine import Request, SamplingOptions
from simyard.agents.backends.openai_compat import Completion, to_messages
from simyard.agents.formats import ReplyFormat
from simyard.agents.formats.base import Prompt
from simyard.agents.openai_agent import IMAGE_MODES, OpenAIAgent, _is_none, _number
from simyard.platform.api import ActionSpec, Agent, Decision, ModelCall, Needs, Observation, Task
from simyard.platform.errors import BackendError, SimyardError
from simyard.platform.resources import Resources

log = logging.getLogger(__name__)

CHOICE_MODES = ("generate", "scored")
#: Whether this simyard's Decision carries step info (the runner merges it into the info of the plan's first step).


class LocalBackend:
    """The openai agent's backend interface (`complete(prompt) -> Completion`) over a `TransformersEngine`.

    Args:
        engine: The loaded model (shared per worker, or owned).
        options: Sampling options for generated replies.
        owned: Close the engine with the backend (an agent built without a resource scope owns its engine).
    """

    def __init__(self, engine: Any, options: SamplingOptions, owned: bool, reserve: int, normalize: str) -> None:
        self.engine = engine
        self.options = options
        self.owned = owned
        self.reserve = reserve
        self.normalize = normalize
        #: Set by the agent before each turn: what a scored turn may answer (None: generate).
        self.choices: Any = None
        #: Set by the agent before each turn: the JSON schema a generated reply follows (None: free text).
        self.json_schema: str | None = None
        self.seed: int | None = options.seed

    async def complete(self, prompt: Prompt) -> Completion:
        messages = to_messages(prompt)
        self._check_fits(messages)
        started = time.monotonic()
        if self.choices is not None:
            from simyard.agents.backends.choice import ascore_choices

            scored = await ascore_choices(
                self.engine,
                messages,
                self.choices,
                normalize=self.normalize,
                temperature=self.options.temperature,
                seed=self._next_seed(),
            )
            text = self.choices.prefix + self.choices.completions[scored.best]
            call = ModelCall(
                text=text,
                prompt_tokens=scored.prompt_tokens,
                completion_tokens=len(scored.token_ids),
                latency_s=time.monotonic() - started,
                token_ids=scored.token_ids,
                logprobs=scored.logprobs,
                finish_reason="stop",
            )
            return Completion(call, None)
        from dataclasses import replace

        options = replace(self.options, json_schema=self.json_schema)
        if options.seed is not None:
            options = replace(options, seed=self._next_seed())
        [generation] = await self.engine.generate(Request(messages, options))
        call = ModelCall(
            text=generation.text,
            prompt_tokens=generation.prompt_tokens,
            completion_tokens=generation.completion_tokens,
            latency_s=time.monotonic() - started,
            token_ids=list(generation.token_ids),
            logprobs=list(generation.logprobs),
            finish_reason=generation.finish_reason,
        )
        return Completion(call, None)

    def _check_fits(self, messages: list[dict[str, Any]]) -> None:
        from simyard.agents.backends.local import PromptTooLongError

        context = self.engine.facts.context_length
        tokens = self.engine.count_tokens(messages)
        if tokens + self.reserve > context:
            raise PromptTooLongError(tokens, context, reserved=self.reserve)

    def _next_seed(self) -> int | None:
        """Each call of a seeded agent gets the next seed, so turns differ and runs repeat."""
        if self.seed is None:
            return None
        seed, self.seed = self.seed, self.seed + 1
        return seed

    def close(self) -> None:
        if self.owned:
            self.engine.close()

    async def aclose(self) -> None:
        self.close()


class LocalAgent(OpenAIAgent):
    """The openai agent's planner over a model loaded in this process from a folder, batched across episodes.

    Options arrive as keywords or as `--agent-opt` strings (see the module docs).

    Args:
        model: The model folder (required; nothing is downloaded).
        device: `auto` (CUDA when present, else CPU), `cpu`, `cuda`, `cuda:N`.
        dtype: `auto` (bf16 on a GPU that supports it, float32 on the CPU), `float32`, `bfloat16`, `float16`.
        choice: `generate` (sample the reply) or `scored` (choose among the valid actions' replies).
        choice_norm: How `scored` ranks: `sum` of token log-probabilities, or their `mean`.
        format: Reply format: `auto`, `embodiedbench`, `ragen`, `json` or `vector`.
        history: How many of the latest steps the prompt repeats (fewer when the context is short).
        temperature: 0 is greedy; above 0 samples (and `scored` samples among the choices).
        top_p: Nucleus sampling.
        max_tokens: Completion token cap; the prompt keeps this much room in the context.
        seed: Seeds sampling (each call takes the next seed).
        images: `auto`, `always` or `never`, as for the openai agent.
        max_batch: Sequences the shared engine decodes together (1: batching off).
        constrain: Generated JSON replies (EmbodiedBench's plan, a JSON world's action) follow their schema with
            xgrammar: `auto` (when xgrammar is installed), `json` (always; an error without xgrammar) or `none`.
        resources: The worker's resource scope (passed by the registry): agents of one worker share one engine.

    Raises:
        SimyardError: An option is missing or malformed, the path is not a model, or the model cannot fit.
    """

    name = "local"

    @classmethod
    def needs_for(cls, options: Mapping[str, Any]) -> Needs:
        """A worker holds one model: on `device=cuda` it asks a cluster for a GPU of its own (so one model per GPU),
        on `auto` one where the cluster has GPUs, on `cpu` a core (`--executor ray`)."""
        device = str(options.get("device", "auto")).strip().lower()
        if device == "cpu":
            return Needs(cpus=1.0)
        return Needs(cpus=1.0, gpus=1.0, gpus_optional=device == "auto")

    def __init__(
        self,
        model: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        choice: str = "generate",
        choice_norm: str = "sum",
        format: str = "auto",  # noqa: A002 (the option's public name)
        history: int | str = 30,
        temperature: float | str = 0.0,
        top_p: float | str = 1.0,
        max_tokens: int | str = 512,
        seed: int | str | None = None,
        images: str = "auto",
        max_batch: int | str = 32,
        constrain: str = "auto",
        resources: Resources | None = None,
    ) -> None:
        Agent.__init__(self)
        if not model:
            raise SimyardError(
                "the local agent needs a model folder", hint="pass --agent-opt model=PATH (a saved transformers model)"
            )
        from simyard.agents.formats import check_format_name

        self.choice = str(choice).strip().lower()
        if self.choice not in CHOICE_MODES:
            raise SimyardError(f"choice={choice!r} is not one of {', '.join(CHOICE_MODES)}",
                               hint="pass --agent-opt choice=scored or choice=generate")
        self.constrain = str(constrain).strip().lower()
        if self.constrain not in ("auto", "json", "none"):
            raise SimyardError(f"constrain={constrain!r} is not auto, json or none", hint="pass constrain=auto")
        if self.constrain == "auto":
            import importlib.util

            self.constrain = "json" if importlib.util.find_spec("xgrammar") is not None else "none"
        elif self.constrain == "json":
            import importlib.util

            if importlib.util.find_spec("xgrammar") is None:
                raise SimyardError("constrain=json needs xgrammar, which is not installed",
                                   hint="pip install xgrammar, or pass constrain=auto")
        norm = str(choice_norm).strip().lower()
        if norm not in ("sum", "mean"):
            raise SimyardError(f"choice_norm={choice_norm!r} is not sum or mean", hint="pass choice_norm=sum")
        self.format_name = check_format_name(str(format))
        self.history_kept = _number("history", history, int)
        if self.history_kept < 0:
            raise SimyardError(f"history={history!r} must be >= 0", hint="fix it in --agent-opt history=N")
        self.images = str(images).strip().lower()
        if self.images not in IMAGE_MODES:
            raise SimyardError(f"agent option images={images!r} is not one of {', '.join(IMAGE_MODES)}",
                               hint="pass --agent-opt images=auto or images=never")
        options = SamplingOptions(
            max_tokens=_number("max_tokens", max_tokens, int),
            temperature=_number("temperature", temperature, float),
            top_p=_number("top_p", top_p, float),
            seed=None if _is_none(seed) else _number("seed", seed, int),
            logprobs=True,
        )
        if options.max_tokens < 1 or options.temperature < 0 or not 0 < options.top_p <= 1:
            raise SimyardError(
                f"max_tokens={options.max_tokens}, temperature={options.temperature}, top_p={options.top_p}: "
                "need max_tokens >= 1, temperature >= 0 and 0 < top_p <= 1",
                hint="fix them in --agent-opt",
            )
        batch = _number("max_batch", max_batch, int)
        if batch < 1:
            raise SimyardError(f"max_batch={batch} must be >= 1", hint="pass --agent-opt max_batch=N (1: no batching)")
        from simyard.agents.backends.local import TransformersEngine, model_folder

        folder = str(model_folder(str(model)).resolve())
        settings = dict(path=folder, device=str(device), dtype=str(dtype), max_batch=batch)
        self._owns_client = True  # the backend decides whether the engine is its own
        if resources is None:
            engine, owned = TransformersEngine(**settings), True
        else:
            key = ("local-engine", *(settings[name] for name in sorted(settings)))
            engine, owned = resources.shared(key, lambda: TransformersEngine(**settings)), False
        if self.images == "always" and not engine.facts.takes_images:
            if owned:
                engine.close()
            raise SimyardError(
                f"images=always, but {folder} ({engine.facts.architecture}) takes text only",
                hint="use a vision-language model, or images=auto to send text only",
            )
        self._drops_images = self.images == "auto" and not engine.facts.takes_images
        if self._drops_images:
            self.images = "never"
        self.client = LocalBackend(engine, options, owned, reserve=options.max_tokens, normalize=norm)
        self.engine = engine
        self._task: Task | None = None
        self._spec: ActionSpec | None = None
        self._format: ReplyFormat | None = None
        self._history = []
        self._notes: list[str] = []
        self._said: set[str] = set()
        #: What the last turn changed in the prompt (history dropped, images dropped), as step info.
        self.last_info: dict[str, Any] = {}

    async def act(self, observation: Observation) -> Decision:
        """One model call (or one scored choice), with the history cut to the context when it must be."""
        assert self._spec is not None and self._format is not None, "reset() comes first"
        from simyard.agents.backends.choice import choice_set
        from simyard.agents.backends.local import PromptTooLongError

        info: dict[str, Any] = {}
        if self._drops_images and observation.images:
            info["images_dropped"] = len(observation.images)
            self._say_once("images", f"{self.engine.facts.path} takes text only: frames are not sent to it")
        self.client.choices = None
        if self.choice == "scored":
            valid = observation.data.get("valid_actions") if isinstance(observation.data, Mapping) else None
            valid = list(valid) if isinstance(valid, Sequence) and not isinstance(valid, str) else None
            self.client.choices = choice_set(self._format, self._spec, valid)
            if self.client.choices is None:
                self._say_once("scored", f"choice=scored cannot list this world's {self._spec.kind} actions in "
                                         f"the {self._format.name} format; those turns are generated")
        self.client.json_schema = None
        if self.client.choices is None and self.constrain == "json":
            from simyard.agents.backends.choice import reply_schema

            self.client.json_schema = reply_schema(self._format, self._spec)
        wanted = self.history_kept
        keep = min(wanted, len(self._history)) if wanted else 0
        try:
            while True:
                self.history_kept = keep
                try:
                    decision = await super().act(observation)
                    break
                except PromptTooLongError as exc:
                    if keep == 0:
                        raise BackendError(
                            f"the prompt does not fit the model's context even without history: {exc.message}",
                            hint="lower --agent-opt max_tokens=N, or use a model with a longer context",
                        ) from None
                    keep -= 1
        finally:
            self.history_kept = wanted
        shown = min(wanted, len(self._history)) if wanted else 0
        if keep < shown:
            info["prompt_truncated"] = {"history_steps_dropped": shown - keep, "history_steps_kept": keep}
            log.info("task %s: the prompt was cut to the context: %d oldest history steps dropped",
                     self._task.id if self._task else "?", shown - keep)
        self.last_info = info
        if info:
            decision.info = {**decision.info, **info}  # shown in the step's info under "agent"
        return decision

    def _say_once(self, key: str, message: str) -> None:
        if key not in self._said:
            self._said.add(key)
            log.warning(message)

    async def aclose(self) -> None:
        self.client.close()

    def close(self) -> None:
        self.client.close()

