"""The scenario registry: each scenario is a small change to the healthy Setup.

A scenario is a function `(setup, intensity) -> setup` registered with `@scenario(name)`. Its
docstring is its documentation: a one-line description, what it models, and a paragraph starting
"Diagnosis:" saying what a correct diagnosis reports. Intensity 0 gives a healthy run; 1 gives
the fault at its default strength. Faults of a host or a GPU sit on node1 (the other hosts stay
healthy and wait for it at every all-reduce); causes that belong to the job (data set, model,
batch, precision) apply to every host.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from profiler.simulate.params import Setup

Build = Callable[[Setup, float], Setup]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named state of a node: how to build it, and what it models."""

    name: str
    description: str  # one line
    doc: str  # what it models; "Diagnosis: ..." says what a correct diagnosis is
    build: Build

    @property
    def expected_finding(self) -> str | None:
        """The finding id a correct diagnosis ranks first at warning or above; None for a
        healthy or look-alike run, where no warning or critical finding is correct."""
        if self.name == "healthy" or self.name.startswith("lookalike-"):
            return None
        return FINDING_OF.get(self.name, self.name)


# Scenarios named after a cause more specific than a finding id.
FINDING_OF = {"data-starved-nfs": "data-starved-storage"}

SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Build], Build]:
    """Register a scenario builder under `name`; its docstring becomes the documentation."""

    def register(build: Build) -> Build:
        if name in SCENARIOS:
            raise RuntimeError(f"scenario {name!r} registered twice")
        doc = inspect.cleandoc(build.__doc__ or "")
        first, _, rest = doc.partition("\n")
        if not first.strip() or "Diagnosis:" not in rest:
            raise RuntimeError(f"scenario {name!r} needs a one-line summary and a Diagnosis")
        SCENARIOS[name] = Scenario(name, first.strip(), rest.strip(), build)
        return build

    return register
