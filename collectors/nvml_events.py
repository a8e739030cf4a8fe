"""XID and ECC events: one NVML event set, waited on in a daemon thread, drained by sample().

nvmlEventSetWait blocks (with the GIL released) for at most `wait_ms` and raises
NVMLError_Timeout on a quiet wait, which is normal; the short wait keeps close() prompt
(nvml.md section 3.14). Only the thread touches the event set between start() and stop().
Events are only seen from registration on: there is no history.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading
import time
from types import ModuleType
from typing import Any

from collectors.base import SampleBuffer
from collectors.nvml_common import Policy, error_name

log = logging.getLogger(__name__)

# Key XIDs (nvml.md section 3.14); the report's rule has the full table.
XID_MEANINGS: dict[int, str] = {
    13: "graphics engine exception (application fault)",
    31: "GPU memory page fault (application fault)",
    43: "GPU stopped processing (application fault)",
    48: "double-bit ECC error",
    63: "row remapping or page retirement recorded",
    64: "row remapping or page retirement failed",
    74: "NVLink error",
    79: "GPU has fallen off the bus",
    92: "high single-bit ECC error rate",
    94: "contained ECC error",
    95: "uncontained ECC error",
    119: "GSP RPC timeout",
    120: "GSP error",
}
ERRORS_BEFORE_GIVING_UP = 10


def handle_address(handle: Any) -> int | None:
    """A device handle's pointer value: event data carries a new pointer object to the same GPU."""
    address: int | None = ctypes.cast(handle, ctypes.c_void_p).value
    return address


class EventWatcher:
    """Registers GPUs for XID/ECC events and queues what arrives for sample() to record."""

    def __init__(self, nv: ModuleType, policy: Policy, wait_ms: int) -> None:
        self._nv = nv
        self._policy = policy
        self._wait_ms = wait_ms
        self._xid = nv.nvmlEventTypeXidCriticalError
        self._ecc = nv.nvmlEventTypeSingleBitEccError | nv.nvmlEventTypeDoubleBitEccError
        self._entities: dict[int | None, str] = {}
        self._queue: collections.deque[tuple[int, int | None, int, int]] = collections.deque()
        self._faults: collections.deque[str] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._set: Any = nv.nvmlEventSetCreate()  # raises NVMLError: the caller records why

    def register(self, handle: Any, entity: str) -> str | None:
        """Watch one GPU; returns why XIDs cannot be watched on it, or None."""
        nv = self._nv
        try:
            supported = nv.nvmlDeviceGetSupportedEventTypes(handle)
            mask = supported & (self._xid | self._ecc)
            if mask:
                nv.nvmlDeviceRegisterEvents(handle, mask, self._set)
        except self._policy.errors as e:
            return self._policy.classify(e, "nvmlDeviceRegisterEvents")[1]
        if not mask & self._xid:
            return f"XID events not supported on this GPU (supported event mask {supported:#x})"
        self._entities[handle_address(handle)] = entity
        return None

    def start(self) -> None:
        if not self._entities:
            return
        self._thread = threading.Thread(target=self._run, name="nvml-events", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wait = self._nv.nvmlEventSetWait
        timeout = self._nv.NVMLError_Timeout
        failures = 0
        while not self._stop.is_set():
            try:
                data = wait(self._set, self._wait_ms)
            except timeout:
                failures = 0
                continue
            except self._policy.errors as e:
                failures += 1
                log.debug("nvmlEventSetWait: %s", error_name(e))
                if failures >= ERRORS_BEFORE_GIVING_UP:
                    self._faults.append(f"XID watch stopped: {error_name(e)} from "
                                        f"nvmlEventSetWait {failures} times in a row")
                    return
                self._stop.wait(self._wait_ms / 1000.0)
                continue
            failures = 0
            self._queue.append((time.time_ns(), handle_address(data.device),
                                int(data.eventType), int(data.eventData)))

    def drain(self, buf: SampleBuffer) -> list[str]:
        """Record queued events in `buf`; returns fault messages (the watch has stopped)."""
        queue = self._queue
        while queue:
            ts_ns, address, kind, data = queue.popleft()
            entity = self._entities.get(address, "host")
            if kind & self._xid:
                meaning = XID_MEANINGS.get(data, "see NVIDIA's XID catalog")
                buf.event(entity, "xid", f"XID {data} on {entity}: {meaning}", code=data,
                          ts_ns=ts_ns)
            elif kind & self._ecc:
                double = kind & self._nv.nvmlEventTypeDoubleBitEccError
                which = "double-bit" if double else "single-bit"
                buf.event(entity, "ecc", f"{which} ECC error event on {entity}", code=kind,
                          ts_ns=ts_ns)
        faults = list(self._faults)
        self._faults.clear()
        return faults

    @property
    def pending(self) -> bool:
        return bool(self._queue) or bool(self._faults)

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(self._wait_ms / 1000.0 + 1.0)
            if thread.is_alive():
                log.debug("nvml-events thread still waiting; event set left allocated")
                return
        try:
            self._nv.nvmlEventSetFree(self._set)
        except self._policy.errors as e:
            log.debug("nvmlEventSetFree: %s", error_name(e))
