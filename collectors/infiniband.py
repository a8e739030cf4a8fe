"""InfiniBand collector: RDMA traffic, link rate and congestion of each InfiniBand or RoCE port.

Provides, per port (entity "<device>:<port>", e.g. "mlx5_0:1"), from
/sys/class/infiniband/<device>/ports/<port>/: ib.rx and ib.tx in bytes/s (counters/port_rcv_data
and port_xmit_data count 4-octet words, so x 4; counters_ext/port_*_data_64 is preferred where an
old kernel has it), ib.xmit_wait (counters/port_xmit_wait, ticks per second with data queued but
no credit to send: congestion), and ib.rate, the link rate per direction in bytes/s ("400 Gb/sec
(4X NDR)" -> 400 x 125e6). This counts all port traffic, NCCL's RDMA included, which IPoIB (the
net collector's ib0) does not.

Ports are re-scanned every RESCAN_NS, when the link rate is re-read too. Absent, with the reason:
every ib.* metric when /sys/class/infiniband does not exist or is empty; a counter that reads
"N/A (no PMA)" (a device without a performance management agent) for that port. Legacy 32-bit
counters stop at 2^32-1 instead of wrapping: a reading at that value gives no rate, and a counter
that stays there is recorded absent for that port until someone resets it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from collectors.base import Collector, Rates, SampleBuffer, register
from collectors.procfs import Every, ProcFile, list_dir, read_text

log = logging.getLogger(__name__)

WORD = 4.0  # bytes in one unit of port_rcv_data / port_xmit_data
GBIT = 125e6  # bytes per second in one Gb/s
SATURATED = 2**32 - 1
# metric, file under counters/, file under counters_ext/ preferred when present, scale to SI
_COUNTERS = (("ib.rx", "port_rcv_data", "port_rcv_data_64", WORD),
             ("ib.tx", "port_xmit_data", "port_xmit_data_64", WORD),
             ("ib.xmit_wait", "port_xmit_wait", None, 1.0))


@dataclass(slots=True)
class _Counter:
    metric: str
    file: ProcFile
    scale: float
    key: tuple[str, str]
    enabled: bool = True
    last: int | None = None


@dataclass(slots=True)
class _Port:
    entity: str
    path: Path
    counters: list[_Counter] = field(default_factory=list)
    rate: float | None = None


def parse_rate(text: str) -> float | None:
    """Bytes/s per direction from a `rate` file ("400 Gb/sec (4X NDR)"); None if not a rate."""
    words = text.split(None, 1)
    try:
        gbits = float(words[0]) if words else 0.0
    except ValueError:
        return None
    return gbits * GBIT if gbits > 0 else None


@register
class InfinibandCollector(Collector):
    name = "infiniband"
    provides = ("ib.rx", "ib.tx", "ib.rate", "ib.xmit_wait")

    def __init__(self, root: Path = Path("/")) -> None:
        super().__init__()
        self._class = root / "sys/class/infiniband"
        self._ports: dict[str, _Port] = {}
        self._rates = Rates()
        self._rescan = Every()
        self._available = False

    def open(self, host: str) -> None:
        super().open(host)
        if not self._class.is_dir():
            self.absent("ib.*", f"no InfiniBand/RoCE devices ({self._class} absent)")
            self._available = False
            return
        self._available = True
        self._scan(None)
        if not self._ports:
            self.absent("ib.*", f"no InfiniBand/RoCE devices ({self._class} is empty)")

    def close(self) -> None:
        for port in self._ports.values():
            for counter in port.counters:
                counter.file.close()
        self._ports = {}

    def _scan(self, buf: SampleBuffer | None) -> None:
        found: dict[str, _Port] = {}
        for device in list_dir(self._class):
            for number in list_dir(self._class / device / "ports"):
                entity = f"{device}:{number}"
                port = self._ports.get(entity) or self._new_port(
                    entity, self._class / device / "ports" / number)
                for counter in port.counters:
                    counter.enabled = True
                try:
                    port.rate = parse_rate(read_text(port.path / "rate"))
                except OSError:
                    port.rate = None
                found[entity] = port
        for entity, port in self._ports.items():
            if entity not in found:
                for counter in port.counters:
                    counter.file.close()
                    self._rates.forget(counter.key)
                if buf is not None:
                    buf.event(entity, "note", f"InfiniBand port {entity} disappeared")
        self._ports = found

    def _new_port(self, entity: str, path: Path) -> _Port:
        port = _Port(entity, path)
        for metric, name, name_64, scale in _COUNTERS:
            file = path / "counters_ext" / name_64 if name_64 else None
            if file is None or not file.exists():
                file = path / "counters" / name
            if not file.exists():
                self.absent(metric, f"{file} does not exist", entity)
                continue
            port.counters.append(_Counter(metric, ProcFile(file, size=64), scale,
                                          (entity, metric)))
        return port

    def sample(self, buf: SampleBuffer) -> None:
        if not self._available:
            return
        if self._rescan.due(buf.now_ns):
            self._scan(buf)
        t_s = buf.now_ns / 1e9
        for port in self._ports.values():
            for counter in port.counters:
                if counter.enabled:
                    self._sample_counter(buf, port.entity, counter, t_s)
            if port.rate is not None:
                buf.add(port.entity, "ib.rate", port.rate)

    def _sample_counter(self, buf: SampleBuffer, entity: str, counter: _Counter,
                        t_s: float) -> None:
        try:
            text = counter.file.read()
        except OSError as e:  # the port is going away; the next scan drops it
            log.debug("skipping %s this tick: %s", counter.file.path, e)
            return
        try:
            value = int(text)
        except ValueError:
            if text.startswith("N/A"):
                counter.enabled = False
                self.absent(counter.metric, f"{counter.file.path} reads {text.strip()!r}: the "
                                            "device has no performance management agent", entity)
            else:
                log.debug("unexpected text in %s: %r", counter.file.path, text)
            return
        last, counter.last = counter.last, value
        if value == SATURATED:
            self._rates.forget(counter.key)
            if last == SATURATED:
                self.absent(counter.metric, f"{counter.file.path} is stuck at 2^32-1: a legacy "
                                            "32-bit counter that saturates instead of wrapping "
                                            "(reset it with perfquery -R)", entity)
            return
        rate = self._rates.rate(counter.key, t_s, float(value))
        if rate is not None:
            buf.add(entity, counter.metric, rate * counter.scale)
