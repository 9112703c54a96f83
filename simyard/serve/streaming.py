"""Streamed replies: the engine's tokens as `chat.completion.chunk`s, never one that a stop string later takes back.

The engine reports each token the moment it is sampled, but a stop string (`"\\n\\n"`, `"</answer>"`) is only known
once its last character arrives, and the final reply drops it with every token that overlaps it. A stream that sent
tokens at once would have sent text, ids and log-probabilities the final completion does not hold; a trainer reading
the stream would then train on tokens that are not in the reply. So each sample's tokens are held back while their
text could still be the start of a stop string (or ends in half a UTF-8 character, which decodes to U+FFFD), and
released as soon as it cannot. Without stop strings every token goes out as it comes, except half characters.

Tokens that reach the server together (the engine hands over what was sampled since the handler last looked, see
`backends/token_feed.py`) go out together: one chunk per choice carrying all of them that are safe, text, ids and
log-probabilities alike, as vLLM merges the outputs a slow reader has not taken yet. A chunk costs the server and
the client far more than a token adds to it, so a loaded server then sends fewer, larger chunks instead of falling
behind; a client reading at the pace of the model still gets one token per chunk.

At the end the engine's own `Generation` is authoritative: whatever of it has not been sent goes out in the last
content chunk, with the finish reason, so the concatenated stream equals the non-streamed reply exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from simyard.agents.backends.engine import Generation
from simyard.serve.protocol import logprob_entries

log = logging.getLogger(__name__)

#: Tokens before the unsent ones that are decoded with them (vLLM's detokenizer uses 5 as well).
DECODE_CONTEXT = 5


class ChoiceStream:
    """The streamed state of one sample (`choices[index]`): what was sampled, and how much of it was sent.

    Args:
        index: The choice's index.
        stops: The request's stop strings.
        decode: Token ids to text, as the engine decodes a reply.
        token_text: One id to its text (for log-probability entries).
        logprobs: Send `logprobs.content` with each chunk.
        token_ids: Send each chunk's sampled ids (vLLM's `token_ids` on the stream choice).
        interval: After the first chunk, wait until this many tokens are ready before sending the next (vLLM's
            `--stream-interval`); the end goes at once whatever is held.
    """

    def __init__(
        self,
        index: int,
        stops: Sequence[str],
        decode: Callable[[list[int]], str],
        token_text: Callable[[int], str],
        *,
        logprobs: bool,
        token_ids: bool,
        interval: int = 1,
    ) -> None:
        self.index = index
        self.interval = max(1, interval)
        self.stops = [stop for stop in stops if stop]
        self.decode = decode
        self.token_text = token_text
        self.want_logprobs = logprobs
        self.want_ids = token_ids
        self.ids: list[int] = []
        self.logprobs: list[float] = []
        self.tops: list[dict[str, float]] = []
        self.sent_tokens = 0
        self.sent_text = ""
        self.finished = False
        self._head, self._head_at = "", -1  # the decoded context tokens before `sent_tokens` (see `_text_upto`)

    def add(
        self, token: int, logprob: float, top: dict[str, float] | None, finish: str | None
    ) -> dict[str, Any] | None:
        """Take one sampled token; the chunk choice to send now, if any of the held tokens became safe."""
        self.take(token, logprob, top, finish)
        return self.release()

    def take(self, token: int, logprob: float, top: dict[str, float] | None, finish: str | None) -> None:
        """Record one sampled token without deciding yet what can be sent (`release` does, once per batch)."""
        self.ids.append(token)
        self.logprobs.append(logprob)
        self.tops.append(top or {})
        if finish is not None:
            self.finished = True  # the final Generation decides what of the rest is sent (stop strings cut it)

    def release(self) -> dict[str, Any] | None:
        """One chunk choice with every held token that is now safe to send (several when they arrived together),
        or None. The longest safe run is sent: a stop string's possible start holds back only its own tokens."""
        if self.finished or (self.sent_tokens and len(self.ids) - self.sent_tokens < self.interval):
            return None
        for end in range(len(self.ids), self.sent_tokens, -1):
            text = self._text_upto(end)
            if self._safe(text):
                return self._release(end, text)
        return None

    def finish(self, generation: Generation) -> list[dict[str, Any]]:
        """The last chunk choices of this sample: what of the final reply was held back, then the finish reason."""
        out: list[dict[str, Any]] = []
        ids = list(generation.token_ids)
        if ids[: self.sent_tokens] != self.ids[: self.sent_tokens]:
            log.warning("choice %d: the final reply differs from the tokens already streamed", self.index)
        rest_ids = ids[self.sent_tokens :]
        if generation.text.startswith(self.sent_text):
            rest_text = generation.text[len(self.sent_text) :]
        else:
            log.warning("choice %d: the final text does not extend the streamed text", self.index)
            rest_text = ""
        if rest_ids or rest_text:
            tops = generation.top_logprobs[self.sent_tokens :] if generation.top_logprobs is not None else None
            out.append(self._choice(rest_text, rest_ids, list(generation.logprobs[self.sent_tokens :]), tops))
        self.sent_tokens, self.sent_text = len(ids), generation.text
        end = {"index": self.index, "delta": {}, "logprobs": None, "finish_reason": generation.finish_reason}
        if self.want_ids:
            end["token_ids"] = []
        out.append(end)
        return out

    def _text_upto(self, end: int) -> str:
        """The text of `ids[:end]`, decoding only from a few tokens before the part already sent (vLLM's
        incremental detokenizing): decoding the whole reply again for every chunk made a long reply quadratic.
        The few tokens of context matter because some tokenizers decode a token differently at the start of a
        text (SentencePiece drops the space of a leading `▁`); the full decode is the fallback."""
        anchor = max(0, self.sent_tokens - DECODE_CONTEXT)
        if anchor == 0:
            return self.decode(self.ids[:end])
        if self._head_at != self.sent_tokens:
            self._head, self._head_at = self.decode(self.ids[anchor : self.sent_tokens]), self.sent_tokens
        tail = self.decode(self.ids[anchor:end])
        if not tail.startswith(self._head) or self._head.endswith("\ufffd"):
            return self.decode(self.ids[:end])
        return self.sent_text + tail[len(self._head) :]

    def _safe(self, text: str) -> bool:
        """Whether `text` can be sent: no half character at its end, no stop string in it or starting in it."""
        if text.endswith("\ufffd") or not text.startswith(self.sent_text):
            return False
        for stop in self.stops:
            if stop in text:
                return False
            for size in range(1, min(len(stop), len(text) + 1)):
                if text.endswith(stop[:size]):
                    return False
        return True

    def _release(self, end: int, text: str) -> dict[str, Any]:
        start = self.sent_tokens
        choice = self._choice(
            text[len(self.sent_text) :], self.ids[start:end], self.logprobs[start:end], self.tops[start:end]
        )
        self.sent_tokens, self.sent_text = end, text
        return choice

    def _choice(
        self, text: str, ids: list[int], logprobs: list[float], tops: Sequence[dict[str, float]] | None
    ) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": self.index, "delta": {"content": text}, "logprobs": None,
                                  "finish_reason": None}
        if self.want_logprobs:
            choice["logprobs"] = {"content": logprob_entries(ids, logprobs, tops, self.token_text)}
        if self.want_ids:
            choice["token_ids"] = ids
        return choice
