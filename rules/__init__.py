"""Rules: one module per finding id, each imported here by name so that it registers.

A test fails when a module under rules/ is missing here. Modules starting with "_" are helpers
shared by several rules.
"""

from rules import _gpu_activity as _gpu_activity  # shared helper of the pipe-activity rules
from rules import _gpu_clocks as _gpu_clocks  # shared helper of the clock-reason rules
from rules import allreduce_bound as allreduce_bound
from rules import data_starved as data_starved
from rules import data_starved_cpu as data_starved_cpu
from rules import data_starved_storage as data_starved_storage
from rules import gpu_hardware_errors as gpu_hardware_errors
from rules import gpu_idle as gpu_idle
from rules import gpu_memory_pressure as gpu_memory_pressure
from rules import hardware_slowdown as hardware_slowdown
from rules import host_swap_storm as host_swap_storm
from rules import launch_bound as launch_bound
from rules import memory_bandwidth_bound as memory_bandwidth_bound
from rules import numa_misaligned as numa_misaligned
from rules import pcie_bound as pcie_bound
from rules import pcie_link_degraded as pcie_link_degraded
from rules import power_capping as power_capping
from rules import pytorch as pytorch  # timeline variants of the ids above
from rules import straggler as straggler
from rules import tensor_cores_unused as tensor_cores_unused
from rules import thermal_throttling as thermal_throttling
