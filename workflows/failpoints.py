"""Fault injection for crash tests: ``DATASURFACE_FAILPOINT=<name>`` kills the job at that point.

The job calls ``reached(name)`` at every phase boundary and inside transactions; when the
variable names that point, the process sends itself SIGKILL, as an OOM kill or a node loss
would: no cleanup runs, open transactions are rolled back by the server. Unset (always, in
production), a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

FAILPOINT_ENV = "DATASURFACE_FAILPOINT"


def reached(name: str) -> None:
    if os.environ.get(FAILPOINT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
