"""``cam demo``: the seed's two-terminal session in one command (the README's main job)."""

from __future__ import annotations

import argparse
import sys

from cam.text import parse_value

__all__ = ["demo"]


def demo(argv: list[str]) -> int:
    """``cam demo``: the seed's two-terminal session in one command.

    Starts a node running the seed's counter on a free loopback port (in this
    process), then runs the seed's REPL session against it over TCP: incr,
    count, the upgrade to version 2, incr, incr, count, and the same upgrade
    again, which the node refuses.  The node's lines go to stdout (they are
    the seed's transcript); the session's commands go to stderr.
    """
    from cam.client import Client, NodeError
    from cam.node import Node
    from cam.server import banner, printer, start_in_thread
    from catlib.examples.counter import counter_sm, counter_sm2, upgrade_state

    p = argparse.ArgumentParser(prog="cam demo", description=demo.__doc__)
    p.add_argument("--quiet", action="store_true", help="do not echo the client's commands (on stderr)")
    a = p.parse_args(argv)

    def say(command: str) -> None:
        transcript.flush()  # the node prints an event once its answer is written: the last one first
        if not a.quiet:
            print(f">>> {command}", file=sys.stderr, flush=True)

    from cam.client import as_code

    transcript = printer()
    the_node = Node(as_code(counter_sm), parse_value("Int 0"), name="catlib.examples.counter:counter_sm",
                    emit=transcript)
    ok = True
    with start_in_thread(the_node) as running:
        print("\n".join(banner(the_node, running.server)), flush=True)
        with Client(running.host, running.port) as c:
            session = [("incr()", "L Unit"), ("count()", "R Unit")]
            for command, value in session:
                say(command)
                c.do(value)
            u = (counter_sm, counter_sm2, upgrade_state)  # terms: catlib.program.Upgrade's fields are Programs
            say("upgrade(Upgrade(counter_sm, counter_sm2, upgrade_state))")
            c.upgrade(*u)
            for command, value in [("incr()", "L Unit"), ("incr()", "L Unit"), ("count()", "R Unit")]:
                say(command)
                c.do(value)
            say("upgrade(Upgrade(counter_sm, counter_sm2, upgrade_state))")
            try:
                c.upgrade(*u)
                ok = False
            except NodeError as e:
                ok = ok and e.kind == "wrong_version"
                if not a.quiet:
                    transcript.flush()
                    print(f"    refused: {e.kind}", file=sys.stderr, flush=True)
            final = c.status()
            ok = ok and final["state"] == "Pair (Int 1) (Int 2)" and final["upgrades"] == 1
    transcript.flush()
    return 0 if ok else 1
