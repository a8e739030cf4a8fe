"""Order findings by what they cost, and link a finding to the one that explains it.

Run before any renderer, so every format shows the same order and the same explanations.
"""

from __future__ import annotations

import dataclasses

from profiler.engine import Finding

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}

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


def _sort_key(finding: Finding) -> tuple[int, float, str]:
    lost = finding.gpu_time_lost if finding.gpu_time_lost is not None else -1.0
    return (SEVERITY_ORDER[finding.severity], -lost, finding.id)


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
    """Mark stragglers explained by a cause on the same entity, and say so on both findings."""
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
            out[j] = dataclasses.replace(
                out[j], notes=(*out[j].notes, f"This makes {where} the straggler that holds "
                               "the other GPUs at every synchronisation (see straggler)."))
            break
    return out


def rank(findings: list[Finding]) -> list[Finding]:
    """Explanations linked, then ordered by severity and GPU time lost; a cause that explains
    another finding moves up to just before it, so the report tells one story, not two."""
    linked = sorted(link_explanations(findings), key=_sort_key)
    ordered: list[Finding] = []
    for finding in linked:
        if finding in ordered:
            continue
        if finding.explained_by is not None:
            cause = next((f for f in linked if f.id == finding.explained_by
                          and f not in ordered), None)
            if cause is not None:
                ordered.append(cause)
        ordered.append(finding)
    return ordered


def total_lost(findings: list[Finding]) -> float:
    """GPU-time lost to all findings (capped at 1); a straggler and the cause that explains it
    are one loss, counted once at the larger of the two. Overlapping causes make it an upper
    bound."""
    causes = {id(c) for f in findings if f.explained_by
              for c in findings if c.id == f.explained_by and _overlaps(f, c)}
    total = 0.0
    for finding in findings:
        if id(finding) in causes:
            continue
        lost = finding.gpu_time_lost or 0.0
        if finding.explained_by is not None:
            lost = max([lost, *(c.gpu_time_lost or 0.0 for c in findings
                                if c.id == finding.explained_by and _overlaps(finding, c))])
        total += lost
    return min(1.0, total)
