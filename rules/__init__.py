"""Rules: one module per finding id."""

from rules import _gpu_activity as _gpu_activity  # shared helper of the pipe-activity rules
from rules import _gpu_clocks as _gpu_clocks  # shared helper of the clock-reason rules
from rules import gpu_hardware_errors as gpu_hardware_errors
from rules import gpu_memory_pressure as gpu_memory_pressure
from rules import hardware_slowdown as hardware_slowdown
from rules import memory_bandwidth_bound as memory_bandwidth_bound
from rules import pcie_link_degraded as pcie_link_degraded
from rules import power_capping as power_capping
from rules import tensor_cores_unused as tensor_cores_unused
from rules import thermal_throttling as thermal_throttling
