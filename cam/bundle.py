"""One file to deploy: the node as a zipapp that runs with Python 3.11+ and nothing installed.

``python -m cam bundle -o node.pyz`` writes the `cam` and `catlib` packages'
Python sources and a ``__main__`` into one executable zip file (`zipapp`).
On a machine with only Python::

    python3 node.pyz node --code counter.cam --state 0 --data /var/lib/counter
    python3 node.pyz status --port 7700

The node's runtime (code, machine, verifier, node, server, store, auth) needs
only the standard library, and so does everything ``node.pyz`` runs for
``node``, ``send``, ``status`` and ``upgrade`` without ``--key`` (give the
code as text or a file: ``MODULE:NAME`` needs the module, and signing needs
`cryptography`, both on the operator's machine).  Commands that need
`hypothesis`, `sympy` or `networkx` (campaigns, proofs, pictures) are not
meant for a bundle: they fail with an `ImportError` naming the package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import zipapp
from pathlib import Path

__all__ = ["build", "main", "PACKAGES"]

PACKAGES = ("cam", "catlib")

_MAIN = '''import sys

if sys.version_info < (3, 11):
    sys.exit("this node needs Python 3.11 or newer, not " + sys.version.split()[0])
from cam.__main__ import main

sys.exit(main())
'''


def build(output: str, root: Path | None = None) -> int:
    """Write the zipapp to `output` (executable); its size in bytes.  `root`: where the packages are."""
    root = root or Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "app"
        for package in PACKAGES:
            for src in sorted((root / package).rglob("*.py")):
                if "__pycache__" in src.parts:
                    continue
                dst = stage / src.relative_to(root)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
        (stage / "__main__.py").write_text(_MAIN)
        zipapp.create_archive(stage, output, interpreter="/usr/bin/env python3", compressed=True)
    os.chmod(output, 0o755)
    return os.path.getsize(output)


def main(argv: list[str]) -> int:
    """``cam bundle -o node.pyz``: write the node as one file."""
    p = argparse.ArgumentParser(prog="cam bundle", description=(
        "Write a zipapp of the node (cam and catlib) that runs with Python 3.11+ and nothing installed: "
        "python3 node.pyz node --code FILE --state V --data DIR."))
    p.add_argument("-o", "--output", default="node.pyz", help="the file to write (default node.pyz)")
    a = p.parse_args(argv)
    try:
        size = build(a.output)
    except OSError as e:
        print(f"cam bundle: {e}", file=sys.stderr)
        return 2
    print(f"Wrote {a.output} ({size:,} bytes): python3 {a.output} node --code FILE --state V --data DIR")
    return 0
