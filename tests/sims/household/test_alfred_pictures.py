"""What `find` brings into view is in the picture: a VLM can tell from the frame what it found."""

from __future__ import annotations

from simyard.platform import registry
from simyard.sims import mjrender


def test_every_find_of_a_thing_not_shut_away_shows_it_in_the_500px_view():
    backend = mjrender.active_backend() or "osmesa"  # one GL backend per process: take the one already chosen
    env = registry.make("household", render=backend)
    finds = shown = 0
    for task in registry.load_suite("eb-alfred")[::15]:
        env.reset(task, seed=0)
        for skill in task.config["plan"]:
            result = env.step(skill)
            house, found = env._engine.house, env._engine.found
            if skill.startswith("find a ") and result.info["valid"] and not house.enclosed(found):
                finds += 1  # a thing inside a closed receptacle is found (as in EB) but cannot be seen
                shown += found in env._scene.visible(house)
            if result.terminated or result.truncated:
                break
    env.close()
    assert finds >= 40 and shown == finds
