"""Rules over PyTorch profiler timelines: the same finding ids as the hardware rules, decided
from the trace's own timings (registered as variant "pytorch", preferred when a timeline is
loaded). `launch-bound` is timeline-only and lives in rules/launch_bound.py.
"""

from rules.pytorch import _timeline as _timeline  # shared helper
from rules.pytorch import allreduce_bound as allreduce_bound
from rules.pytorch import data_starved as data_starved
from rules.pytorch import data_starved_cpu as data_starved_cpu
from rules.pytorch import pcie_bound as pcie_bound
from rules.pytorch import straggler as straggler
from rules.pytorch import tensor_cores_unused as tensor_cores_unused
