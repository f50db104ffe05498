"""Model factories for the batch tests, named as ``tests.batch_models:NAME`` specs."""

from __future__ import annotations

import os
import signal


def kills_its_process() -> None:
    """A spec whose import takes its process down (a crash in a native library looks the same)."""
    os.kill(os.getpid(), signal.SIGKILL)
