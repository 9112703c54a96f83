"""The collaborators: the oracle answers what the question asks; the model collaborator sends SyncMind's prompt to a
real OpenAI-compatible server, and a server that stays down is infrastructure (the episode is retried)."""

from __future__ import annotations

import pytest

from simyard.platform.errors import InfraError, UnknownNameError
from simyard.repos.collaborator import ModelCollaborator, OracleCollaborator, make_collaborator
from simyard.repos.instances import Instance
from tests.agents.chat_server import ChatServer

INSTANCE = Instance(
    instance_id="demo__callee__pkg.shapes__area__0123456789__tests.test_shapes", repo="demo", setting="callee",
    world_sha="f" * 40, belief_sha="e" * 40, file="pkg/shapes.py", function="area",
    old_code="def area(w, h):\n    return w * h\n", gold_code="def area(size):\n    w, h = size\n    return w * h\n",
    world_file="def area(size):\n    w, h = size\n    return w * h\n", test_file="tests/test_shapes.py",
    initial_error_log="FAILED tests/test_shapes.py::test_area - TypeError: area() missing 1 required argument",
    gold_outcomes={"tests/test_shapes.py::test_area": "passed"},
)


@pytest.mark.parametrize("question, says, keeps_quiet", [
    ("Which file should I look at?", "The file is pkg/shapes.py.", "def area(size)"),
    ("Which function is out of sync?", "The out-of-sync function is area in pkg/shapes.py.", "def area(size)"),
    ("What should its code be?", "def area(size):", "The file is"),
    ("Help?", "The out-of-sync function is area in pkg/shapes.py.", "def area(size)"),
])
def test_oracle_collaborator_answers_only_what_is_asked(question, says, keeps_quiet):
    answer = OracleCollaborator().answer(INSTANCE, question)
    assert says in answer.text and keeps_quiet not in answer.text and answer.call is None


def test_unknown_collaborator_is_refused():
    with pytest.raises(UnknownNameError, match="no collaborator named 'human'"):
        make_collaborator("human")


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with ChatServer() as chat:
        yield chat


def test_model_collaborator_gets_the_ground_truth_and_the_rules(server):
    server.script("It is pkg/shapes.py.")
    collaborator = ModelCollaborator("gpt-test", base_url=server.base_url)
    try:
        answer = collaborator.answer(INSTANCE, "Which file changed?")
    finally:
        collaborator.close()
    assert answer.text == "It is pkg/shapes.py." and answer.call.completion_tokens == 20
    request = server.requests[0]
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert request["model"] == "gpt-test" and request["temperature"] == 0.7 and request["max_tokens"] == 1000
    assert "def area(size):" in system and "def area(w, h):" in system and "TypeError" in system
    assert "Answer only the specific piece of information" in system and "Never give misleading" in system
    assert user == "Which file changed?" and len(request["messages"]) == 2  # no memory between questions


def test_model_collaborator_server_that_stays_down_is_an_infra_error(server):
    server.fail(503, times=10)
    collaborator = ModelCollaborator("gpt-test", base_url=server.base_url, max_attempts=2, backoff_s=0.01)
    try:
        with pytest.raises(InfraError):
            collaborator.answer(INSTANCE, "Which file changed?")
    finally:
        collaborator.close()


def test_world_with_the_model_collaborator_logs_question_answer_and_call(server, tmp_path_factory):
    from simyard.platform.api import Task
    from simyard.platform.resources import Resources
    from simyard.repos.syncmind import SyncMindEnv
    from simyard.sandboxes.bwrap import bwrap_available
    from simyard.tasks.syncmind_mini import syncmind_mini_suite

    if bwrap_available():
        pytest.skip(bwrap_available())
    task = next(t for t in syncmind_mini_suite(cache_dir=str(tmp_path_factory.getbasetemp() / "syncmind-cache"))
                if t.config["mode"] == "collaborative")
    server.script("The method you want is in the ledger module.")
    with Resources("worker") as scope:  # as in a bench worker: the client is shared in the scope
        world = SyncMindEnv(collaborator="openai", collaborator_model="gpt-test", collaborator_base_url=server.base_url,
                            collaborator_temperature=0.2, resources=scope)
        try:
            world.reset(Task.model_validate(task.model_dump()), 0)
            step = world.step({"action": "ask", "question": "Where is it?"})
        finally:
            world.close()
    assert "Collaborator: The method you want is in the ledger module." in step.observation.text
    assert step.info["answer"] == "The method you want is in the ledger module." and step.info["balance"] == 900
    assert step.info["collaborator_call"]["prompt_tokens"] == 100 and server.requests[0]["temperature"] == 0.2
