"""profiler: sample, replay and diagnose GPU node bottlenecks, ranked by the GPU time they cost."""

__version__ = "0.1.0"
