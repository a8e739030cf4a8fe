"""Rules: one module per finding id, each imported here by name so that it registers."""

from rules import allreduce_bound as allreduce_bound
from rules import data_starved as data_starved
from rules import data_starved_cpu as data_starved_cpu
from rules import data_starved_storage as data_starved_storage
from rules import gpu_idle as gpu_idle
from rules import host_swap_storm as host_swap_storm
from rules import numa_misaligned as numa_misaligned
from rules import pcie_bound as pcie_bound
from rules import straggler as straggler
