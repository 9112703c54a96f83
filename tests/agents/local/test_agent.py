"""The `local` agent: prompts, records, scored choices, context and images, and one model per worker in a bench."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from simyard.agents.backends.local import TransformersEngine
from simyard.agents.local_agent import LocalAgent
from simyard.platform.api import Observation, Task
from simyard.platform.episode import EpisodeResult, StepRecord, run_episode_with
from simyard.platform.errors import SimyardError
from simyard.platform.resources import Resources
from simyard.sims.puzzles.sokoban import SokobanEnv

from ..worlds import SKILLS, MugWorld


class Recorder:
    def __init__(self) -> None:
        self.steps: list[StepRecord] = []

    def start(self, task: Task, seed: int | None, observation: Observation) -> None:
        pass

    def step(self, record: StepRecord) -> None:
        self.steps.append(record)

    def finish(self, result: EpisodeResult) -> None:
        pass

    @property
    def calls(self):
        return [call for step in self.steps for call in step.calls]


def sokoban_task(max_steps: int = 4) -> Task:
    return SokobanEnv.sample_task(0).model_copy(update={"max_steps": max_steps, "max_invalid": None})


def test_model_calls_record_exactly_the_tokens_and_logprobs_the_engine_sampled(lm_path) -> None:
    agent = LocalAgent(model=str(lm_path), max_tokens=12, temperature=0.8, seed=5)
    sampled = []
    generate = agent.engine.generate

    async def spy(request):
        generations = await generate(request)
        sampled.append(generations[0])
        return generations

    agent.engine.generate = spy
    recorder = Recorder()
    try:
        run_episode_with(SokobanEnv(), agent, sokoban_task(3), seed=0, recorder=recorder)
    finally:
        agent.close()
    assert len(recorder.calls) == len(sampled) >= 1
    for call, generation in zip(recorder.calls, sampled, strict=True):
        assert call.token_ids == generation.token_ids and call.logprobs == generation.logprobs
        assert call.text == generation.text and call.completion_tokens == len(generation.token_ids)
        assert call.prompt_tokens == generation.prompt_tokens and call.finish_reason == generation.finish_reason


@pytest.mark.parametrize(
    ("world", "options"),
    [
        ("sokoban", {}),
        ("sokoban", {"temperature": 1.5, "seed": 3}),
        ("mugworld", {}),
        ("mugworld", {"temperature": 1.5, "seed": 4, "choice_norm": "mean"}),
    ],
)
def test_the_scored_choice_always_returns_a_valid_action_for_a_random_model(lm_path, world, options) -> None:
    env, task = (SokobanEnv(), sokoban_task(6)) if world == "sokoban" else (MugWorld(), MugWorld.task(max_steps=6))
    agent = LocalAgent(model=str(lm_path), choice="scored", **options)
    recorder = Recorder()
    try:
        result = run_episode_with(env, agent, task, seed=1, recorder=recorder)
    finally:
        agent.close()
    assert result.status == "completed" and result.steps == 6
    choices = env.action_spec().choices
    for step in recorder.steps:
        assert step.action is not None, "a reply named no action"
        assert env.action_spec().choice_id(step.action) is not None
    for call in recorder.calls:
        assert call.token_ids and len(call.token_ids) == len(call.logprobs)
        assert all(lp <= 0 for lp in call.logprobs)
        assert agent.engine.decode(call.token_ids) == call.text
        assert any(name in call.text for name in choices)


def test_the_local_agent_plays_a_puzzle_episode_end_to_end(lm_path) -> None:
    agent = LocalAgent(model=str(lm_path), max_tokens=16)
    recorder = Recorder()
    try:
        result = run_episode_with(SokobanEnv(), agent, sokoban_task(4), seed=0, recorder=recorder)
    finally:
        agent.close()
    assert (result.status, result.steps) == ("completed", 4), result.error
    assert result.model_calls >= 1 and result.completion_tokens == sum(len(c.token_ids) for c in recorder.calls)
    system_prompt_reply = recorder.calls[0].text  # a random model: whatever it wrote was parsed and judged
    assert isinstance(system_prompt_reply, str)


def test_bench_run_at_concurrency_8_loads_the_model_once(lm_path, tmp_path: Path) -> None:
    from simyard.cli import app

    folder = str(Path(lm_path).resolve())
    before = TransformersEngine.loads.get(folder, 0)
    result = CliRunner().invoke(
        app,
        ["bench", "run", "ragen", "--agent", "local", "-o", f"model={folder}", "-o", "choice=scored",
         "--concurrency", "8", "--limit", "8", "--max-steps", "2", "--no-frames", "--out", str(tmp_path / "run")],
    )
    assert result.exit_code == 0, result.output
    assert TransformersEngine.loads[folder] - before == 1
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and {row["status"] for row in rows} == {"completed"}


@pytest.mark.slow
def test_bench_run_with_two_workers_loads_the_model_once_in_each(lm_path, tmp_path: Path, monkeypatch) -> None:
    from simyard.cli import app

    log = tmp_path / "loads.txt"
    monkeypatch.setenv("SIMYARD_TEST_LOAD_LOG", str(log))
    plugin = Path(__file__).with_name("count_loads.py")
    result = CliRunner().invoke(
        app,
        ["bench", "run", "ragen", "--agent", "local", "-o", f"model={lm_path}", "-o", "choice=scored",
         "--workers", "2", "--concurrency", "8", "--limit", "16", "--max-steps", "2", "--no-frames",
         "--import", str(plugin), "--out", str(tmp_path / "run")],
    )
    assert result.exit_code == 0, result.output
    pids = log.read_text().split()
    assert len(pids) == len(set(pids)) == 2, pids


def test_agents_of_one_worker_share_one_engine(lm_path) -> None:
    with Resources() as resources:
        agents = [LocalAgent(model=str(lm_path), resources=resources) for _ in range(3)]
        assert len({id(agent.engine) for agent in agents}) == 1
        for agent in agents:
            agent.close()  # shared: the scope closes it, not the agents
        assert agents[0].engine.model is not None
    assert agents[0].engine.model is None


def test_history_is_cut_from_the_oldest_step_when_the_context_is_short(lm_path) -> None:
    # 4096 positions, 3300 kept for the reply: the prompt gets ~800 tokens, and the history outgrows them.
    agent = LocalAgent(model=str(lm_path), choice="scored", max_tokens=3300, history=30)
    env, task = SokobanEnv(), sokoban_task(20)
    infos = []
    act = agent.act

    async def watch(observation):
        decision = await act(observation)
        infos.append(dict(agent.last_info))
        return decision

    agent.act = watch
    try:
        result = run_episode_with(env, agent, task, seed=0)
    finally:
        agent.close()
    assert result.status == "completed", result.error
    cut = [info["prompt_truncated"] for info in infos if "prompt_truncated" in info]
    assert cut, "the history never outgrew the context"
    assert all(entry["history_steps_dropped"] >= 1 for entry in cut)
    assert not infos[0]  # the first turn has no history to cut


def test_a_prompt_that_never_fits_ends_the_episode_with_a_clear_error(lm_path) -> None:
    agent = LocalAgent(model=str(lm_path), max_tokens=4000)
    try:
        result = run_episode_with(SokobanEnv(), agent, sokoban_task(2), seed=0)
    finally:
        agent.close()
    assert result.status == "agent_error"
    assert "does not fit the model's context even without history" in result.error
    # the whole context and the reply's share of it, not their difference passed off as the context
    assert "context holds 4,096, 4,000 of them kept for the reply (max_tokens)" in result.error


def test_frames_sent_to_a_text_only_model_are_dropped_and_said(lm_path, caplog) -> None:
    agent = LocalAgent(model=str(lm_path), choice="scored")
    try:
        agent.reset(MugWorld.task(), MugWorld().action_spec())
        observation = MugWorld().reset(MugWorld.task())
        assert observation.images
        decision = asyncio.run(agent.act(observation))
    finally:
        agent.close()
    assert decision.actions and agent.last_info == {"images_dropped": 1}
    assert "takes text only: frames are not sent" in caplog.text


def test_images_always_with_a_text_only_model_is_refused(lm_path) -> None:
    with pytest.raises(SimyardError, match="takes text only"):
        LocalAgent(model=str(lm_path), images="always")


def test_a_vlm_agent_sends_the_frames(llava_path) -> None:
    tokens = {}
    for images in ("auto", "never"):
        agent = LocalAgent(model=str(llava_path), choice="scored", images=images)
        recorder = Recorder()
        try:
            run_episode_with(MugWorld(), agent, MugWorld.task(max_steps=1), seed=0, recorder=recorder)
        finally:
            agent.close()
        tokens[images] = recorder.calls[0].prompt_tokens
        assert not agent.last_info
    assert tokens["auto"] >= tokens["never"] + 15  # 16 image tokens for the placeholder, plus the image's label


def test_agent_options_are_checked(lm_path) -> None:
    for options in ({"choice": "best"}, {"choice_norm": "max"}, {"max_batch": 0}, {"top_p": 0}):
        with pytest.raises(SimyardError):
            LocalAgent(model=str(lm_path), **options)
    with pytest.raises(SimyardError, match="needs a model folder"):
        LocalAgent()


def test_skills_fixture_is_the_mugworld_list() -> None:  # guards the scored test's premise
    assert MugWorld().action_spec().choices == SKILLS

