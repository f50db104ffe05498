"""``python -m trtready.cli.jailed REQUEST ARGS…``: the jailed child (``trtready.jail``) running the CLI.

The jail confines the process first, then runs the CLI on ARGS. Started as a new interpreter, the child
imports the CLI only once confined; forked from the CLI's front process, it already holds the CLI's
modules (imported there, from the installation, before any model byte was read).
"""

from __future__ import annotations

import sys
from typing import Any

from trtready import jail


def _cli(args: list[str]) -> Any:
    from trtready.cli.main import main  # after the confinement: nothing of the CLI loads unconfined

    return main(args)


if __name__ == "__main__":
    jail.child_main(sys.argv[1:], _cli)
