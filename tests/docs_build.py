"""The documentation build the suite tests (`tests/test_docs.py`), started once per run.

A fresh ``sphinx -E -W`` build takes a minute or more of CPU, most of it
executing the tutorial notebooks.  So that it neither adds that minute to the
suite nor runs once per pytest-xdist worker, the controlling pytest process
starts it (`tests/conftest.py`, ``pytest_configure``) as soon as the run may
include `tests/test_docs.py`, in a subprocess that runs beside the tests, and
names its folder to the workers in ``HOTSWAP_DOCS_BUILD``; a thread of that
process writes the build's exit code to ``status`` in the folder when it ends.
The tests wait for that file (`wait`).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
TEST_FILE = Path(__file__).resolve().parent / "test_docs.py"
ENV = "HOTSWAP_DOCS_BUILD"
TIMEOUT = 900
"""Seconds the build may take (a shared, loaded 2-core machine)."""


def wanted(args: list[str]) -> bool:
    """Whether a run over `args` (pytest's paths, ``::`` selections allowed) may collect `tests/test_docs.py`."""
    for a in args:
        p = Path(a.split("::")[0]).resolve()
        if p == TEST_FILE or (p.is_dir() and p in TEST_FILE.parents):
            return True
    return False


def start() -> Path:
    """Start the build in the background; its folder (``html/``, ``build.log``, and ``status`` once it ended)."""
    out = Path(tempfile.mkdtemp(prefix="docs-build-"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(out / "build.log", "wb")  # noqa: SIM115 - closed when the process ends
    p = subprocess.Popen([sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q", "-b", "html",
                          "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
                         stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)

    def finish() -> None:
        code = p.wait()
        log.close()
        (out / "status.tmp").write_text(str(code))
        (out / "status.tmp").replace(out / "status")  # whole, or not there

    def stop() -> None:
        if p.poll() is None:
            p.kill()

    threading.Thread(target=finish, daemon=True).start()
    atexit.register(stop)
    return out


def wait(out: Path, timeout: float = TIMEOUT) -> tuple[int, str]:
    """Wait for the build in `out` to end: its exit code and the end of its log."""
    deadline = time.monotonic() + timeout
    status = out / "status"
    while not status.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the documentation build took more than {timeout:.0f} s")
        time.sleep(0.2)
    return int(status.read_text()), (out / "build.log").read_text(errors="replace")[-6000:]
