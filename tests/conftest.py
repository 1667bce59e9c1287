"""Fixtures shared by every test folder."""

from __future__ import annotations

import pytest


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


class PeakRss:
    """This process's peak RSS since the last `reset()` (VmHWM, reset through
    /proc/self/clear_refs). `ru_maxrss` cannot do this: it never goes down, so an earlier,
    larger peak of the test session would hide any growth."""

    def reset(self) -> None:
        """Start measuring from the current RSS."""
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        self.start_kb = _status_kb("VmRSS")

    def growth_mb(self) -> float:
        """How far the peak has risen above the RSS at the last reset, in MB."""
        return (_status_kb("VmHWM") - self.start_kb) / 1024


@pytest.fixture
def peak_rss() -> PeakRss:
    """A :class:`PeakRss`, already reset (skips where /proc cannot reset the peak)."""
    meter = PeakRss()
    try:
        meter.reset()
    except OSError as err:
        pytest.skip(f"cannot reset the peak RSS here: {err}")
    return meter
