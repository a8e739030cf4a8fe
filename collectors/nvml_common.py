"""What the NVML collector's parts share: sources of samples, the error policy, catalog scales.

A *source* is one thing that can fail on its own: an NVML call (a Signal), one field of the
batched field-values call (nvml_fields.FieldSpec) or one GPM metric (nvml_gpm.GpmSpec). Each
failure is classified once by `classify` (nvml.md section 5) and the verdict is cached on the
source, so an unsupported call is asked exactly once per GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import ModuleType

from collectors.base import SampleBuffer
from profiler.catalog import NVML, OutsideName

Reader = Callable[[SampleBuffer], None]

# Consecutive failures of a transient kind (Timeout, NoData, Unknown...) before an absence.
TRANSIENT_LIMIT = 5

_NVML_BY_NAME: dict[str, OutsideName] = {entry.name: entry for entry in NVML}


def scale(outside_name: str) -> float:
    """The catalog's factor from an NVML outside name's unit to the canonical SI unit."""
    return _NVML_BY_NAME[outside_name].scale


def catalog_metric(outside_name: str) -> str:
    return _NVML_BY_NAME[outside_name].metric


def gpm_names() -> list[OutsideName]:
    """The catalog's GPM metrics (outside names NVML_GPM_METRIC_*), in catalog order."""
    return [e for e in NVML if e.name.startswith("NVML_GPM_METRIC_")]


@dataclass(eq=False, slots=True, kw_only=True)
class Source:
    """One thing that can fail on its own; `call` names it in reasons."""

    call: str
    metrics: tuple[str, ...]
    origin: str = "call"  # "call", "fields" or "gpm": where a fallback for its metrics comes from
    fails: int = 0
    last_fail_tick: int = -2


@dataclass(eq=False, slots=True, kw_only=True)
class Signal(Source):
    """An NVML call (or a group of them) read by `read`; `fallback` replaces it on an old driver."""

    read: Reader
    fallback: Reader | None = None


class Verdict(Enum):
    FALLBACK = "fallback"      # the symbol is missing: try the older call, else permanent
    PERMANENT = "permanent"    # never ask again in this run
    PERMISSION = "permission"  # permanent too, but the remedy differs
    LOST = "lost"              # the GPU fell off the bus: stop sampling it
    TRANSIENT = "transient"    # skip this tick, keep trying


class Policy:
    """Classifies NVML errors by code, with the constants of the pynvml module in use."""

    def __init__(self, nv: ModuleType) -> None:
        self.errors: tuple[type[BaseException], ...] = (nv.NVMLError, nv.NVMLLibraryMismatchError)
        self._mismatch: type[BaseException] = nv.NVMLLibraryMismatchError
        self._fallback = frozenset({nv.NVML_ERROR_FUNCTION_NOT_FOUND,
                                    nv.NVML_ERROR_ARGUMENT_VERSION_MISMATCH})
        self._not_supported = nv.NVML_ERROR_NOT_SUPPORTED
        self._permanent = frozenset({nv.NVML_ERROR_NOT_SUPPORTED, nv.NVML_ERROR_INVALID_ARGUMENT,
                                     nv.NVML_ERROR_DEPRECATED})
        self._permission = nv.NVML_ERROR_NO_PERMISSION
        self._lost = frozenset({nv.NVML_ERROR_GPU_IS_LOST, nv.NVML_ERROR_RESET_REQUIRED})

    def classify(self, error: BaseException, call: str) -> tuple[Verdict, str]:
        """The verdict for `error` raised by `call`, and the reason an absence would give."""
        name = error_name(error)
        if isinstance(error, self._mismatch):
            return Verdict.PERMANENT, f"pynvml does not match this driver's NVML ({call}: {name})"
        code = getattr(error, "value", None)
        if code in self._fallback:
            return Verdict.FALLBACK, f"not available in this driver ({call}: {name})"
        if code == self._not_supported:
            return Verdict.PERMANENT, f"not supported on this GPU ({call}: {name})"
        if code in self._permanent:
            return Verdict.PERMANENT, f"not available on this GPU/driver ({call}: {name})"
        if code == self._permission:
            return Verdict.PERMISSION, f"needs permission ({call}: {name})"
        if code in self._lost:
            return Verdict.LOST, f"GPU lost ({call}: {name})"
        return Verdict.TRANSIENT, f"failing: {name} from {call}"


def error_name(error: BaseException) -> str:
    """`NVMLError_NotSupported`, or `NVMLError(code 42)` for a code pynvml has no class for.

    Never str(error): for codes without a fixed message pynvml asks the library for one.
    """
    name = type(error).__name__
    if name == "NVMLError":
        return f"NVMLError(code {getattr(error, 'value', '?')})"
    return name
