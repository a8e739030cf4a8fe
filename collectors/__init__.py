"""Collectors: one module per source of live samples, registered with @register."""

from __future__ import annotations

import importlib

from collectors.base import COLLECTORS, Collector, Rates, SampleBuffer, register

# Explicit, like a sqlfluff bundle: a test checks every module under collectors/ is listed.
MODULES: tuple[str, ...] = ("cpu", "memory", "pressure", "disk", "net", "infiniband", "nvml")


def default_collectors() -> list[Collector]:
    """One instance of every registered collector, host ones first, NVML last."""
    for name in MODULES:
        importlib.import_module(f"collectors.{name}")
    return [cls() for cls in COLLECTORS.values()]


__all__ = ["COLLECTORS", "Collector", "Rates", "SampleBuffer", "default_collectors", "register"]
