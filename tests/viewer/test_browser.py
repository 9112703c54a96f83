"""The viewer in headless Chromium: what a person sees and does. Screenshots go to test-artifacts/viewer/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

WAIT_S = 10


def wait_for(driver, css: str, count: int | None = None, text: str | None = None):
    """The elements matching `css` once there are `count` of them (or any), or one holds `text`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(_):
        found = driver.find_elements(By.CSS_SELECTOR, css)
        if count is not None and len(found) != count:
            return False
        if text is not None and not any(text in element.text for element in found):
            return False
        return found or False

    from selenium.common.exceptions import StaleElementReferenceException

    return WebDriverWait(driver, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)).until(
        ready, message=f"no {css!r} (count={count}, text={text!r})")


def press(driver, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(key).perform()


def first_episode(run: Path) -> str:
    return sorted(path.name for path in (run / "episodes").iterdir())[0]


def test_run_page_shows_the_table_and_the_episodes(chromium, viewer, replying_run, screenshot):
    server = viewer(replying_run)
    chromium.get(server.url)  # one run: the page goes straight to it
    rows = wait_for(chromium, "#episodes tbody tr", count=6)
    summary = wait_for(chromium, "#summary tbody tr")
    assert summary[0].text.startswith("all 6 100.0% [61.0, 100.0]")
    assert rows[0].text.startswith("sokoban-6x6-1b-000")
    screenshot("run-page")


def test_filters_and_search_narrow_the_list(chromium, viewer, replying_run, random_run, screenshot):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    server = viewer(replying_run, random_run)
    chromium.get(server.url + "#/run/1")
    all_rows = wait_for(chromium, "#episodes tbody tr", count=6)
    failures = sum("failure" in row.text for row in all_rows)
    Select(chromium.find_element(By.CSS_SELECTOR, "select[name=success]")).select_by_value("no")
    wait_for(chromium, "main[data-shown*='success=no']")
    rows = wait_for(chromium, "#episodes tbody tr", count=failures)
    assert all("failure" in row.text for row in rows)
    chromium.get(server.url + "#/run/0")  # the solver's run: every episode succeeded
    wait_for(chromium, "main[data-shown='#/run/0']")
    Select(chromium.find_element(By.CSS_SELECTOR, "select[name=success]")).select_by_value("no")
    wait_for(chromium, "main[data-shown*='success=no']")
    assert wait_for(chromium, "#page-info")[0].text == "0 episodes"

    chromium.get(server.url + "#/run/0")
    wait_for(chromium, "main[data-shown='#/run/0']")
    search = chromium.find_element(By.CSS_SELECTOR, "input[name=q]")
    search.send_keys("turn 6:", Keys.ENTER)  # only the episodes of 6 turns or more said it
    wait_for(chromium, "main[data-shown*='q=turn']")
    long_ones = sorted(row["task_id"] for row in map(json.loads, (replying_run / "results.jsonl").open())
                       if row["steps"] >= 6)
    shown = sorted(row.find_element(By.TAG_NAME, "td").text for row in
                   chromium.find_elements(By.CSS_SELECTOR, "#episodes tbody tr"))
    assert shown == long_ones and long_ones
    screenshot("run-page-search")


def test_keyboard_steps_through_frames_and_replies(chromium, viewer, replying_run, screenshot):
    from selenium.webdriver.common.by import By

    server = viewer(replying_run)
    name = first_episode(replying_run)
    chromium.get(server.url + f"#/episode?refs=0:{name}")
    wait_for(chromium, "#step-counter", text="step 0 / 5")

    def shown() -> tuple[str, str, str]:
        image = wait_for(chromium, "figure.frame img[data-loaded='1']")[0]
        replies = chromium.find_elements(By.CSS_SELECTOR, ".reasoning")
        return (chromium.find_element(By.ID, "step-counter").text, image.get_attribute("data-file"),
                replies[0].text if replies else "")

    assert shown() == ("step 0 / 5", "frames/step_0000_rgb.png", "")
    for key, step in (("\ue014", 1), ("j", 2), ("j", 3), ("k", 2), ("\ue012", 1), ("j", 2)):  # →, ←
        press(chromium, key)
        wait_for(chromium, "#step-counter", text=f"step {step} / 5")
        assert shown() == (f"step {step} / 5", f"frames/step_{step:04d}_rgb.png",
                           f"turn {step}: <b>push</b> [red]on[/red]")  # model text shown as typed, not as markup
    assert not chromium.find_elements(By.CSS_SELECTOR, ".reasoning b")
    fork = chromium.find_element(By.ID, "fork-command").text
    assert fork.endswith(f"episodes/{name} --step 2 --agent random") and fork.startswith("simyard episode run --from ")
    screenshot("episode-step-2")


def test_two_runs_side_by_side(chromium, viewer, replying_run, random_run, screenshot):
    from selenium.webdriver.common.by import By

    server = viewer(replying_run, random_run)
    chromium.get(server.url)
    wait_for(chromium, "#runs tbody tr", count=2)
    chromium.find_element(By.ID, "pair-button").click()
    rows = wait_for(chromium, "#pairs tbody tr", count=6)
    assert all("success" in row.find_elements(By.TAG_NAME, "td")[2].text for row in rows)
    screenshot("side-by-side")
    rows[0].click()
    columns = wait_for(chromium, "section.episode", count=2)
    assert [column.find_element(By.TAG_NAME, "h2").text for column in columns] == [
        "viewer-replying · replying", "random · random"]
    press(chromium, "j")
    wait_for(chromium, "#step-counter", text="step 1 /")
    files = [img.get_attribute("data-file") for img in wait_for(chromium, "figure.frame img", count=2)]
    assert files == ["frames/step_0001_rgb.png", "frames/step_0001_rgb.png"]
    screenshot("side-by-side-episode")


def test_a_corrupt_or_missing_frame_is_named(chromium, viewer, replying_run, copy_run, screenshot):
    run = copy_run(replying_run)
    name = first_episode(run)
    frames = run / "episodes" / name / "frames"
    (frames / "step_0001_rgb.png").write_bytes((frames / "step_0001_rgb.png").read_bytes()[:200])
    (frames / "step_0002_rgb.png").unlink()
    server = viewer(run)
    chromium.get(server.url + f"#/episode?refs=0:{name}&step=1")
    problem = wait_for(chromium, ".frame-problem")[0]
    assert problem.text == "Frame frames/step_0001_rgb.png is cut short (no PNG end chunk)."
    notes = wait_for(chromium, "#notes")[0].text
    assert "step 2: frame frames/step_0002_rgb.png is missing" in notes
    screenshot("corrupt-frame")
    press(chromium, "j")
    assert wait_for(chromium, ".frame-problem", text="step_0002_rgb.png is missing")


def test_a_run_being_written_refreshes_on_the_page(chromium, viewer, replying_run, copy_run):
    run = copy_run(replying_run)
    manifest = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**manifest, "status": "running"}))
    index = (run / "results.jsonl").read_text().splitlines(keepends=True)
    (run / "results.jsonl").write_text("".join(index[:4]))
    server = viewer(run)
    chromium.get(server.url + "#/run/0?status=completed")
    wait_for(chromium, "#episodes tbody tr", count=4)
    assert "2 being written" in wait_for(chromium, "#run-status")[0].text
    with (run / "results.jsonl").open("a") as handle:
        handle.write("".join(index[4:]))
    wait_for(chromium, "#episodes tbody tr", count=6)  # the page polls; no reload
    assert "6 of 6 episodes recorded" in wait_for(chromium, "#run-status")[0].text


def test_error_kind_filter_and_error_text_shown_as_typed(chromium, viewer, replying_run, copy_run):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    run = copy_run(replying_run)
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    rows[1].update(status="agent_error", reason="agent_error", success=False,
                   error="ValueError: <img src=x onerror=alert(1)> [bold]no action[/bold]")
    (run / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    server = viewer(run)
    chromium.get(server.url + "#/run/0")
    wait_for(chromium, "#episodes tbody tr", count=6)
    Select(chromium.find_element(By.CSS_SELECTOR, "select[name=error_kind]")).select_by_value("ValueError")
    wait_for(chromium, "main[data-shown*='error_kind=ValueError']")
    (row,) = wait_for(chromium, "#episodes tbody tr", count=1)
    assert row.get_attribute("data-name") == f"{rows[1]['task_id']}__s{rows[1]['seed']}"
    assert "<img src=x onerror=alert(1)> [bold]no action[/bold]" in row.text
    assert not chromium.find_elements(By.CSS_SELECTOR, "#episodes img")
