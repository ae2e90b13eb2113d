"""Machine facts printed at the top of every benchmark, so absolute figures have context."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import version


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or "unknown CPU"."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine_description() -> str:
    cpu = cpu_model()
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB RAM"
    except (ValueError, OSError):
        pass
    return (
        f"machine: {os.cpu_count()} cores, {cpu}{memory}; {platform.system()} {platform.release()}; "
        f"Python {sys.version.split()[0]}; dagster {version('dagster')}, lightgbm {version('lightgbm')}"
    )
