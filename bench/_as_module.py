"""`python bench/<name>.py`, a script run by its path: start it again as `python -m bench.<name>`.

The bench scripts import the project as packages (`bench._common`, `dev`, `portal`), which needs the repository root
on the import path; `python -m bench.<name>` from the root, the documented form, has it. A script run by its path
has bench/ there instead, which is how it finds this module (imported by that bare name, at the top of each script):
this replaces the process with the `-m` form, the same arguments and working directory, and the root on PYTHONPATH.
`-P` keeps the working directory off the import path, so that bench/sync.py never stands in for the `sync` app.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn


def rerun(script: str) -> NoReturn:
    path = Path(script).resolve()
    root = str(path.parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    argv = [sys.executable, "-P", "-m", f"bench.{path.stem}", *sys.argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)  # noqa: S606 - the same interpreter, no shell
