"""Shared by the timeline rules: the loaded analysis and GPU time as a fraction of all of it."""

from __future__ import annotations

from profiler.engine import NotChecked, Threshold
from profiler.features import Features
from profiler.pytorch.analysis import TorchAnalysis
from profiler.pytorch.load import ANALYSIS_KEY

NEEDS = ("timeline.gpu_busy",)
VARIANT = "pytorch"
PRIORITY = 10  # a timeline's exact timings beat 1 s hardware samples of the same cause
TB_PLUGIN = "pytorch/kineto tb_plugin/torch_tb_profiler/profiler/data.py"
HTA = "HolisticTraceAnalysis hta/analyzers/breakdown_analysis.py"

MIN_GPU_TIME_LOST = Threshold(
    0.05, unit="ratio", bounds=(0.0, 1.0),
    source="TensorFlow profiler input-pipeline analysis: below 5 % of step time a cause is "
           "'not input-bound' (kModeratelyInfeedBoundThresholdInPercent = 5); the PyTorch "
           f"TensorBoard plugin uses the same 5 % for DataLoader time ({TB_PLUGIN})",
    help="smallest share of all GPU time (the ranks' first-to-last activity spans) to report")


def analysis(f: Features) -> TorchAnalysis:
    found = f.trace.analyses.get(ANALYSIS_KEY)
    if not isinstance(found, TorchAnalysis):
        raise NotChecked("needs a PyTorch profiler timeline")
    return found


def share(ns: float, a: TorchAnalysis) -> float:
    """GPU time (ns) as a fraction of all ranks' GPU time."""
    total = a.total_ns
    return ns / total if total > 0 else 0.0


def pct(x: float) -> str:
    return "n/a" if x != x else f"{100.0 * x:.0f} %"


def ms(ns: float) -> str:
    return f"{ns / 1e6:.1f} ms"
