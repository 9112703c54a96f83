"""What a Ray run asks for and how many workers `--workers auto` makes of a cluster, from its nodes' resources.

The nodes here are the dictionaries `ray.nodes()` returns (written out, since no GPU cluster can run in CI); the
real two-node cluster in test_ray_executor.py checks the same sizing end to end on CPUs.
"""

from __future__ import annotations

import pytest

import simyard
from simyard.platform.adaptive import AUTO, plan_counts
from simyard.platform.ray_executor import agent_needs, cluster_capacity, worker_needs


def _node(cpus: float, gpus: float = 0.0, alive: bool = True) -> dict:
    resources = {"CPU": cpus, "memory": 64 * 2**30, "node:__internal_head__": 1.0}
    if gpus:
        resources["GPU"] = gpus
    return {"Alive": alive, "Resources": resources}


GPU_CLUSTER = [_node(16, gpus=4), _node(16, gpus=4), _node(8, alive=False)]


def test_a_local_model_on_cuda_gets_one_worker_per_gpu_of_the_live_nodes():
    needs = worker_needs(simyard.Needs(), agent_needs("local", {"device": "cuda"}), lanes=8, cluster_gpus=8)
    assert (needs.cpus, needs.gpus) == (1.0, 1.0)
    workers, lanes, settings, records = plan_counts(AUTO, AUTO, 64, capacity=cluster_capacity(GPU_CLUSTER, needs))
    assert workers == 8  # 2 live nodes x 4 GPUs; the dead node's CPUs do not count
    assert settings is not None and settings.ceiling == 8  # 64 episodes in flight over 8 models
    assert "room for 8 worker(s) of 1 CPU, 1 GPU" in records[0]["why"]


def test_device_auto_asks_for_a_gpu_only_where_the_cluster_has_one():
    auto = agent_needs("local", {"device": "auto"})
    assert worker_needs(simyard.Needs(), auto, lanes=1, cluster_gpus=8).gpus == 1.0
    on_cpus = worker_needs(simyard.Needs(), auto, lanes=1, cluster_gpus=0)
    assert on_cpus.gpus == 0.0
    assert cluster_capacity([_node(4), _node(2)], on_cpus).workers == 6


def test_agents_that_call_a_server_add_nothing_and_world_memory_counts_per_lane():
    world = simyard.Needs(cpus=0.5, memory_mb=300)
    needs = worker_needs(world, agent_needs("openai", {}), lanes=4, cluster_gpus=0)
    assert (needs.cpus, needs.gpus, needs.memory_mb) == (0.5, 0.0, 1200)
    # a 4-CPU node holds 8 half-CPU workers, but its memory only 2 GiB / 1200 MiB = 1 of them
    node = {"Alive": True, "Resources": {"CPU": 4.0, "memory": 2 * 2**30}}
    assert cluster_capacity([node], needs).workers == 1


@pytest.mark.parametrize("device, gpus", [("cpu", 0.0), ("cuda", 1.0), ("CUDA:0", 1.0)])
def test_the_local_agent_needs_follow_its_device_option(device, gpus):
    assert agent_needs("local", {"device": device}).gpus == gpus
