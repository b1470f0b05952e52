"""The ``cam`` command: ``cam SUBCOMMAND [options]`` (also ``python -m cam``).

Each subcommand lives in its own module and is imported only when used.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:function taking argv, one-line help)
    "demo": ("cam.cli:demo", "run a node and the seed's upgrade session against it"),
    "node": ("cam.cli:node", "start a node running a machine"),
    "send": ("cam.cli:send", "send one input to a running node"),
    "upgrade": ("cam.cli:upgrade", "upgrade a running node"),
    "rollback": ("cam.cli:rollback", "reinstall a node's previous version"),
    "make-permanent": ("cam.cli:make_permanent", "end the probation of a node's running version"),
    "release": ("cam.release:main", "upgrade the nodes of a release file: check, apply (two phases, or --rolling)"),
    "status": ("cam.cli:status", "show a node's status (--code: the running code's text)"),
    "keygen": ("cam.auth:main", "write an Ed25519 key pair NAME.key / NAME.pub for signed upgrades"),
    "bundle": ("cam.bundle:main", "write the node as one file (a zipapp) that needs only Python"),
    "check": ("cam.check:main", "random-term campaign: interpreter vs compiled machine"),
    "verify": ("cam.cli:verify", "type-check bytecode (FILE), or fuzz the verifier (--fuzz N)"),
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the subcommand named by the first argument."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help") or args[0] not in SUBCOMMANDS:
        width = max(map(len, SUBCOMMANDS))
        lines = [f"  {name:<{width}}  {help}" for name, (_, help) in SUBCOMMANDS.items()]
        out = sys.stdout if not args or args[0] in ("-h", "--help") else sys.stderr
        if args and args[0] not in ("-h", "--help"):
            print(f"cam: unknown command {args[0]!r}", file=out)
        print("usage: cam COMMAND [options]\n\ncommands:\n" + "\n".join(lines), file=out)
        return 0 if out is sys.stdout else 2
    target, _ = SUBCOMMANDS[args[0]]
    module, function = target.split(":")
    result = getattr(importlib.import_module(module), function)(args[1:])
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
