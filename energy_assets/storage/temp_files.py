"""The temp files an atomic local write stages next to its target, and removing orphaned ones.

A local write stages `.tmp-<token>.<pid>@<host>.part` in the target's folder, then renames it
over the target. A writer killed in between (SIGKILL, OOM, a lost node) leaves that temp file
behind, possibly truncated; nothing ever reads it, but nothing else would remove it.

A temp file is an orphan, and is removed, when
- its writer ran on this host (same hostname and PID namespace) and that process is gone
  (removed at once), or
- it is older than the age threshold (`ORPHAN_AGE_SECONDS` by default): a writer on another
  host sharing the folder, a live PID that may have been reused, or a name from an older
  version. A live writer holds its temp file for seconds (a year of hourly objects is staged,
  synced and renamed in well under a minute), so an hour is far beyond any live write.

`sweep_folder` runs before every local write into that folder (so the next write of a partition
removes what a killed run left there); `energy-assets storage clean-temp` sweeps a whole store.
Temp files are created with mode 0666 minus the process umask, like any file `open()` creates,
so the renamed object gets the permissions the umask asks for (mkstemp would force 0600).
"""

from __future__ import annotations

import functools
import os
import re
import secrets
import socket
import time
from dataclasses import dataclass, field

TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".part"
# Temp files whose writer cannot be shown to be gone are removed once older than this.
ORPHAN_AGE_SECONDS = 3600.0
# .tmp-<hex token>.<pid>@<host>.part; older versions wrote .tmp-<random>.part (age rule only).
_NAME = re.compile(r"^\.tmp-[0-9a-f]+\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9._-]+)\.part$")


def is_temp_name(name: str) -> bool:
    """Whether a file or object base name is one of our staged temp files."""
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


@functools.cache
def _host_tag() -> str:
    """This host and PID namespace: PIDs are only comparable between writers that share both."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:64] or "host"
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{host}_{namespace}"


def create_temp(directory: str) -> tuple[int, str]:
    """A new temp file in `directory`, opened for writing: (fd, path). The umask applies."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        name = f"{TEMP_PREFIX}{secrets.token_hex(6)}.{os.getpid()}@{_host_tag()}{TEMP_SUFFIX}"
        path = os.path.join(directory, name)
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a unique temp file in {directory}")


def _writer_gone(name: str) -> bool:
    """True when the name says its writer ran here and that process no longer exists."""
    match = _NAME.match(name)
    if match is None or match.group("host") != _host_tag():
        return False
    try:
        os.kill(int(match.group("pid")), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False  # alive under another user (or not a PID at all: leave it to the age rule)
    return False


def is_orphan(name: str, age_seconds: float, older_than_seconds: float) -> bool:
    """Whether a temp file of that name and age may be removed (see the module docstring)."""
    return age_seconds >= older_than_seconds or _writer_gone(name)


@dataclass
class TempCleanup:
    """What a sweep found: removed orphans, and temp files kept because a writer may be live."""

    removed: list[str] = field(default_factory=list)
    removed_bytes: int = 0
    kept: list[str] = field(default_factory=list)

    def add(self, other: TempCleanup) -> None:
        self.removed += other.removed
        self.removed_bytes += other.removed_bytes
        self.kept += other.kept


def sweep_folder(
    directory: str, older_than_seconds: float = ORPHAN_AGE_SECONDS, dry_run: bool = False
) -> TempCleanup:
    """Remove the orphaned temp files directly in `directory` (not its subfolders)."""
    result = TempCleanup()
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return result
    for entry in entries:
        if not is_temp_name(entry.name):
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # renamed or removed meanwhile
        if not is_orphan(entry.name, now - stat.st_mtime, older_than_seconds):
            result.kept.append(entry.path)
            continue
        if not dry_run:
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
        result.removed.append(entry.path)
        result.removed_bytes += stat.st_size
    return result


def sweep_tree(
    root: str, older_than_seconds: float = ORPHAN_AGE_SECONDS, dry_run: bool = False
) -> TempCleanup:
    """`sweep_folder` over `root` and every folder below it."""
    result = TempCleanup()
    for directory, _, files in os.walk(root):
        if any(is_temp_name(name) for name in files):
            result.add(sweep_folder(directory, older_than_seconds, dry_run))
    return result
