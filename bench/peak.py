"""Wall time and peak memory of one whole command, as a user runs it.

The figures issue-style targets are stated in ("`kdigits submit --model best` in ≤ 60
minutes, ≤ 3 GiB") are about the user's command end to end: imports, loading, every member,
prediction and the files written. This runs that command as a child process and records its
wall seconds and the largest resident set of any process it waited for (``ru_maxrss`` of
RUSAGE_CHILDREN: the peak of the biggest one, not their sum, which for kdigits' one-process
commands is the command's own peak).

    python bench/peak.py RESULT.json -- kdigits submit --model best

Writes RESULT.json with the command, exit status, wall seconds, peak RSS (MiB), the machine
and the start time; the command's own output passes through. Exits with the command's status.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1 or len(argv) < 3:
        print("usage: python bench/peak.py RESULT.json -- COMMAND [ARGS…]", file=sys.stderr)
        return 2
    result, command = Path(argv[0]), argv[2:]
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    clock = time.perf_counter()
    try:
        status = subprocess.run(command).returncode
    except KeyboardInterrupt:
        status = 130
    wall = time.perf_counter() - clock
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    record = {"command": command, "returncode": status, "wall_s": round(wall, 1),
              "peak_rss_mib": round(peak_kib / 1024), "started": started,
              "machine": {"cpus": os.cpu_count(), "processor": platform.processor(),
                          "python": platform.python_version()}}
    scratch = result.with_name(f".{result.name}.tmp")
    scratch.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(scratch, result)
    print(f"{' '.join(command)}: exit {status}, {wall:.1f} s wall, "
          f"peak RSS {record['peak_rss_mib']} MiB", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
