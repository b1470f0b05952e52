"""``python -m catlib`` (the ``catlib`` command): ``tour`` (a short tour of a term, its
type and a run) and ``render`` (draw a term as a picture).

``catlib render MODULE:NAME [-o FILE.svg|.png|.dot] [--view diagram|tree|bytecode]
[--state-type T] [--input-type T] [--output-type T] [--engine dot|matplotlib] [--title TEXT]
[--limit N] [--timeout SECONDS]``
draws the term named NAME in MODULE: a `catlib.free.Term`, a `catlib.program.Program`
(drawn at its declared type), a function that builds a term from an instance
(called with `catlib.free.FREE`, as ``catlib.examples.generic:counter``), or,
for the bytecode view, `cam.code.Code`.
Without ``-o`` it prints DOT.  Pictures of any size: a term of more than
``--limit`` nodes is drawn folded (`catlib.folding`: repeated blocks as one
box, then the biggest parts), a bigger bytecode graph or syntax tree has its
long runs folded or its lower branches cut (`catlib.repeats`); ``--limit 0``
draws everything.  Graphviz gets ``--timeout`` seconds, then the matplotlib
fallback draws the picture.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any


def tour() -> None:
    """Print the seed's swap and counter (terms, types, runs in three models), then the integer primitives
    and the machines that compare and divide."""
    from catlib.examples.generic import counter, swap
    from catlib.free import FREE
    from catlib.instances import FUNCTIONS, MACHINES
    from catlib.interpreter import run, step
    from catlib.typecheck import infer
    from catlib.values import Left, Right

    term = swap(FREE)
    print("swap as a term:        ", term)
    print("its principal type:    ", infer(term))
    print("free + interpreter:    ", step(term, (1, 2), ())[1])
    print("Python functions:      ", swap(FUNCTIONS)((1, 2)))
    print("state machines:        ", swap(MACHINES)((1, 2), ())[1])
    c = counter(FREE)
    print()
    print("counter as a term:     ", c)
    print("its principal type:    ", infer(c))
    state, outputs = run(c, [Left(()), Left(()), Right(())], 0)
    print("incr, incr, count:     ", outputs, "final state", state)
    _tour_language()


def _tour_language() -> None:
    """The integer primitives, then the machines that use them: bank, thermostat, vending machine."""
    from catlib.examples import bank, thermostat, vending
    from catlib.examples.bank_by_addition import bank_by_addition
    from catlib.free import DivMod, Eq, Lt, Mul, Sub
    from catlib.interpreter import run, step
    from catlib.tree import walk
    from catlib.typecheck import infer

    print()
    for t in (Sub, Mul, Lt, Eq, DivMod):
        print(f"{t.op + ' (-7, 2):':<23} {step(t, (-7, 2), ())[1]!s:<16} {infer(t)}")
    print(f"{'DivMod (1, 0):':<23} {step(DivMod, (1, 0), ())[1]!s:<16} (a zero divisor)")
    print()
    nodes = sum(1 for _ in walk(bank.bank)), sum(1 for _ in walk(bank_by_addition()))
    print("bank (Sub, Lt):        ", nodes[0], "nodes,", infer(bank.bank))
    print("  from addition alone: ", nodes[1], "nodes, and it cannot refuse an overdraft")
    state, outputs = run(bank.bank, [bank.deposit(100), bank.withdraw(30), bank.withdraw(500), bank.BALANCE], 0)
    print("in 100, out 30, out 500, balance:", outputs, "final state", state)
    cmds = [thermostat.reading(180), thermostat.set_target(200), thermostat.reading(200)]
    print("thermostat, 19.0 to 20.0 degrees:", run(thermostat.thermostat, cmds, (190, 190))[1], "(Left () = HEAT)")
    cmds = [vending.insert(100), vending.BUY, vending.insert(170), vending.BUY]
    print("vending, 100c, buy, 170c, buy:  ", run(vending.vending, cmds, (0, 5))[1])


VIEWS = ("diagram", "tree", "bytecode")


class UsageError(Exception):
    """A bad MODULE:NAME or an object that cannot be drawn; the CLI prints it and exits 2."""


def load(spec: str) -> Any:
    """The object that ``MODULE:NAME`` names (NAME may be dotted)."""
    import importlib

    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise UsageError(f"expected MODULE:NAME (for example catlib.examples.generic:counter), not {spec!r}")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as e:
        raise UsageError(f"cannot import {module!r}: {e}") from None
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"{module!r} has no {name!r}") from None
    return obj


def graph_of(obj: Any, view: str, name: str, at: dict[str, str] | None = None, limit: int | None = None) -> Any:
    """The networkx graph to draw for `obj` in `view`, titled with `name` and its type.

    `at` declares some of ``state``, ``input``, ``output`` (type text) to draw
    the term at; by default a term is drawn at its principal type and a
    `catlib.program.Program` at its declared one.  Beyond `limit` nodes
    (`catlib.folding.FOLD_LIMIT` for a term, `catlib.repeats.RUN_LIMIT` for a
    graph, by default; 0 for no limit) the picture is folded.
    """
    from catlib.folding import FOLD_LIMIT, folded_diagram
    from catlib.free import FREE, Term
    from catlib.graph import syntax_tree
    from catlib.repeats import RUN_LIMIT
    from catlib.typecheck import TermTypeError
    from catlib.types import TypeParseError, as_type

    if view == "bytecode":
        from cam.code import Code
        from cam.compiler import CompileError, compile
        from cam.graph import bytecode

        if isinstance(getattr(obj, "term", None), Term):
            obj = obj.term
        if not isinstance(obj, (Term, Code)) and callable(obj):
            obj = obj(FREE)
        if isinstance(obj, Term):
            try:
                obj = compile(obj)
            except CompileError as e:
                raise UsageError(str(e)) from None
        if not isinstance(obj, Code):
            raise UsageError(f"{name} is a {type(obj).__name__}, not a term or bytecode")
        g = bytecode(obj, None if limit == 0 else RUN_LIMIT if limit is None else limit)  # folded as it is built
        g.graph["title"] = f"{name}: bytecode"
        return g
    declared: dict[str, Any] = {}
    if isinstance(getattr(obj, "term", None), Term):  # a catlib.program.Program: draw it at its declared type
        declared = {part: getattr(obj, part) for part in ("state", "input", "output")}
        obj = obj.term
    for part, text in (at or {}).items():
        try:
            declared[part] = as_type(text)
        except TypeParseError as e:
            raise UsageError(f"--{part}-type: {e}") from None
    if not isinstance(obj, Term) and callable(obj):
        try:
            obj = obj(FREE)
        except TypeError as e:
            raise UsageError(f"{name} is callable but not as {name}(FREE): {e}") from None
    if not isinstance(obj, Term):
        raise UsageError(f"{name} is a {type(obj).__name__}, not a term (catlib.free.Term)")
    try:
        if view == "tree":
            g = syntax_tree(obj, **declared, limit=None if limit == 0 else RUN_LIMIT if limit is None else limit)
            g.graph["title"] = f"{name} : {g.graph['signature']}"
            return g
        most = FOLD_LIMIT if limit is None else limit if limit > 0 else obj.size()
        d = folded_diagram(obj, **declared, limit=most)
    except TermTypeError as e:
        raise UsageError(f"{name} is ill-typed: {e}") from None
    d.graph.graph["title"] = f"{name} : {d.signature}"
    return d.graph


MAX_TIMEOUT = 86_400.0
"""The longest ``--timeout`` (a day): `subprocess.run` overflows from about 25 days on (its poll's milliseconds)."""


def _seconds(text: str) -> float:
    """``--timeout``'s argparse type: seconds, more than 0 and at most `MAX_TIMEOUT` (catlib does not import cam,
    whose `cam.cliargs.seconds` makes the same check for its waits)."""
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not 0 < x <= MAX_TIMEOUT:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected a number of seconds more than 0 and at most {MAX_TIMEOUT:,.0f}, "
                                         f"not {text!r}")
    return x


def render_command(argv: list[str]) -> int:
    """``catlib render``: see the module docstring."""
    import warnings

    from catlib.render import RenderError, RenderWarning, render, to_dot

    parser = argparse.ArgumentParser(prog="catlib render", description="Draw a term (or bytecode) as a picture.")
    parser.add_argument("spec", metavar="MODULE:NAME", help="e.g. catlib.examples.generic:counter")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="FILE.svg, FILE.png or FILE.dot (default: DOT on stdout)")
    parser.add_argument("--view", choices=VIEWS, default="diagram",
                        help="string diagram (default), syntax tree, or compiled bytecode")
    parser.add_argument("--engine", choices=("dot", "matplotlib"),
                        help="how to draw SVG/PNG (default: Graphviz's dot when installed, else matplotlib)")
    parser.add_argument("--title", help="the picture's title (default: NAME and its type)")
    for part in ("state", "input", "output"):
        parser.add_argument(f"--{part}-type", metavar="TYPE",
                            help=f"draw the term at this {part} type (default: its principal type)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="fold pictures of more than N nodes (default: 600 term nodes for a diagram, "
                             "400 graph nodes for bytecode and trees; 0: never fold)")
    parser.add_argument("--timeout", type=_seconds, metavar="SECONDS",
                        help="how long Graphviz may take before the fallback draws the picture (default: 30)")
    args = parser.parse_args(argv)
    if args.limit is not None and args.limit < 0:
        parser.error("--limit must be 0 (never fold) or more")
    try:
        obj = load(args.spec)
        at = {part: getattr(args, f"{part}_type") for part in ("state", "input", "output")
              if getattr(args, f"{part}_type")}
        g = graph_of(obj, args.view, args.spec.partition(":")[2], at, args.limit)
        if args.title is not None:
            g.graph["title"] = args.title
        if args.output is None:
            sys.stdout.write(to_dot(g))
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RenderWarning)
                used = render(g, args.output, engine=args.engine, timeout=args.timeout)
            for w in caught:
                print(f"catlib render: {w.message}", file=sys.stderr)
            folds = g.graph.get("folds")
            how = f", folded: {', '.join(f'{k} x{v}' for k, v in folds.items())}" if folds else ""
            print(f"wrote {args.output} ({args.view}, {used}{how})", file=sys.stderr)
    except (UsageError, RenderError) as e:
        print(f"catlib render: {e}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """``catlib tour`` or ``catlib render ...``; the exit status.  A reader that stops early (``| head``) ends
    it quietly."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        code = _command(argv)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not in the flush at exit
    except BrokenPipeError:  # the usual idiom (Python's documentation of SIGPIPE); catlib opens no other pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 1
    return code


def _command(argv: list[str]) -> int:
    if argv[:1] == ["render"]:
        return render_command(argv[1:])
    parser = argparse.ArgumentParser(prog="catlib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("tour", help="print a term, its type and runs")
    sub.add_parser("render", help="draw a term: catlib render MODULE:NAME [-o FILE] [--view ...]", add_help=False)
    args = parser.parse_args(argv)
    if args.command in (None, "tour"):
        tour()
    return 0


if __name__ == "__main__":
    sys.exit(main())
