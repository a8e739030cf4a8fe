"""gpu-hardware-errors: XID errors, uncorrectable ECC errors and row-remapping trouble."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from profiler.engine import Evidence, Finding, NotChecked, Thresholds, rule
from profiler.features import Features, entity_label

# NVIDIA Xid catalog (docs.nvidia.com/deploy/xid-errors) and nvml.md §3.14: meaning, and whether
# the GPU or its platform is at fault (False: the application is, as the catalog's RESTART_APP
# resolution says for 13/31/43/45).
XIDS: dict[int, tuple[str, bool]] = {
    13: ("Graphics Engine Exception, usually an application fault", False),
    31: ("GPU memory page fault, usually an application's illegal address", False),
    43: ("GPU stopped processing after an application fault", False),
    45: ("preemptive cleanup after earlier errors or a killed process", False),
    48: ("double-bit ECC error", True),
    61: ("internal micro-controller breakpoint/warning", True),
    62: ("internal micro-controller halt", True),
    63: ("ECC page retirement / row remap recorded, reset to apply", True),
    64: ("ECC page retirement / row remapper recording failure", True),
    74: ("NVLink error", True),
    79: ("GPU has fallen off the bus", True),
    92: ("high single-bit ECC error rate", True),
    94: ("contained uncorrectable ECC error", True),
    95: ("uncontained uncorrectable ECC error", True),
    119: ("GSP RPC timeout", True),
    120: ("GSP error", True),
    154: ("GPU recovery action changed: reset or reboot required", True),
}
HEALTH = ("gpu.ecc_uncorrected", "gpu.row_remap_pending", "gpu.row_remap_failure",
          "gpu.remapped_rows_uncorrectable", "gpu.xid_last")
EVENT_KINDS = ("xid", "gpu_lost", "ecc")
SINGLE_BIT_ECC_EVENT = 1  # nvmlEventTypeSingleBitEccError: corrected, routine


@dataclass(frozen=True, slots=True)
class Item:
    """One error seen on one GPU."""

    text: str
    hardware: bool | None  # None: an XID we do not know (neither app nor hardware)
    evidence: Evidence


@rule(
    id="gpu-hardware-errors",
    title="GPU hardware errors (XID, ECC, row remapping)",
    needs=(),
    remediation="Drain the node, reset the GPU (nvidia-smi -r) or reboot to apply pending row "
                "remaps, run dcgmi diag -r 3, and RMA a GPU whose errors recur or whose row "
                "remapping failed.",
    groups=("gpu", "health", "hardware"),
    merge_per_host=False,  # each GPU's XIDs are its own problem: "gpu3 fell off the bus"
)
def gpu_hardware_errors(f: Features, th: Thresholds) -> list[Finding]:
    """A GPU reported XID errors, uncorrectable ECC errors or row-remapping trouble.

    Fires when: a trace event of kind xid / gpu_lost / ecc (an uncorrectable one) names the GPU;
    gpu.xid_last (DCGM's last-XID field) shows an XID; gpu.ecc_uncorrected is above 0 (volatile:
    since the driver loaded; DCGM's memory health watch fails on any volatile DBE);
    gpu.row_remap_pending or gpu.row_remap_failure is 1; gpu.remapped_rows_uncorrectable grows
    in the window. Every XID is named with its meaning. Hardware XIDs (48 DBE, 61/62
    micro-controller, 63/64 row remap, 74 NVLink, 79 fell off the bus, 92/94/95 ECC, 119/120
    GSP, 154 recovery action) and the health conditions set hardware_error, so the finding is
    critical. Application XIDs alone (13, 31, 43, 45) give an info finding with
    hardware_error False: the job crashed, the GPU is not at fault. An XID we do not know gives
    a warning. gpu_time_lost is None: the cost (a crashed job, a lost GPU) is not measured here.
    Does not fire when: only corrected (single-bit) ECC errors occur; remapped-row counts are
    non-zero but steady (old repairs that worked).
    Not checked when the trace has neither an event source (XID events, or a live recording of
    our NVML collector, which subscribes to them) nor GPU health metrics: an nvidia-smi log
    without ecc.* / remapped_rows.* fields says nothing about errors.
    Remedy: application XIDs: fix the job (compute-sanitizer, CUDA_LAUNCH_BLOCKING=1); hardware:
    drain, reset, run DCGM diagnostics, RMA on recurrence or remap failure.
    Sources: NVIDIA Xid catalog (docs.nvidia.com/deploy/xid-errors, resolution buckets);
    NVML nvmlDeviceGetTotalEccErrors, nvmlDeviceGetRemappedRows, XID events (nvml.md §3.12-3.14);
    DCGM DcgmHealthWatch::MonitorMemVolatileDbes / MonitorMemRowRemapFailures.
    """
    has_events = _events(f)
    has_health = any(f.has(m) for m in HEALTH)
    live = f.is_live_recording and f.trace.absence_reason("gpu.xid_last") is None
    if not f.gpus and has_events.empty:
        raise NotChecked("no GPUs in this data")
    if has_events.empty and not has_health and not live:
        raise NotChecked("no XID events and no GPU health metrics (ECC, row remapping, XID) in "
                         "this data, e.g. an nvidia-smi log without ecc.* / remapped_rows.* "
                         "fields")
    items: dict[str, list[Item]] = {}
    for label, item in [*_event_items(has_events), *_xid_metric_items(f), *_health_items(f)]:
        items.setdefault(label, []).append(item)
    return [_finding(label, found) for label, found in sorted(items.items())]


def _events(f: Features) -> pd.DataFrame:
    ev = f.trace.events
    ev = ev[ev["kind"].isin(EVENT_KINDS)]
    single_bit = (ev["kind"] == "ecc") & (ev["code"].fillna(0) == SINGLE_BIT_ECC_EVENT)
    return ev[~single_bit]


def _event_items(ev: pd.DataFrame) -> list[tuple[str, Item]]:
    if ev.empty:
        return []
    ev = ev.assign(label=[entity_label(str(h), str(e))
                          for h, e in zip(ev["host"], ev["entity"], strict=True)],
                   code=ev["code"].fillna(-1).astype("int64"))
    grouped = ev.groupby(["label", "kind", "code"]).agg(n=("ts", "size"), first=("ts", "min"))
    out = []
    for (label, kind, code), n, first in zip(grouped.index, grouped["n"], grouped["first"],
                                             strict=True):
        when = f"{n}x, first at {pd.Timestamp(first).isoformat()}"
        if kind == "xid":
            out.append((label, _xid_item(label, int(code), f"event {when}")))
        elif kind == "gpu_lost":
            out.append((label, Item("GPU lost (NVML: GPU is lost, XID 79 class)", True,
                                    Evidence("gpu.xid_last", label, 79.0, None, "count",
                                             f"gpu_lost event {when}"))))
        else:
            out.append((label, Item("uncorrectable ECC error event", True,
                                    Evidence("gpu.ecc_uncorrected", label, float(n), 0.0,
                                             "count", f"ecc event {when}"))))
    return out


def _xid_item(label: str, code: int, how: str) -> Item:
    meaning, hardware = XIDS.get(code, ("not in our table, see NVIDIA's Xid catalog", None))
    return Item(f"XID {code} ({meaning})", hardware,
                Evidence("gpu.xid_last", label, float(code), None, "count", f"XID {code}: {how}"))


def _raw(f: Features, metric: str) -> pd.DataFrame:
    return f.long(metric)[["label", "value"]]


def _xid_metric_items(f: Features) -> list[tuple[str, Item]]:
    rows = _raw(f, "gpu.xid_last")
    if rows.empty:
        return []
    prev = rows.groupby("label")["value"].shift()
    seen = rows[(rows["value"] > 0) & (rows["value"] != prev)].assign(initial=prev.isna())
    firsts = seen.groupby(["label", "value"])["initial"].all()
    return [(str(label), _xid_item(str(label), int(code),
                                   "gpu.xid_last at the window start (seen before it)"
                                   if initial else "gpu.xid_last changed in the window"))
            for (label, code), initial in firsts.items()]


def _health_items(f: Features) -> list[tuple[str, Item]]:
    out: list[tuple[str, Item]] = []
    ecc = _raw(f, "gpu.ecc_uncorrected").groupby("label")["value"].agg(["first", "max"])
    ecc = ecc[ecc["max"] > 0]
    for label, first, top in zip(ecc.index, ecc["first"], ecc["max"], strict=True):
        new = max(float(top) - float(first), 0.0)
        out.append((str(label), Item(
            f"{top:.0f} uncorrectable ECC error{_s(top)} since driver load ({new:.0f} new)", True,
            Evidence("gpu.ecc_uncorrected", str(label), float(top), 0.0, "count",
                     f"volatile uncorrected ECC count, {new:.0f} new in the window"))))
    for metric, text in (("gpu.row_remap_pending", "row remap pending: reset the GPU to apply"),
                         ("gpu.row_remap_failure", "row remapping failed: replace the GPU")):
        flags = _raw(f, metric).groupby("label")["value"].max()
        for label in flags.index[flags >= 1]:
            out.append((str(label), Item(text, True, Evidence(metric, str(label), 1.0, 0.0,
                                                              "count", text))))
    rows = _raw(f, "gpu.remapped_rows_uncorrectable").groupby("label")["value"].agg(
        ["first", "max"])
    rows = rows[rows["max"] > rows["first"]]
    for label, first, top in zip(rows.index, rows["first"], rows["max"], strict=True):
        new = float(top) - float(first)
        out.append((str(label), Item(f"{new:.0f} row{_s(new)} newly remapped for uncorrectable "
                                     "errors",
                                     True, Evidence("gpu.remapped_rows_uncorrectable", str(label),
                                                    float(new), 0.0, "count",
                                                    "rows remapped during the window"))))
    return out


def _finding(label: str, found: list[Item]) -> Finding:
    hardware = any(i.hardware for i in found)
    unknown = any(i.hardware is None for i in found)
    texts = list(dict.fromkeys(i.text for i in found))
    kind = ("hardware errors" if hardware else "unrecognised XID" if unknown
            else "application fault, not hardware")
    remedy = ("" if hardware else
              "The job hit a CUDA fault (illegal address or instruction): run it under "
              "compute-sanitizer or with CUDA_LAUNCH_BLOCKING=1; suspect the GPU only if the "
              "same XIDs recur across jobs on this GPU alone." if not unknown else
              "Look the XID up in NVIDIA's Xid catalog and follow its resolution bucket.")
    return Finding(
        entities=(label,),
        gpu_time_lost=None,
        evidence=tuple(i.evidence for i in found),
        summary=f"{label} {kind}: " + "; ".join(texts),
        remediation=remedy,
        severity="critical" if hardware else "warning" if unknown else "info",
        hardware_error=hardware,
    )


def _s(n: float) -> str:
    return "" if n == 1 else "s"
