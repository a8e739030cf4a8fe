"""tensor-cores-unused (timeline): matrix ops run without tensor-core kernels."""

from __future__ import annotations

from profiler.engine import Evidence, Finding, NotChecked, Threshold, Thresholds, rule
from profiler.features import Features
from rules.pytorch._timeline import (
    MIN_GPU_TIME_LOST,
    NEEDS,
    PRIORITY,
    VARIANT,
    analysis,
    pct,
    share,
)

TB_TC = "pytorch/kineto tb_plugin/torch_tb_profiler/profiler/tensor_core.py and data.py"
MIN_COMPUTE_MAJOR = Threshold(
    7.0, unit="count", bounds=(1.0, 20.0),
    source="tensor cores exist from compute capability 7.0 (Volta); the PyTorch TensorBoard "
           f"plugin checks computeMajor >= 7 before recommending AMP ({TB_TC})",
    help="smallest compute capability (major) with tensor cores")
SPEEDUP = Threshold(
    2.0, unit="ratio", bounds=(1.0, 16.0),
    source="conservative: V100 tensor cores give 125 TFLOPS FP16 against 15.7 FP32 (8x, NVIDIA "
           "V100 datasheet); NVIDIA's mixed-precision training guide reports 2-3x end to end, "
           "so the eligible kernels are assumed to run at least 2x faster",
    help="how much faster the eligible kernels would run on tensor cores")


@rule(
    id="tensor-cores-unused",
    title="Tensor cores unused",
    needs=NEEDS,
    thresholds={"min_compute_major": MIN_COMPUTE_MAJOR, "speedup": SPEEDUP,
                "min_gpu_time_lost": MIN_GPU_TIME_LOST},
    remediation="Use mixed precision (torch.autocast with bf16/fp16, or "
                "torch.backends.cuda.matmul.allow_tf32 on Ampere and later) so matmuls and "
                "convolutions run on tensor cores.",
    groups=("gpu", "compute"),
    variant=VARIANT,
    priority=PRIORITY,
)
def tensor_cores_unused(f: Features, th: Thresholds) -> list[Finding]:
    """Kernels of ops that could use tensor cores run on the regular FP32 pipes.

    Fires when: the GPU's compute capability is at least `min_compute_major`, no kernel time
    is in tensor-core kernels (names the TensorBoard plugin recognises, e.g. `h884`, `hmma`,
    `xmma_gemm`), and some kernel time comes from ops that could use them (aten::mm,
    conv, linear, ...; the plugin's allowlist). The loss is the eligible kernel time times
    (1 - 1/`speedup`), reported from `min_gpu_time_lost` of all GPU time.
    Does not fire when: any tensor-core kernel ran, no eligible op ran, or the trace does not
    say the GPU's compute capability or the GPU is AMD's (then: not checked).
    Remedy: mixed precision or TF32.
    Sources: PyTorch TensorBoard plugin tensor-core detection and AMP recommendation.
    """
    a = analysis(f)
    findings = []
    known = [i for i in a.ranks if i.compute_major is not None and not _amd(i.device_name)]
    if not known:
        raise NotChecked("needs an NVIDIA GPU's compute capability (deviceProperties), and "
                         "the tensor-core kernel names are NVIDIA's")
    for info in known:
        if info.rank not in a.tensor_cores.index or info.compute_major is None:
            continue
        tc = a.tensor_cores.loc[info.rank]
        if (info.compute_major < th.min_compute_major or float(tc["tc_kernel_share"]) > 0
                or not float(tc["tc_eligible_share"]) > 0):
            continue
        eligible_ns = float(tc["tc_eligible_share"]) * float(tc["kernel_time_us"]) * 1e3
        lost = share(eligible_ns * (1.0 - 1.0 / th.speedup), a)
        if lost < th.min_gpu_time_lost:
            continue
        findings.append(Finding(
            entities=(info.entity,), gpu_time_lost=lost,
            evidence=(Evidence("timeline.tensor_core_share", info.entity, 0.0, None, "ratio",
                               note="kernel time in tensor-core kernels"),
                      Evidence("timeline.tensor_core_eligible", info.entity,
                               float(tc["tc_eligible_share"]), None, "ratio",
                               note="kernel time launched by ops that could use them")),
            summary=(f"rank {info.rank} ({info.device_name or 'GPU'}, compute capability "
                     f"{info.compute_major}.x): no tensor-core kernels, while "
                     f"{pct(float(tc['tc_eligible_share']))} of kernel time comes from "
                     "matmul/convolution ops")))
    return findings


def _amd(name: str | None) -> bool:
    return name is not None and any(w in name for w in ("AMD", "Instinct", "Radeon"))
