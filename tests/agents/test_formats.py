"""Reply formats: how replies become plans, and which format a world gets."""

from __future__ import annotations

import json
import time

import pytest

from simyard.agents.formats import (
    EmbodiedJSON,
    JsonObjectFormat,
    RagenFormat,
    VectorPlanFormat,
    choose_format,
    find_json,
    parse_reply,
)
from simyard.platform.api import ActionSpec
from simyard.platform.errors import SimyardError, UnknownNameError

SKILLS = ActionSpec(kind="choice", choices=("find a Mug", "pick up the Mug", "Rotate to the right by 90 degrees."))
TEXT = ActionSpec(kind="text")


def plan(*steps: dict) -> str:
    return json.dumps({"reasoning_and_reflection": "...", "executable_plan": list(steps)})


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": {"b": [1, 2]}}\n```',
        'Sure. {not json} Here: {"a": {"b": [1, 2]}} Done.',
        "{'a': {'b': [1, 2]}}",
        '{"a": {"b": [1, 2,],},}',
    ],
)
def test_find_json_takes_the_outermost_object_through_fences_prose_and_python_literals(text: str) -> None:
    assert find_json(text, "{") == {"a": {"b": [1, 2]}}


def test_find_json_gives_none_without_json() -> None:
    assert find_json("no braces here, only {half") is None


def test_embodied_plan_resolves_ids() -> None:
    parsed = EmbodiedJSON().parse(plan({"action_id": 0, "action_name": "find a Mug"}, {"action_id": "1"}), SKILLS)
    assert (parsed.actions, parsed.error, parsed.notes) == ([0, 1], None, [])


def test_embodied_id_wins_over_a_contradicting_name_and_says_so() -> None:
    parsed = EmbodiedJSON().parse(plan({"action_id": 1, "action_name": "find a Mug"}), SKILLS)
    assert parsed.actions == [1] and "the id was used" in parsed.notes[0]


def test_embodied_name_is_the_fallback_for_a_bad_id() -> None:
    parsed = EmbodiedJSON().parse(plan({"action_id": 9, "action_name": "Pick Up The Mug"}), SKILLS)
    assert parsed.actions == [1] and "not an available id" in parsed.notes[0]


def test_embodied_unknown_first_step_rejects_the_reply() -> None:
    parsed = EmbodiedJSON().parse(plan({"action_id": 7, "action_name": "fly"}), SKILLS)
    assert parsed.actions == [] and "step 1" in parsed.error and "ids 0 to 2" in parsed.error


def test_embodied_unknown_later_step_cuts_the_plan() -> None:
    parsed = EmbodiedJSON().parse(plan({"action_id": 0}, {"action_name": "fly"}, {"action_id": 1}), SKILLS)
    assert parsed.actions == [0] and "cut before step 2" in parsed.notes[0]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("I will find the mug.", "no JSON object"),
        ('{"language_plan": "find it"}', "no executable_plan"),
        ('{"executable_plan": []}', "executable_plan is empty"),
        ('{"executable_plan": 3}', "must be a list"),
    ],
)
def test_embodied_unusable_replies_say_what_is_expected(text: str, error: str) -> None:
    parsed = EmbodiedJSON().parse(text, SKILLS)
    assert parsed.actions == [] and error in parsed.error


def test_embodied_accepts_a_stringified_plan() -> None:
    text = json.dumps({"executable_plan": json.dumps([{"action_id": 2, "action_name": SKILLS.choices[2]}])})
    assert EmbodiedJSON().parse(text, SKILLS).actions == [2]


def test_embodied_in_a_text_world_sends_names_as_commands() -> None:
    assert EmbodiedJSON().parse(plan({"action_name": "add 2"}), TEXT).actions == ["add 2"]


def test_ragen_splits_the_answer_on_separators() -> None:
    parsed = RagenFormat().parse("<think>x</think>\n<answer> find a mug || 'Pick up the Mug' </answer>", SKILLS)
    assert parsed.actions == ["find a Mug", "pick up the Mug"]


def test_ragen_forgives_a_dropped_full_stop_in_a_name() -> None:
    parsed = RagenFormat().parse("<answer>Rotate to the right by 90 degrees</answer>", SKILLS)
    assert parsed.actions == [SKILLS.choices[2]]


def test_ragen_reads_the_answer_after_the_thinking() -> None:
    text = "<think>maybe <answer>add 9</answer>? no</think><answer>add 1</answer>"
    assert RagenFormat().parse(text, TEXT).actions == ["add 1"]


def test_ragen_keeps_text_commands_verbatim_and_unknown_names_for_the_world() -> None:
    assert RagenFormat().parse("<answer>ls . || cd ..</answer>", TEXT).actions == ["ls .", "cd .."]
    assert RagenFormat().parse("<answer>fly</answer>", SKILLS).actions == ["fly"]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Up", "no <answer>"),
        ("<think>hmm</think><answer>Up || Le", "not closed"),
        ("<answer> || </answer>", "empty"),
    ],
)
def test_ragen_unusable_replies_say_what_is_expected(text: str, error: str) -> None:
    parsed = RagenFormat().parse(text, SKILLS)
    assert parsed.actions == [] and error in parsed.error and "<think>" in parsed.error


def test_json_format_takes_an_object_or_a_list_of_objects() -> None:
    spec = ActionSpec(kind="json", schema={"type": "object"})
    assert JsonObjectFormat().parse('```json\n{"op": "move"}\n```', spec).actions == [{"op": "move"}]
    assert JsonObjectFormat().parse('[{"op": 1}, {"op": 2}]', spec).actions == [{"op": 1}, {"op": 2}]
    assert "no JSON object" in JsonObjectFormat().parse("move", spec).error


def test_vector_format_takes_one_vector_a_plan_or_an_eb_manipulation_reply() -> None:
    spec = ActionSpec(kind="vector", size=3, low=(0, 0, 0), high=(9, 9, 9), integer=True)
    fmt = VectorPlanFormat()
    assert fmt.parse("[1, 2, 3]", spec).actions == [[1, 2, 3]]
    assert fmt.parse("plan: [[1, 2, 3], [4, 5, 6]]", spec).actions == [[1, 2, 3], [4, 5, 6]]
    assert fmt.parse('{"executable_plan": "[[1, 2, 3]]"}', spec).actions == [[1, 2, 3]]
    cut = fmt.parse("[[1, 2, 3], [4, 5]]", spec)
    assert cut.actions == [[1, 2, 3]] and "not 3" in cut.notes[0]
    assert "not 3" in fmt.parse("[[4, 5]]", spec).error


@pytest.mark.parametrize(
    ("world", "spec", "expected"),
    [
        ("sokoban", ActionSpec(kind="choice", choices=("Up",)), RagenFormat),
        ("countdown", TEXT, RagenFormat),
        ("some_text_world", TEXT, RagenFormat),
        ("alfred", SKILLS, EmbodiedJSON),
        ("api", ActionSpec(kind="json"), JsonObjectFormat),
        ("arm", ActionSpec(kind="vector", size=7), VectorPlanFormat),
    ],
)
def test_auto_format_follows_the_world_and_action_kind(world: str, spec: ActionSpec, expected: type) -> None:
    assert type(choose_format("auto", world, spec)) is expected


def test_a_format_that_cannot_express_the_actions_is_refused() -> None:
    with pytest.raises(SimyardError, match="cannot express the vector actions"):
        choose_format("ragen", "arm", ActionSpec(kind="vector", size=7))
    with pytest.raises(UnknownNameError):
        choose_format("yaml", "arm", SKILLS)


# Adversarial replies: parsing must stay linear in the reply's size and never raise.

HUGE = 160_000


def timed_parse(reply_format, text: str, spec: ActionSpec):
    started = time.perf_counter()
    parsed = parse_reply(reply_format, text, spec)
    return parsed, time.perf_counter() - started


@pytest.mark.parametrize(
    ("reply_format", "text"),
    [
        (RagenFormat(), "<answer>" * (HUGE // 8)),
        (RagenFormat(), "<think>" + "<answer>x" * (HUGE // 9) + "</think>"),
        (EmbodiedJSON(), "{" * HUGE),
        (EmbodiedJSON(), "[" * HUGE + "]" * HUGE),
        (EmbodiedJSON(), '{"a": ' * (HUGE // 6)),
        (JsonObjectFormat(), "{" * (HUGE // 2) + "}" * (HUGE // 2)),
        (VectorPlanFormat(), "[1," * (HUGE // 3)),
        (EmbodiedJSON(), "```json\n{\n" * (HUGE // 10)),
    ],
    ids=[
        "ragen-open-tags",
        "ragen-unclosed-in-think",
        "open-braces",
        "deep-balanced",
        "open-keys",
        "deep-object",
        "deep-vector",
        "many-fences",
    ],
)
def test_adversarial_replies_parse_fast_into_an_error(reply_format, text: str) -> None:
    spec = (
        SKILLS
        if reply_format.kinds & {"choice"}
        else (ActionSpec(kind="json") if reply_format.name == "json" else ActionSpec(kind="vector", size=2))
    )
    parsed, seconds = timed_parse(reply_format, text, spec)
    assert parsed.error and not parsed.actions
    assert seconds < 0.5, f"{seconds:.2f} s"


def test_deeply_nested_json_is_skipped_for_the_plan_after_it() -> None:
    text = "[" * 100_000 + " then " + plan({"action_id": 0, "action_name": "find a Mug"})
    parsed = parse_reply(EmbodiedJSON(), text, SKILLS)
    assert parsed.actions == [0]


def test_linear_find_json_keeps_the_outermost_object() -> None:
    text = "x {bad} " * 1000 + '{"a": {"b": [1, 2]}}' + " y" * 1000
    assert find_json(text, "{") == {"a": {"b": [1, 2]}}


def test_an_overlong_reply_is_read_at_its_ends_and_the_model_is_told() -> None:
    text = "<think>" + "hmm " * 50_000 + "</think><answer>find a Mug</answer>"
    parsed = parse_reply(RagenFormat(), text, SKILLS)
    assert parsed.actions == ["find a Mug"]
    assert f"{len(text):,} characters" in parsed.notes[0] and "keep replies short" in parsed.notes[0]


def test_an_overlong_unreadable_reply_says_it_was_cut() -> None:
    parsed = parse_reply(RagenFormat(), "blah " * 40_000, SKILLS)
    assert "no <answer>" in parsed.error and "200,000 characters" in parsed.error


def test_a_stringified_plan_that_is_no_list_says_what_is_wrong() -> None:
    parsed = EmbodiedJSON().parse(json.dumps({"executable_plan": "[[[["}), SKILLS)
    assert "executable_plan is a string" in parsed.error and "not a list of {action_id, action_name}" in parsed.error
    assert "has no executable_plan" not in parsed.error


def test_a_null_plan_is_named_as_null() -> None:
    parsed = EmbodiedJSON().parse(json.dumps({"executable_plan": None}), SKILLS)
    assert "executable_plan is null" in parsed.error


def test_ragen_answer_tags_match_in_any_case_with_odd_unicode_before() -> None:
    text = "İİİ <THINK>x</Think> <Answer>find a Mug</ANSWER>"
    assert RagenFormat().parse(text, SKILLS).actions == ["find a Mug"]
