"""Scenarios of one GPU (or the GPUs of node1): clocks, power, cooling, links, health.

Each function changes the healthy Setup, scaled by intensity (see registry.py); its docstring
is the scenario's documentation.
"""

from __future__ import annotations

import math

from profiler.simulate.params import Setup, lerp
from profiler.simulate.registry import scenario

LINK_STEPS = ((5, 16), (4, 16), (4, 8), (3, 8))  # trained link at intensity 0, 1/3, 2/3, 1


@scenario("pcie-link-degraded")
def pcie_link_degraded(s: Setup, i: float) -> Setup:
    """One GPU's PCIe link trained below its capability.

    gpu5 of node1 runs its link at Gen3 x8 (Gen4 x16, then Gen4 x8 at lower intensities) while
    its maximum is Gen5 x16. The current generation/width stay below the maximum while busy (they
    drop at idle on every GPU, which is normal); its batch copies take ~8x longer, and the other
    ranks wait for it a little every step.

    Diagnosis: PCIe link degraded on node1 gpu5 (current gen/width below max while busy).
    """
    gen, width = LINK_STEPS[math.ceil(i * (len(LINK_STEPS) - 1))]
    return s.with_gpu(5, pcie_gen=gen, pcie_width=width)


@scenario("thermal-throttling")
def thermal_throttling(s: Setup, i: float) -> Setup:
    """One GPU with poor cooling is thermally throttled and becomes the straggler.

    gpu3 of node1 has 1.9x the thermal resistance and 12 C warmer inlet air. It reaches its
    maximum operating temperature (87 C); the SW thermal governor (clock event reason 0x20) holds
    it there by lowering its SM clock to ~1600 MHz. Its compute stretches, and since the job is
    synchronous every other GPU waits for it at each all-reduce. Below intensity ~0.6 it runs hot
    without throttling.

    Diagnosis: thermal throttling of node1 gpu3, which slows the whole job.
    """
    return s.with_gpu(3, cooling=lerp(1.0, 1.9, i), inlet_delta_c=lerp(0.0, 12.0, i))


@scenario("power-capping")
def power_capping(s: Setup, i: float) -> Setup:
    """The power limit is set well below the GPU's default.

    An administrator set 450 W (default 700 W) on node1's GPUs. During compute the SW power cap
    (reason 0x4) lowers the SM clock until the power fits: power sits at the limit, clocks
    ~1700 MHz, and compute takes ~15 % longer.

    Diagnosis: power capping on node1 (power limit below default), every GPU there.
    """
    for g in range(s.gpus):
        s = s.with_gpu(g, power_limit_w=lerp(700.0, 450.0, i))
    return s


@scenario("hardware-slowdown")
def hardware_slowdown(s: Setup, i: float) -> Setup:
    """The external power brake slows node1's GPUs without any heat.

    A degraded power supply makes the BMC assert the power brake for episodes of ~20 s covering
    about a third of the window: HW slowdown and power brake reasons (0x8, 0x80), SM clocks cut
    by more than half, temperatures normal. The whole job slows during each episode.

    Diagnosis: hardware slowdown / power brake on node1 (check power supplies), not thermal.
    """
    for g in range(s.gpus):
        s = s.with_gpu(g, brake_duty=0.35 * i)
    return s


@scenario("straggler")
def straggler(s: Setup, i: float) -> Setup:
    """One rank is slow for a host-side reason, and every other rank waits for it.

    Two busy threads of another process are pinned to the core of gpu6's rank process on node1,
    so its main thread gets a third of a core and cannot issue kernels fast enough: gpu6 shows
    idle gaps inside its compute and finishes last; the other GPUs wait in NCCL at every
    all-reduce (utilization stays high, SM activity falls). One core is saturated and PSI cpu
    rises while the rest of the host is quiet. It bites from intensity ~0.5.

    Diagnosis: straggler rank node1 gpu6 (host CPU contention on its core) slowing every GPU.
    """
    return s.with_gpu(6, pinned_contention=lerp(0.0, 2.0, i))


@scenario("gpu-hardware-errors")
def gpu_hardware_errors(s: Setup, i: float) -> Setup:
    """One GPU's memory is failing.

    gpu1 of node1 accumulates corrected ECC errors, then an uncorrectable one is contained
    (XID 94) and its row remapped (XID 63, remap pending), then a double-bit error (XID 48,
    from intensity 0.5); at intensity >= 0.9 it falls off the bus (XID 79, gpu_lost) 85 % into
    the window, its samples stop and the job dies with it.

    Diagnosis: GPU hardware errors on node1 gpu1 (drain the node, reset or replace the GPU).
    """
    return s.with_gpu(1, hw_errors=i)


@scenario("lookalike-hot-gpu")
def lookalike_hot_gpu(s: Setup, i: float) -> Setup:
    """One GPU runs hot but stays below its slowdown temperature.

    gpu2 of node1 sits in a warmer spot with a weaker heatsink contact: 80-83 C under load,
    below the 87 C maximum operating temperature, so no thermal reason bits and full clocks.

    Diagnosis: no bottleneck (a warm GPU that is not throttled).
    """
    return s.with_gpu(2, cooling=lerp(1.0, 1.56, i), inlet_delta_c=lerp(0.0, 1.0, i))
