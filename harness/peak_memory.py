"""Run a command and write its exit code and peak memory: ``python -m harness.peak_memory OUT -- COMMAND...``.

The peak is ``ru_maxrss`` of ``os.wait4`` on the command's process. It is measured here, in a small process of its
own, because Linux counts into a child's ``ru_maxrss`` the high-water mark of the memory it was forked from: started
straight from the ``ocpp-conformance chaos`` process, every run would weigh at least what that process ever held
(the results it read back included). OUT gets ``{"returncode": N, "maxrss_kib": K}``; this process exits with the
command's status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m harness.peak_memory OUT -- COMMAND...", file=sys.stderr)
        return 2
    process = subprocess.Popen(argv[2:])
    _, status, usage = os.wait4(process.pid, 0)
    returncode = process.returncode = os.waitstatus_to_exitcode(status)
    Path(argv[0]).write_text(json.dumps({"returncode": returncode, "maxrss_kib": usage.ru_maxrss}), encoding="utf-8")
    return returncode if returncode >= 0 else 128 - returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
