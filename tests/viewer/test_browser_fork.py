"""Forking from the episode page in headless Chromium: a chosen agent plays the fork in the viewer, the new episode
opens with a link back to its parent's step; a replay that does not retrace the record is shown; `human` gets the
command to paste. Screenshots go to test-artifacts/viewer/."""

from __future__ import annotations

import pytest

from tests.fork.recordings import takeover_episode
from tests.viewer.test_api import episode_names
from tests.viewer.test_browser import press, wait_for
from tests.viewer.test_fork_api import record_drift_run

pytestmark = pytest.mark.browser


def fork_from_page(chromium, agent: str, options: str = "") -> None:
    from selenium.webdriver.common.by import By

    field = chromium.find_element(By.NAME, "fork-agent")
    field.clear()
    field.send_keys(agent)
    if options:
        chromium.find_element(By.NAME, "fork-options").send_keys(options)
    chromium.find_element(By.ID, "fork-run").click()


def test_fork_here_plays_the_agent_and_opens_the_new_episode_linked_to_its_parent(chromium, viewer, replying_run,
                                                                                  copy_run, screenshot):
    from selenium.webdriver.common.by import By

    run = copy_run(replying_run)
    server = viewer(run)
    name = episode_names(run)[0]
    chromium.get(server.url + f"#/episode?refs=0:{name}")
    wait_for(chromium, "#step-counter", text="step 0 / 5")
    for step in (1, 2):
        press(chromium, "j")
        wait_for(chromium, "#step-counter", text=f"step {step} / 5")
    fork_from_page(chromium, "oracle")
    parent_link = wait_for(chromium, "#fork-parent a", text=f"{name} at step 2")[0]
    assert chromium.find_element(By.CSS_SELECTOR, "section.episode h2").text == \
        f"fork of {name} at step 2 · oracle"
    assert chromium.find_element(By.ID, "step-counter").text.startswith("step 2 / ")
    assert chromium.find_element(By.ID, "step-by").text == "replayed from the parent's step 2"
    assert "success" in chromium.find_element(By.CSS_SELECTOR, "section.episode .ok").text
    screenshot("fork-opened")
    parent_link.click()
    wait_for(chromium, "#fork-children a", text="at step 2 by oracle")
    assert chromium.find_element(By.ID, "step-counter").text == "step 2 / 5"
    assert chromium.find_element(By.CSS_SELECTOR, "section.episode h2").text == f"viewer-replying · {run.name}"


def test_a_replay_mismatch_is_shown_on_the_page(chromium, viewer, tmp_path, screenshot):
    run = record_drift_run(tmp_path)
    server = viewer(run)
    chromium.get(server.url + f"#/episode?refs=0:{episode_names(run)[0]}&step=4")
    wait_for(chromium, "#step-counter", text="step 4 / 6")
    fork_from_page(chromium, "random")
    diverged = wait_for(chromium, "#fork-diverged")[0]
    assert diverged.text.startswith("The world did not retrace the record, so the fork stopped: replay differs "
                                    "from the record at step 3: observation text was 'count 3 drift")
    screenshot("fork-diverged")
    chromium.find_element("id", "fork-open").click()
    wait_for(chromium, "pre.error", text="replay differs from the record at step 3")


def test_human_gets_the_command_to_paste_and_no_button(chromium, viewer, replying_run):
    from selenium.webdriver.common.by import By

    server = viewer(replying_run)
    name = episode_names(replying_run)[0]
    chromium.get(server.url + f"#/episode?refs=0:{name}&step=1")
    wait_for(chromium, "#step-counter", text="step 1 / 5")
    field = chromium.find_element(By.NAME, "fork-agent")
    field.clear()
    field.send_keys("human")
    chromium.find_element(By.NAME, "fork-options").send_keys("prompt=Say it's <b>me</b>")
    chromium.find_element(By.NAME, "fork-max-steps").send_keys("30")
    assert not chromium.find_element(By.ID, "fork-run").is_enabled()
    assert chromium.find_element(By.ID, "fork-command").text.endswith(
        f"{name} --step 1 --agent human --agent-opt 'prompt=Say it'\\''s <b>me</b>' --max-steps 30")
    assert chromium.find_element(By.ID, "step-counter").text == "step 1 / 5"  # typing did not step the episode


def test_steps_a_person_chose_are_marked_on_the_page(chromium, viewer, tmp_path, screenshot):
    episode = takeover_episode(tmp_path / "took-over")
    server = viewer(tmp_path / "took-over")
    chromium.get(server.url + f"#/episode?refs=0:{episode.name}&step=1")
    wait_for(chromium, "#human-steps", text="steps chosen by a person (took over): 1")
    assert wait_for(chromium, "#step-by")[0].text.startswith("a person (took over); the model proposed [\"Right\"")
    screenshot("human-step")
    press(chromium, "j")
    wait_for(chromium, "#step-counter", text="step 2 / ")
    from selenium.webdriver.common.by import By

    assert not chromium.find_elements(By.ID, "step-by")
