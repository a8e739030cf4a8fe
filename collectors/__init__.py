"""Collectors: one module per source of live samples, registered with @register."""

from collectors.base import COLLECTORS, Collector, Rates, SampleBuffer, register

__all__ = ["COLLECTORS", "Collector", "Rates", "SampleBuffer", "register"]
