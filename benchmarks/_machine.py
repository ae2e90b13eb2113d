"""Machine facts printed at the top of every benchmark, so absolute figures have context."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import version


def machine_description() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
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
