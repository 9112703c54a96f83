"""A local model over transformers: loaded from a folder, served to every caller through one batching thread.

    engine = TransformersEngine("/models/Qwen2.5-0.5B-Instruct")           # device and dtype chosen for you
    [gen] = engine.generate_sync(Request([{"role": "user", "content": "Hi"}], SamplingOptions(max_tokens=16)))
    gen.text, gen.token_ids, gen.logprobs

* **Loading.** Only from a local folder (`local_files_only=True`; a hub name is refused, nothing is downloaded at
  run time). A folder whose config names a vision tower (`vision_config`) loads as an image-text-to-text model with
  its processor (LLaVA-style: `pixel_values`; Qwen2-VL-style: `pixel_values`, `image_grid_thw` and 3-D rotary
  positions); anything else as a causal LM with its tokenizer.
* **Device and dtype.** `auto` picks CUDA when present (bf16 where the GPU supports it, else float16) and the CPU
  otherwise (float32); both can be overridden (`device="cuda:1"`, `dtype="float16"`). Before loading, the memory
  the weights need (parameters × bytes per parameter, plus 20% for activations and the KV cache) is checked against
  what the device has free, from the config alone: a model that cannot fit is refused in one line, not after
  minutes of loading.
* **Prompts.** The model's own chat template (`apply_chat_template`), with OpenAI-shaped messages (text parts, and
  `image_url` parts holding data URLs or local paths). A template that refuses a system turn gets it folded into
  the first user turn; a model without a template gets a plain `role: text` layout (warned once). A prompt longer
  than the context raises `PromptTooLongError` (the `local` agent then drops history from the oldest turn); an
  image sent to a text-only model raises `ImagesNotSupportedError` (the agent drops images and says so instead).
* **Generation** runs on the `Batcher` (continuous batching, see `batching.py`); `generate` awaits it from any event
  loop, `generate_sync` from plain code, `stream` yields tokens as they are sampled.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import math
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simyard.agents.backends.engine import Engine, Generation, ModelFacts, Request, SamplingOptions
from simyard.platform.errors import BackendError, MissingExtraError, SimyardError

log = logging.getLogger(__name__)

#: Bytes per parameter of each dtype name we accept.
DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
_DTYPE_ALIASES = {"fp32": "float32", "float": "float32", "fp16": "float16", "half": "float16", "bf16": "bfloat16"}
#: Head room over the weights for activations, the KV cache and the framework: needed = weights × this.
MEMORY_FACTOR = 1.2
#: Config keys that hold the context length, most specific first.
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")
#: The plain layout for a model without a chat template.
_PLAIN_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


class ModelPathError(SimyardError):
    """The path is not a model folder."""


class ModelTooBigError(SimyardError):
    """The model cannot fit the device's free memory (decided from its config, before loading)."""


class PromptTooLongError(BackendError):
    """The prompt, with room for the reply (`reserved` tokens; one at least), is longer than the model's context."""

    def __init__(self, prompt_tokens: int, context_length: int, reserved: int = 1) -> None:
        kept = f", {reserved:,} of them kept for the reply (max_tokens)" if reserved > 1 else ""
        super().__init__(
            f"the prompt has {prompt_tokens:,} tokens; the model's context holds {context_length:,}{kept}",
            hint="shorten the prompt (the local agent drops history from the oldest turn by itself)",
        )
        self.prompt_tokens = prompt_tokens
        self.context_length = context_length
        self.reserved = reserved


class ImagesNotSupportedError(BackendError):
    """Images were sent to a model that takes text only."""


# ----------------------------------------------------------------------------------------------- facts and checks


def _require_torch() -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as exc:
        raise SimyardError(
            f"local models need torch and transformers ({exc.name} is missing)",
            hint="pip install 'simyard[local]' (CPU torch: pip install torch --index-url "
            "https://download.pytorch.org/whl/cpu first)",
        ) from None
    return torch


def model_folder(path: str | os.PathLike[str]) -> Path:
    """`path` as a model folder (one holding config.json), or `ModelPathError` in one line."""
    folder = Path(path).expanduser()
    if not folder.exists():
        raise ModelPathError(
            f"{path} does not exist",
            hint="pass the folder of a saved model (config.json, weights, tokenizer); hub names are not downloaded",
        )
    if not folder.is_dir():
        raise ModelPathError(
            f"{path} is a file, not a model folder",
            hint="pass the folder that holds the model's config.json and weights, not a file in it",
        )
    if not (folder / "config.json").is_file():
        raise ModelPathError(
            f"{path} is not a model folder (no config.json in it)",
            hint="pass the folder `save_pretrained` wrote, or a hub snapshot folder (with config.json)",
        )
    return folder


def read_config(path: str | os.PathLike[str]) -> Any:
    """The transformers config of the model in `path` (no weights read)."""
    folder = model_folder(path)
    _require_torch()
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ModelPathError(
            f"{path} has a config.json transformers cannot read: {_one_line(exc)}",
            hint="check the file, and that this transformers version knows the model type",
        ) from None


def takes_images(config: Any) -> bool:
    """Whether the model has a vision tower (LLaVA, Qwen2-VL, ... configs carry a `vision_config`)."""
    return getattr(config, "vision_config", None) is not None


def text_config(config: Any) -> Any:
    """The language model's config (the config itself for a plain LM)."""
    get = getattr(config, "get_text_config", None)
    return get() if callable(get) else getattr(config, "text_config", config)


def context_length(config: Any) -> int:
    """Positions the model takes (0 when the config does not say)."""
    for source in (text_config(config), config):
        for key in _CONTEXT_KEYS:
            value = getattr(source, key, None)
            if isinstance(value, int) and value > 0:
                return value
    return 0


def architecture(config: Any) -> str:
    names = getattr(config, "architectures", None) or []
    return str(names[0]) if names else str(getattr(config, "model_type", "unknown"))


def count_parameters(folder: Path, config: Any) -> int:
    """Parameters of the model: from the safetensors headers when the folder has them (exact, instant), else by
    building the model on the meta device (no memory, no weights)."""
    files = sorted(folder.glob("*.safetensors"))
    if files:
        total = 0
        for file in files:
            with file.open("rb") as handle:
                size = int.from_bytes(handle.read(8), "little")
                header = json.loads(handle.read(size))
            for name, entry in header.items():
                if name != "__metadata__":
                    total += math.prod(entry.get("shape", []))
        return total
    torch = _require_torch()
    with torch.device("meta"):
        model = _model_class(config).from_config(config)
    return sum(parameter.numel() for parameter in model.parameters())


def config_dtype(config: Any) -> str:
    """The dtype the checkpoint was saved in, as a name (float32 when the config does not say)."""
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    name = str(value).removeprefix("torch.") if value is not None else "float32"
    return name if name in DTYPE_BYTES else "float32"


def resolve_device(device: str = "auto") -> str:
    """`auto` is `cuda` when a GPU is present, else `cpu`; anything else is checked and returned."""
    torch = _require_torch()
    device = (device or "auto").strip().lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SimyardError(f"device={device} was asked for, but torch sees no CUDA GPU", hint="use device=cpu")
    try:
        torch.device(device)
    except RuntimeError:
        raise SimyardError(f"device={device!r} is not a torch device", hint="use auto, cpu, cuda or cuda:N") from None
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """`auto` is bfloat16 on a GPU that supports it (float16 on one that does not) and float32 on the CPU."""
    torch = _require_torch()
    name = (dtype or "auto").strip().lower().removeprefix("torch.")
    name = _DTYPE_ALIASES.get(name, name)
    if name == "auto":
        if device.startswith("cuda"):
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return "float32"
    if name not in DTYPE_BYTES:
        raise SimyardError(f"dtype={dtype!r} is not one of {', '.join(DTYPE_BYTES)}", hint="or pass dtype=auto")
    return name


def memory_needed(parameters: int, dtype: str) -> int:
    """Bytes a model of `parameters` needs in `dtype`: the weights plus `MEMORY_FACTOR` head room."""
    return int(parameters * DTYPE_BYTES[dtype] * MEMORY_FACTOR)


def memory_free(device: str) -> int | None:
    """Bytes free on `device` now (CPU: MemAvailable), or None when unknown."""
    if device.startswith("cuda"):
        torch = _require_torch()
        try:
            free, _ = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        except (RuntimeError, AssertionError):
            return None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def check_fits(facts: ModelFacts) -> None:
    """`ModelTooBigError` when the model cannot fit its device's free memory."""
    need = memory_needed(facts.parameters, facts.dtype)
    free = memory_free(facts.device)
    if free is not None and need > free:
        raise ModelTooBigError(
            f"{facts.path} ({facts.parameters / 1e9:.2f}B parameters) needs about {_gib(need)} in {facts.dtype} on "
            f"{facts.device}, which has {_gib(free)} free",
            hint="use a smaller model, a smaller dtype (dtype=bfloat16), or another device (device=cuda:N); "
            "`simyard model info PATH` shows what each device needs",
        )


def read_facts(path: str | os.PathLike[str], device: str = "auto", dtype: str = "auto") -> ModelFacts:
    """The model's facts from its folder alone (no weights loaded): what `simyard model info` prints."""
    folder = model_folder(path)
    config = read_config(folder)
    resolved = resolve_device(device)
    return ModelFacts(
        path=str(folder),
        architecture=architecture(config),
        parameters=count_parameters(folder, config),
        dtype=resolve_dtype(dtype, resolved),
        device=resolved,
        context_length=context_length(config),
        takes_images=takes_images(config),
    )


def _model_class(config: Any) -> Any:
    from transformers import AutoModelForCausalLM

    if takes_images(config):
        try:
            from transformers import AutoModelForImageTextToText

            return AutoModelForImageTextToText
        except ImportError:  # transformers < 4.46
            from transformers import AutoModelForVision2Seq

            return AutoModelForVision2Seq
    return AutoModelForCausalLM


def load_processor(folder: Path) -> Any:
    """The model's processor (`AutoProcessor`), or, where transformers refuses it only because its video half needs
    torchvision (Qwen2-VL, Qwen2.5-VL on a CPU install without it), the same processor class with images only.

    Raises:
        MissingExtraError: The processor needs torchvision even for images.
    """
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(folder, local_files_only=True)
    except ImportError as exc:
        if "torchvision" not in str(exc).lower():
            raise
        try:
            processor = _images_only_processor(folder)
        except Exception:  # noqa: BLE001 (any failure of the fallback: say what would fix it)
            processor = None
        if processor is None:
            raise MissingExtraError(
                f"the processor of {folder} needs torchvision, which is not installed",
                hint="pip install torchvision (the build matching your torch)",
            ) from None
        log.info("%s: torchvision is missing, so its processor takes images but not videos", folder)
        return processor


def _images_only_processor(folder: Path) -> Any:
    """The folder's processor class without its video processor (None when the class has none to drop)."""
    import transformers
    from transformers import AutoImageProcessor, AutoTokenizer

    name = None
    for file in ("processor_config.json", "preprocessor_config.json"):
        if (folder / file).is_file():
            name = name or json.loads((folder / file).read_text()).get("processor_class")
    base = getattr(transformers, name, None) if isinstance(name, str) else None
    if base is None or "video_processor" not in base.get_attributes():
        return None

    class ImagesOnly(base):  # type: ignore[misc, valid-type]
        @classmethod
        def get_attributes(cls) -> list[str]:
            return [attribute for attribute in super().get_attributes() if attribute != "video_processor"]

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    processor = ImagesOnly(
        image_processor=AutoImageProcessor.from_pretrained(folder, local_files_only=True),
        tokenizer=tokenizer,
        chat_template=getattr(tokenizer, "chat_template", None),
    )
    processor.video_processor = None
    return processor


# ----------------------------------------------------------------------------------------------- the engine


@dataclass
class _Chat:
    """Messages in the shape chat templates take, with their images in order."""

    messages: list[dict[str, Any]]
    images: list[Any]


class TransformersEngine(Engine):
    """A transformers model loaded from a folder, serving `generate` calls through continuous batching.

    Args:
        path: The model folder (config.json, weights, tokenizer or processor).
        device: `auto`, `cpu`, `cuda`, `cuda:N`.
        dtype: `auto`, `float32`, `bfloat16`, `float16`.
        max_batch: Sequences decoded together at most (1: no batching, requests one at a time).
        check_memory: Refuse a model that cannot fit the device (from its config), before loading.

    Raises:
        ModelPathError: `path` is not a model folder.
        ModelTooBigError: The model cannot fit the device's free memory.
        SimyardError: torch/transformers are missing, or the device or dtype is unknown.
    """

    #: Loads in this process, by path: tests count them to check one model per worker.
    loads: dict[str, int] = {}

    def __init__(
        self,
        path: str | os.PathLike[str],
        device: str = "auto",
        dtype: str = "auto",
        max_batch: int = 32,
        check_memory: bool = True,
    ) -> None:
        torch = _require_torch()
        import transformers

        transformers.utils.logging.disable_progress_bar()
        self._facts = read_facts(path, device, dtype)
        if check_memory:
            check_fits(self._facts)
        folder = Path(self._facts.path)
        config = read_config(folder)
        self.config = config
        self.processor: Any = None
        try:
            if self._facts.takes_images:
                self.processor = load_processor(folder)
                self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
            else:
                from transformers import AutoTokenizer

                self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = _model_class(config).from_pretrained(
                folder,
                local_files_only=True,
                dtype=getattr(torch, self._facts.dtype),
                device_map=self._facts.device if self._facts.device != "cpu" else None,
            )
        except (OSError, ValueError) as exc:
            raise ModelPathError(
                f"could not load the model in {folder}: {_one_line(exc)}",
                hint="the folder needs weights (*.safetensors or *.bin) and a tokenizer or processor",
            ) from None
        self.model.eval()
        self.device = torch.device(self._facts.device)
        if self._facts.device == "cpu":
            self.model.to(self.device)
        if not self._facts.context_length:
            self._facts = _replace(self._facts, context_length=int(getattr(self.tokenizer, "model_max_length", 2048)))
        self._template_warned = False
        self._compiler: Any = None
        self._grammars: dict[str, Any] = {}
        TransformersEngine.loads[self._facts.path] = TransformersEngine.loads.get(self._facts.path, 0) + 1
        from simyard.agents.backends.batching import Batcher

        forward = self.model.forward
        import inspect

        parameters = inspect.signature(forward).parameters
        self.batcher = Batcher(
            self.model,
            device=self.device,
            max_batch=max_batch,
            eos_ids=self.eos_ids(),
            pad_id=self._pad_id(),
            context_length=self._facts.context_length,
            decode=self.decode,
            token_text=self.token_text,
            cache_kwarg="cache" if "cache" in parameters else "past_key_values",
            name=f"simyard-batcher-{folder.name}",
        )
        log.info(
            "loaded %s (%s, %.1fM parameters) on %s in %s",
            folder, self._facts.architecture, self._facts.parameters / 1e6, self._facts.device, self._facts.dtype,
        )

    # ------------------------------------------------------------------------------------------- the interface

    @property
    def facts(self) -> ModelFacts:
        return self._facts

    async def generate(self, request: Request) -> list[Generation]:
        prepared = self._prepare_request(request)
        future = self.batcher.submit(prepared, request.options, processors=request.logits_processors)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:  # the caller gave up (an episode's time limit): free the slots at once
            self.batcher.cancel(future)
            raise

    def generate_sync(self, request: Request) -> list[Generation]:
        prepared = self._prepare_request(request)
        return self.batcher.submit(prepared, request.options, processors=request.logits_processors).result()

    def _prepare_request(self, request: Request):  # -> Prepared
        self._check_options(request.options)
        prepared = self.prepare(request.messages)
        if request.options.json_schema is not None:
            prepared.grammar = self.grammar(request.options.json_schema)
        return prepared

    def grammar(self, schema: str) -> Any:
        """The compiled xgrammar grammar of a JSON schema (cached per schema text).

        Raises:
            BackendError: xgrammar is not installed, or the schema does not compile.
        """
        cached = self._grammars.get(schema)
        if cached is not None:
            return cached
        try:
            import xgrammar
        except ImportError:
            raise BackendError(
                "JSON-schema replies need xgrammar, which is not installed",
                hint="pip install xgrammar (or use the local agent's choice=scored, which needs nothing more)",
            ) from None
        if self._compiler is None:
            vocab = int(self.model.get_output_embeddings().weight.shape[0])
            info = xgrammar.TokenizerInfo.from_huggingface(self.tokenizer, vocab_size=vocab)
            self._compiler = xgrammar.GrammarCompiler(info)
        try:
            try:  # compact JSON: a small model's free whitespace is wasted tokens
                compiled = self._compiler.compile_json_schema(schema, any_whitespace=False)
            except TypeError:  # older xgrammar
                compiled = self._compiler.compile_json_schema(schema)
        except Exception as exc:  # noqa: BLE001 (xgrammar raises RuntimeError/ValueError for bad schemas)
            raise BackendError(f"the JSON schema does not compile: {_one_line(exc)}", hint="check the schema") from None
        self._grammars[schema] = compiled
        return compiled

    async def stream(self, request: Request) -> AsyncIterator[TokenEvent]:
        """The request's tokens as they are sampled, one `TokenEvent` each (all samples interleaved), then the end.

        The last event of each sample carries its `finish_reason`; after every sample has finished, one event with
        `generations` set holds the final `Generation`s (the text cut at a stop string, as `generate` returns it).
        A consumer that stops early (closes the iterator, or is cancelled: a streaming client that disconnected)
        cancels the request, so its sequences leave the batch at once.
        """
        batches = self.stream_batches(request)
        try:
            async for batch in batches:
                for event in batch:
                    yield event
        finally:
            await batches.aclose()

    async def stream_batches(self, request: Request, wake_every: int = 1) -> AsyncIterator[list[TokenEvent]]:
        """`stream`'s events in lists of those ready together: every token sampled since the consumer last took
        some (one per sample per pass while it keeps up; several when it fell behind), the end event last. With
        `wake_every` K, a list waits for K tokens (the first token and the end come at once).

        What `simyard serve` streams from: a chunk costs the server and its client far more than a token, so
        fewer, larger chunks keep a busy server from falling behind (see `token_feed`).
        """
        from simyard.agents.backends.token_feed import TokenFeed

        prepared = self._prepare_request(request)
        feed = TokenFeed(wake_every)

        def listen(index: int, token: int, logprob: float, top: dict[str, float] | None, finish: str | None) -> None:
            feed.push(TokenEvent(index, token, logprob, top, finish))

        submitted = self.batcher.submit(prepared, request.options, listener=listen,
                                        processors=request.logits_processors)
        submitted.add_done_callback(lambda _: feed.close())  # on the batching thread, after the last token
        try:
            async for batch in feed.batches():
                yield batch
            yield [TokenEvent(-1, -1, 0.0, None, None, generations=submitted.result())]
        finally:
            if not submitted.done():
                self.batcher.cancel(submitted)  # the consumer left early: free the slots at once

    def close(self) -> None:
        """Stop the batching thread and drop the model (the memory returns when nothing else holds it)."""
        batcher = getattr(self, "batcher", None)
        if batcher is not None:
            batcher.close()
        self.model = None
        torch = _require_torch()
        if self._facts.device.startswith("cuda"):
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------------------------------- prompts

    def prepare(self, messages: Sequence[dict[str, Any]], *, continuation: str = ""):  # -> Prepared
        """The prompt of `messages` as token ids (and image inputs), ready for the batcher.

        Args:
            messages: OpenAI-shaped chat messages.
            continuation: Text appended after the generation prompt (the start of the assistant's reply).

        Raises:
            ImagesNotSupportedError: An image was sent to a text-only model.
            PromptTooLongError: The prompt leaves no room for a generated token.
            BackendError: A message or image cannot be read, or the chat template fails.
        """
        from simyard.agents.backends.batching import Prepared

        chat = self._chat(messages)
        text = self.render(chat.messages) + continuation
        if self.processor is not None:
            images = chat.images or None
            try:
                encoded = self.processor(text=[text], images=images, return_tensors="pt", add_special_tokens=False)
            except TypeError:
                encoded = self.processor(text=[text], images=images, return_tensors="pt")
            ids = encoded["input_ids"][0].tolist()
            extra = {
                name: value
                for name, value in encoded.items()
                if chat.images and name not in ("input_ids", "attention_mask") and hasattr(value, "shape")
            }
        else:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            extra = {}
        if len(ids) + 1 > self._facts.context_length:
            raise PromptTooLongError(len(ids), self._facts.context_length)
        return Prepared(ids=list(ids), extra=extra)

    def count_tokens(self, messages: Sequence[dict[str, Any]]) -> int:
        """Tokens in the prompt of `messages` (images included), without the context check."""
        chat = self._chat(messages)
        text = self.render(chat.messages)
        if self.processor is not None and chat.images:
            return int(self.processor(text=[text], images=chat.images, return_tensors="pt")["input_ids"].shape[1])
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render(self, messages: list[dict[str, Any]]) -> str:
        """`messages` through the model's chat template, ending with the generation prompt."""
        source = self.processor if self.processor is not None and _has_template(self.processor) else self.tokenizer
        if not _has_template(source):
            if not self._template_warned:
                self._template_warned = True
                log.warning("%s has no chat template; prompts use a plain 'role: text' layout", self._facts.path)
            flat = [{"role": m["role"], "content": _flat_text(m["content"])} for m in messages]
            return _render_plain(flat)
        try:
            return source.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except Exception as exc:  # noqa: BLE001 (jinja's TemplateError and friends)
            if messages and messages[0]["role"] == "system" and len(messages) > 1:
                # Templates such as Gemma's refuse a system turn: fold it into the first user turn.
                folded = _fold_system(messages)
                try:
                    return source.apply_chat_template(folded, add_generation_prompt=True, tokenize=False)
                except Exception:  # noqa: BLE001
                    pass
            raise BackendError(
                f"the chat template of {self._facts.path} failed: {_one_line(exc)}",
                hint="check the messages' roles (user/assistant/system) and the template",
            ) from None

    def _chat(self, messages: Sequence[dict[str, Any]]) -> _Chat:
        out: list[dict[str, Any]] = []
        images: list[Any] = []
        for number, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise BackendError(f"message {number} has no role", hint="messages are {role, content} objects")
            content = message.get("content", "")
            if content is None:
                content = ""
            if isinstance(content, str):
                out.append({"role": message["role"], "content": content})
                continue
            if not isinstance(content, list):
                raise BackendError(f"message {number}'s content is neither text nor a list of parts")
            parts: list[dict[str, Any]] = []
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind == "text":
                    parts.append({"type": "text", "text": str(part.get("text", ""))})
                elif kind in ("image_url", "image"):
                    if not self._facts.takes_images:
                        raise ImagesNotSupportedError(
                            f"{self._facts.path} ({self._facts.architecture}) takes text only, and message {number} "
                            "holds an image",
                            hint="send text only (the local agent: images=never), or use a vision-language model",
                        )
                    images.append(_read_image(part))
                    parts.append({"type": "image"})
                else:
                    raise BackendError(f"message {number} has a content part of unknown type {kind!r}")
            if self._facts.takes_images:
                out.append({"role": message["role"], "content": parts})
            else:
                out.append({"role": message["role"], "content": "".join(p["text"] for p in parts)})
        return _Chat(out, images)

    # ------------------------------------------------------------------------------------------- tokens

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def token_text(self, token: int) -> str:
        return self.tokenizer.decode([token])

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def eos_ids(self) -> list[int]:
        ids: set[int] = set()
        generation = getattr(self.model, "generation_config", None)
        for source in (getattr(generation, "eos_token_id", None), getattr(self.tokenizer, "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, (list, tuple)):
                ids.update(int(i) for i in source)
        return sorted(ids)

    def _pad_id(self) -> int:
        for value in (getattr(self.tokenizer, "pad_token_id", None), *self.eos_ids(), 0):
            if isinstance(value, int):
                return value
        return 0

    def _check_options(self, options: SamplingOptions) -> None:
        problems = []
        if options.max_tokens < 1:
            problems.append(f"max_tokens={options.max_tokens} must be >= 1")
        if options.n < 1:
            problems.append(f"n={options.n} must be >= 1")
        elif options.n > self.batcher.max_batch:
            problems.append(f"n={options.n} is more than the engine batches ({self.batcher.max_batch})")
        if not 0 < options.top_p <= 1:
            problems.append(f"top_p={options.top_p} must be in (0, 1]")
        if options.temperature < 0 or not math.isfinite(options.temperature):
            problems.append(f"temperature={options.temperature} must be >= 0")
        if options.top_logprobs < 0:
            problems.append(f"top_logprobs={options.top_logprobs} must be >= 0")
        if problems:
            raise BackendError("; ".join(problems), hint="fix the sampling options")


@dataclass(frozen=True)
class TokenEvent:
    """One streamed token of sample `index` (or, with `generations` set, the end of the request)."""

    index: int
    token_id: int
    logprob: float
    top_logprobs: dict[str, float] | None
    finish_reason: str | None
    generations: list[Generation] | None = None


# ----------------------------------------------------------------------------------------------- helpers


def _has_template(source: Any) -> bool:
    return bool(getattr(source, "chat_template", None))


def _render_plain(messages: list[dict[str, Any]]) -> str:
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join(lines) + "\nassistant: "


def _flat_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")


def _fold_system(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    system, first, rest = messages[0], messages[1], messages[2:]
    if isinstance(first["content"], str):
        content: Any = f"{_flat_text(system['content'])}\n\n{first['content']}"
    else:
        content = [{"type": "text", "text": _flat_text(system["content"]) + "\n\n"}, *first["content"]]
    return [{"role": first["role"], "content": content}, *rest]


def _read_image(part: dict[str, Any]) -> Any:
    """A PIL image from an `image_url` part (a data URL or a local path), or a one-line BackendError."""
    from PIL import Image

    url = part.get("image_url")
    url = url.get("url") if isinstance(url, dict) else url if isinstance(url, str) else part.get("image")
    if not isinstance(url, str):
        raise BackendError("an image part has no url", hint='use {"type": "image_url", "image_url": {"url": ...}}')
    try:
        if url.startswith("data:"):
            header, _, payload = url.partition(",")
            data = base64.b64decode(payload) if ";base64" in header else payload.encode()
            image = Image.open(io.BytesIO(data))
        elif url.startswith(("http://", "https://")):
            raise BackendError(
                "image URLs are not fetched by a local model",
                hint="send the image inline as a data URL (data:image/png;base64,...)",
            )
        else:
            image = Image.open(url.removeprefix("file://"))
        image.load()
    except BackendError:
        raise
    except Image.UnidentifiedImageError:
        # PIL's own message names a BytesIO object's address, which tells the sender nothing
        what = "the data URL's bytes are" if url.startswith("data:") else f"{url[:200]} is"
        raise BackendError(f"an image could not be read: {what} not a picture format PIL knows",
                           hint="send a PNG or JPEG") from None
    except Exception as exc:  # noqa: BLE001 (PIL and base64 raise many kinds for bad bytes)
        raise BackendError(f"an image could not be read: {_one_line(exc)}", hint="send a PNG or JPEG") from None
    return image.convert("RGB")


def _replace(facts: ModelFacts, **changes: Any) -> ModelFacts:
    from dataclasses import replace

    return replace(facts, **changes)


def _gib(size: int) -> str:
    return f"{size / 2**30:.1f} GiB"


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
