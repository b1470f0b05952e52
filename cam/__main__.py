"""The ``cam`` command: ``cam SUBCOMMAND [options]`` (also ``python -m cam``).

Each subcommand lives in its own module and is imported only when used.
"""

from __future__ import annotations

import importlib
import os
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:function taking argv, one-line help)
    "demo": ("cam.demo:demo", "run a node and the seed's upgrade session against it"),
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


DISTRIBUTION = "hotswap-cat"
"""The installed distribution whose version ``cam --version`` prints (pyproject.toml's ``[project] name``)."""


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the subcommand named by the first argument.  Usage on stderr and 2 without one (as argparse
    does for a missing argument); usage on stdout and 0 for ``-h``; the version for ``--version``."""
    args = sys.argv[1:] if argv is None else argv
    try:
        code = _dispatch(args)
        sys.stdout.flush()  # a reader that stopped early (`| head`) shows here, inside the handler
    except BrokenPipeError:
        if not quiet_broken_pipe():
            raise  # a socket's, not stdout's: an error to show
        return 1
    return code


def quiet_broken_pipe() -> bool:
    """After a `BrokenPipeError`: if stdout's reader stopped (``| head``), point stdout at the null device, so
    that the interpreter's flush at exit neither fails nor prints a traceback (the usual idiom, from Python's
    documentation of SIGPIPE; the exit status is then 1), and return True.  False if stdout still has its
    reader: the broken pipe was another's (a node's connection), an error this must not hide."""
    if not _stdout_gone():
        return False
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return True


def _stdout_gone() -> bool:
    """Whether stdout's reader has gone: what failed to go out is still held and fails again, or the pipe
    reports an error (poll's POLLERR: no reader).  Without `select.poll` (Windows) it cannot tell: True, as the
    usual idiom assumes; a stdout with no file descriptor (a StringIO) is no pipe: False."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    try:
        import select

        p = select.poll()
        p.register(fd, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in p.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll
        return True


def version() -> str:
    """The installed distribution's version, or a sentence saying it is not installed (a bare checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed(DISTRIBUTION)
    except PackageNotFoundError:
        return f"unknown ({DISTRIBUTION} is not installed)"


def _dispatch(args: list[str]) -> int:
    if args[:1] == ["--version"]:
        print(f"cam ({DISTRIBUTION}) {version()}")
        return 0
    if not args or args[0] in ("-h", "--help") or args[0] not in SUBCOMMANDS:
        width = max(map(len, SUBCOMMANDS))
        lines = [f"  {name:<{width}}  {help}" for name, (_, help) in SUBCOMMANDS.items()]
        asked = args[:1] in (["-h"], ["--help"])
        out = sys.stdout if asked else sys.stderr
        if not args:
            print("cam: a command is needed", file=out)
        elif not asked:
            print(f"cam: unknown command {args[0]!r}", file=out)
        print("usage: cam [--version] COMMAND [options]\n\ncommands:\n" + "\n".join(lines), file=out)
        return 0 if asked else 2
    target, _ = SUBCOMMANDS[args[0]]
    module, function = target.split(":")
    result = getattr(importlib.import_module(module), function)(args[1:])
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
