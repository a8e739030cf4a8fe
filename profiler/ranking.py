"""Order findings by what they cost, and link a finding to the one that explains it.

Run before any renderer, so every format shows the same order and the same explanations.
"""

from __future__ import annotations

import dataclasses

from profiler.engine import SEVERITIES, Finding, severity_for

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
SEVERITY_RANK = SEVERITIES.index

# A straggler on the same GPU or host as one of these is slow *because* of it.
STRAGGLER_CAUSES = ("gpu-hardware-errors", "thermal-throttling", "power-capping",
                    "hardware-slowdown", "pcie-link-degraded", "host-swap-storm",
                    "data-starved-cpu", "data-starved-storage")
CAUSE_WORDS = {
    "gpu-hardware-errors": "it has hardware errors",
    "thermal-throttling": "it is thermally throttled",
    "power-capping": "it is power capped",
    "hardware-slowdown": "its clocks are cut by a hardware slowdown",
    "pcie-link-degraded": "its PCIe link is degraded",
    "host-swap-storm": "its host is swapping",
    "data-starved-cpu": "its host CPUs are saturated",
    "data-starved-storage": "its host storage is saturated",
}


def _overlaps(straggler: Finding, cause: Finding) -> bool:
    """Does `cause` name the straggling GPU, or the host the straggler is (or is on)?"""
    cause_entities = set(cause.entities)
    for entity in straggler.entities:
        host = entity.split("/", 1)[0]
        if entity in cause_entities or host in cause_entities:
            return True
        if "/" not in entity and any(c.split("/", 1)[0] == entity for c in cause_entities):
            return True
    return False


def link_explanations(findings: list[Finding]) -> list[Finding]:
    """Mark stragglers explained by a cause on the same entity, and say so on both findings.

    The cause is what costs the straggler's time too, so its severity follows the pair's
    combined loss; each finding's own gpu_time_lost stays what its rule measured."""
    out = list(findings)
    for i, straggler in enumerate(out):
        if straggler.id != "straggler":
            continue
        for cause_id in STRAGGLER_CAUSES:
            j = next((k for k, f in enumerate(out) if f.id == cause_id
                      and _overlaps(straggler, f)), None)
            if j is None:
                continue
            where = ", ".join(straggler.entities)
            out[i] = dataclasses.replace(
                straggler, explained_by=cause_id,
                notes=(*straggler.notes, f"{where} is the straggler because "
                       f"{CAUSE_WORDS[cause_id]} (see {cause_id})."))
            cause = out[j]
            pair = dataclasses.replace(cause, gpu_time_lost=combined_lost(cause, out[i]))
            out[j] = dataclasses.replace(
                cause, severity=max(cause.severity, severity_for(pair), key=SEVERITY_RANK),
                notes=(*cause.notes, f"This makes {where} the straggler that holds the other "
                       "GPUs at every synchronisation (see straggler): together "
                       f"~{100 * (combined_lost(cause, out[i]) or 0):.0f} % of GPU time."))
            break
    return out


def combined_lost(cause: Finding, straggler: Finding) -> float | None:
    """A cause's own loss plus the waiting it imposes through the straggler it makes."""
    parts = [x for x in (cause.gpu_time_lost, straggler.gpu_time_lost) if x is not None]
    return sum(parts) if parts else None


def explained_by_it(finding: Finding, findings: list[Finding]) -> list[Finding]:
    """The findings (stragglers) that `finding` explains."""
    return [f for f in findings if f.explained_by == finding.id and _overlaps(f, finding)]


def rank_cost(finding: Finding, findings: list[Finding]) -> float | None:
    """What ranks a finding: its own loss, plus that of the stragglers it explains."""
    cost = finding.gpu_time_lost
    for other in explained_by_it(finding, findings):
        cost = combined_lost(dataclasses.replace(finding, gpu_time_lost=cost), other)
    return cost


def rank(findings: list[Finding]) -> list[Finding]:
    """Explanations linked, then ordered by severity and GPU time lost; a cause that explains
    another finding moves up to just before it, so the report tells one story, not two."""
    linked = link_explanations(findings)

    def key(finding: Finding) -> tuple[int, float, str]:
        cost = rank_cost(finding, linked)
        return (SEVERITY_ORDER[finding.severity], -(cost if cost is not None else -1.0),
                finding.id)

    ordered: list[Finding] = []
    for finding in sorted(linked, key=key):
        if finding in ordered:
            continue
        if finding.explained_by is not None:
            cause = next((f for f in linked if f.id == finding.explained_by
                          and f not in ordered and _overlaps(finding, f)), None)
            if cause is not None:
                ordered.append(cause)
        ordered.append(finding)
    return ordered


def total_lost(findings: list[Finding]) -> float:
    """GPU-time lost to all findings (capped at 1). A straggler's loss (its peers waiting) and
    its cause's (its own slowdown) are different GPU-time and add up; causes that overlap in
    time make it an upper bound."""
    return min(1.0, sum(f.gpu_time_lost or 0.0 for f in findings))
