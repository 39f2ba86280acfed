"""CPU time of other processes (a database's backends, a uvicorn server), read from /proc.

Plain standard library: bench/ imports it, and so does code run in a rendered project's venv.
The scheduler's own count (schedstat, nanoseconds) is used, not /proc/PID/stat's clock ticks:
a round of a few hundred requests costs a database backend a few ticks at most.
"""

from pathlib import Path

PROC = Path("/proc")


def thread_seconds(pid: int) -> float:
    """The CPU time of every thread of one process so far; 0 once it has gone."""
    total = 0
    try:
        for task in (PROC / str(pid) / "task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total / 1e9


def children(pid: int) -> list[int]:
    """The process's children (uvicorn's workers when it runs more than one)."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name, in parentheses, may hold spaces: the fields after it are plain.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int], *, with_children: bool = False) -> float:
    """The CPU time so far of these processes together (and of their children, if asked)."""
    everyone = list(pids)
    if with_children:
        everyone += [child for pid in pids for child in children(pid)]
    return sum(thread_seconds(pid) for pid in everyone)
