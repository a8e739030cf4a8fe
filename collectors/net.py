"""Network collector: bytes received and sent per physical interface, and its link speed.

Provides, per interface (entity = interface name: "eth0", "ens1f0np0", "bond0", "ib0"): nic.rx and
nic.tx in bytes/s from /proc/net/dev, and nic.speed, the link speed per direction in bytes/s, from
/sys/class/net/<if>/speed (Mb/s x 125000). The speed is re-read every RESCAN_NS; -1, 0 or an
unreadable file (a virtual device, a link that is down) gives no nic.speed for that interface.

Which interfaces count, the rule the tests check:
- `lo` never;
- kept: an interface with /sys/class/net/<if>/device (it sits on hardware: eth0, ens1f0np0, IPoIB
  ib0), a bond (/sys/class/net/<if>/bonding exists), and any name starting with "ib" (IPoIB,
  including partition children such as ib0.8001);
- skipped as virtual: everything else, e.g. veth*, docker*, br-*, virbr*, cali*, flannel*, ifb*,
  tun/tap, vxlan and VLAN sub-interfaces;
- without /sys/class/net/<if> (a fake tree, no sysfs) the name decides: the prefixes in VIRTUAL are
  skipped, the rest kept.
A bond counts its slaves' traffic again, so never sum NICs blindly. IPoIB counts IP traffic only,
not RDMA: the infiniband collector measures that. When only lo and virtual interfaces exist (a
container's own network namespace) the nic metrics are recorded absent with that reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

from collectors.base import Collector, Rates, SampleBuffer, register
from collectors.procfs import Every, ProcFile, read_text

log = logging.getLogger(__name__)

MBIT = 125_000.0  # bytes per second in one Mb/s
VIRTUAL = ("veth", "docker", "br-", "virbr", "cali", "flannel", "ifb", "tun", "tap", "vxlan",
           "cni", "lxc")


@register
class NetCollector(Collector):
    name = "net"
    provides = ("nic.rx", "nic.tx", "nic.speed")

    def __init__(self, root: Path = Path("/")) -> None:
        super().__init__()
        self._file = ProcFile(root / "proc/net/dev", size=16384)
        self._class = root / "sys/class/net"
        self._rates = Rates()
        self._rescan = Every()
        self._keep: dict[str, bool] = {}
        self._speed: dict[str, float | None] = {}
        self._present: set[str] = set()
        self._available = False

    def open(self, host: str) -> None:
        super().open(host)
        try:
            self._file.read()
        except OSError as e:
            for metric in self.provides:
                self.absent(metric, f"cannot read {self._file.path} ({e}): not Linux, "
                                    "or /proc is not mounted")
            self._available = False
            return
        self._available = True

    def close(self) -> None:
        self._file.close()

    def is_physical(self, name: str) -> bool:
        """The module docstring's rule: True for an interface whose traffic is reported."""
        if name == "lo":
            return False
        if name.startswith("ib"):
            return True
        device = self._class / name
        if device.exists():
            return (device / "device").exists() or (device / "bonding").exists()
        return not name.startswith(VIRTUAL)

    def link_speed(self, name: str) -> float | None:
        """Link speed in bytes/s per direction, None when unknown (virtual, down, unreadable)."""
        try:
            mbits = int(read_text(self._class / name / "speed"))
        except (OSError, ValueError):
            return None
        return mbits * MBIT if mbits > 0 else None

    def sample(self, buf: SampleBuffer) -> None:
        if not self._available:
            return
        try:
            text = self._file.read()
        except OSError as e:
            log.debug("skipping /proc/net/dev this tick: %s", e)
            return
        rescan = self._rescan.due(buf.now_ns)
        if rescan:
            self._keep.clear()
            self._speed.clear()
        t_s = buf.now_ns / 1e9
        names: list[str] = []
        for line in text.splitlines()[2:]:
            name, colon, counters = line.partition(":")
            if not colon:
                continue
            name = name.strip()
            names.append(name)
            keep = self._keep.get(name)
            if keep is None:
                keep = self._keep[name] = self.is_physical(name)
                self._speed[name] = self.link_speed(name) if keep else None
            if keep:
                self._sample_interface(buf, name, counters.split(), t_s)
        if rescan:
            self._check_any_physical(names)
        self._forget_gone(set(names))

    def _sample_interface(self, buf: SampleBuffer, name: str, fields: list[str],
                          t_s: float) -> None:
        if len(fields) < 9:
            return
        try:
            rx, tx = float(fields[0]), float(fields[8])
        except ValueError:
            return
        rate = self._rates.rate((name, "nic.rx"), t_s, rx)
        if rate is not None:
            buf.add(name, "nic.rx", rate)
        rate = self._rates.rate((name, "nic.tx"), t_s, tx)
        if rate is not None:
            buf.add(name, "nic.tx", rate)
        speed = self._speed.get(name)
        if speed is not None:
            buf.add(name, "nic.speed", speed)

    def _check_any_physical(self, names: list[str]) -> None:
        if names and not any(self._keep.get(n) for n in names):
            shown = ", ".join(names[:8])
            for metric in self.provides:
                self.absent(metric, f"no physical network interface: only lo and virtual ones "
                                    f"({shown}); in a container's network namespace the host's "
                                    "NICs are not visible")

    def _forget_gone(self, present: set[str]) -> None:
        gone, self._present = self._present - present, present
        for name in gone:
            self._keep.pop(name, None)
            self._speed.pop(name, None)
            self._rates.forget((name, "nic.rx"))
            self._rates.forget((name, "nic.tx"))
