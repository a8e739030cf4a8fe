"""`profiler simulate`: native traces of GPU nodes in a chosen state, from a step-level model.

A synchronous data-parallel training job is laid out step by step (data wait, copies, compute,
all-reduce, optimizer, checkpoints) on physical models of H100 GPUs and their host; every metric
is derived from that one timeline, so the metrics stay consistent with each other. See
docs/simulator.md.
"""

from profiler.simulate import scenarios, scenarios_gpu  # noqa: F401  (they register scenarios)
from profiler.simulate.registry import SCENARIOS, Scenario
from profiler.simulate.runner import simulate

__all__ = ["SCENARIOS", "Scenario", "simulate"]
