"""Blame GPU waiting on a host-side cause, host by host (not a rule module)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiler.engine import Evidence, Thresholds
from profiler.features import Features
from rules._attribution import (
    Attribution,
    attribute,
    attribution_evidence,
    host_gpus,
    pct,
    wait_during,
    weighted_mean,
)
from rules._causes import HostCause, Signal

CauseBuilder = Callable[[Features, str, Thresholds], HostCause | None]


@dataclass(frozen=True, slots=True)
class Blame:
    """A host cause lined up with the waiting of that host's GPUs."""

    cause: HostCause
    attribution: Attribution
    weight: pd.Series  # per bin: the host's mean GPU wait while the cause is present

    def coverage(self, signal: Signal) -> float:
        """Share of the waiting-during-the-cause that falls in bins where `signal` is hot."""
        if signal.hot is None:
            return float("nan")
        w = self.weight.to_numpy(dtype="float64")
        h = signal.hot.reindex(self.weight.index).to_numpy(dtype="float64") > 0.5
        total = w.sum()
        return float(w[h].sum() / total) if total > 0 else 0.0

    def devices(self) -> list[Signal]:
        """Trigger signals on a disk or NIC that explain most of the waiting (best first)."""
        ranked = sorted((s for s in self.cause.triggers if s.entity != self.cause.host),
                        key=self.coverage, reverse=True)
        main = [s for s in ranked if self.coverage(s) >= 0.5]
        return main or [s for s in ranked[:1] if self.coverage(s) > 0]

    def evidence(self) -> list[Evidence]:
        out = [attribution_evidence(self.attribution, self.cause.host)]
        for s in self.cause.signals:
            observed = weighted_mean(s.values, self.weight)
            if observed != observed:
                continue
            note = "mean while GPUs wait during the cause"
            if s.hot is not None:
                note += f"; above threshold in {pct(self.coverage(s))} of that waiting"
            out.append(Evidence(s.metric, s.entity, observed, s.threshold, s.unit,
                                note=f"{s.note}; {note}" if s.note else note))
        return out

    def top(self, metric: str) -> float:
        """The highest idle-weighted mean of `metric` among this cause's signals."""
        values = [weighted_mean(s.values, self.weight) for s in self.cause.signals
                  if s.metric == metric]
        values = [v for v in values if v == v]
        return max(values) if values else float("nan")


def _spread(series: pd.Series, wait: pd.DataFrame) -> pd.DataFrame:
    values = series.reindex(wait.index).to_numpy(dtype="float64")
    return pd.DataFrame(np.repeat(values[:, None], len(wait.columns), axis=1),
                        index=wait.index, columns=wait.columns)


# One standard error: the weakest lean that is still more than noise's typical size.
LEANS_Z = 1.0


def blame_cause(f: Features, cause: HostCause, wait: pd.DataFrame,
                th: Thresholds) -> Blame | None:
    """Blame `cause` for the waiting of `wait`'s GPUs (one host), or None.

    Each trigger signal is tested on its own, so that one signal present throughout (a core pegged
    by the training loop) cannot hide the timing of another. A signal whose timing fires wins (the
    largest loss). Only when no signal's timing can be tested does the present-throughout test
    apply, and then not if a signal that comes and goes points against it: its timing does not lean
    towards the cause by even one standard error. Last, a signal at its threshold on average and hot
    in most bins is judged as present throughout unless the timing leans away from it by a standard
    error: its troughs are too shallow to be slack. (One that does lean towards it, too rarely
    absent for the full test, supports the verdict.)
    """
    tested = [(s.hot, attribute(f, _spread(s.hot, wait), wait, th))
              for s in cause.triggers if s.hot is not None]
    timed = [(h, a) for h, a in tested if a.fires and not a.always]
    if timed:
        hot_bins, a = max(timed, key=lambda pair: pair[1].co.lost)
        return Blame(cause, a, wait_during(wait, hot_bins.reindex(wait.index)))
    # z of each signal that comes and goes often enough for its timing to be compared
    coming_and_going = [a.z for _, a in tested
                        if not a.always and a.co.cause_share >= 1.0 - th.always_share]
    contradicted = any(z < LEANS_Z for z in coming_and_going)
    present = cause.present.reindex(wait.index)
    a = attribute(f, _spread(present, wait), wait, th)
    if a.fires and a.always and not contradicted:
        return Blame(cause, a, wait_during(wait, present))
    leans_against = any(z <= -LEANS_Z for z in coming_and_going)
    if leans_against or not _saturated_on_average(cause, wait):
        return None
    # A resource that hovers at its limit has troughs just under the threshold in which it is
    # still the bottleneck: the bins are then no control group, so judge it as present throughout.
    everywhere = pd.Series(1.0, index=wait.index)
    a = attribute(f, _spread(everywhere, wait), wait, th)
    if a.fires:
        return Blame(cause, a, wait_during(wait, everywhere))
    return None


def _saturated_on_average(cause: HostCause, wait: pd.DataFrame) -> bool:
    """Whether a trigger that may stand on presence alone is hot in most of the job's window
    (the bins where any GPU of the host has a wait share) and at its threshold on average."""
    window = wait.notna().any(axis=1)
    for s in cause.triggers:
        if s.timing_only or s.threshold is None or s.hot is None:
            continue
        mean = s.values.reindex(wait.index)[window].mean()
        hot_share = s.hot.reindex(wait.index)[window].mean()
        if mean >= s.threshold and hot_share >= 0.5:
            return True
    return False


def blame_hosts(f: Features, th: Thresholds, wait: pd.DataFrame,
                build: CauseBuilder) -> tuple[list[Blame], int]:
    """Per host with GPUs and cause signals: the blame if it fires; and how many were checked."""
    blames: list[Blame] = []
    checked = 0
    for host in f.hosts:
        gpus = host_gpus(f, host)
        cause = build(f, host, th) if gpus else None
        if cause is None:
            continue
        checked += 1
        blame = blame_cause(f, cause, wait[gpus], th)
        if blame is not None:
            blames.append(blame)
    return blames, checked
