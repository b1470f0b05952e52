"""How fast terms become pictures, against type inference of the same term.

    python -m benchmarks.render [--size 10000] [--rounds 5] [--svg-size 300] [--quick]

Workload: a chain of random ``Int / Int -> Int`` terms (cases, pairs,
effects, constants: `Generator.seeded(7)`, fuel 25 each) composed until it
has `--size` nodes.  Rows:

- ``infer``: `catlib.typecheck.infer`, the baseline: one pass over the term;
- ``syntax tree``: `catlib.graph.syntax_tree` (inference with every subterm's type);
- ``diagram``: `catlib.graph.diagram` (inference, then interpreting the term in
  the graph category);
- ``diagram DOT``: the diagram's DOT text;
- ``bytecode graph``: `cam.graph.bytecode` of the compiled term;
- ``dot -Tsvg`` (when Graphviz is installed) and ``matplotlib SVG``: the
  diagram of a `--svg-size`-node term drawn (Graphviz's layout is superlinear,
  so pictures are for terms people look at);
- pictures of any size: the bank account built from addition alone
  (`additive_bank`, negation as a 63-step doubling chain, about 1,700 nodes)
  drawn as ``catlib render`` draws it, folded (`catlib.folding`,
  `catlib.repeats`): ``folded diagram SVG`` and ``folded bytecode SVG``, each
  from the term to the SVG text, Graphviz's time included (its limit:
  `catlib.render.DOT_TIMEOUT`).  Unfolded, Graphviz took minutes on it.

The contenders take turns over `--rounds` rounds (`benchmarks.interleave`);
each prints its min and median and its ratio to ``infer`` (the pictures:
to ``matplotlib SVG``) in the same rounds.  ``--quick``: 3,000 nodes, pictures of 120, 3 rounds.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from benchmarks import interleave, load, table
from cam.compiler import compile
from cam.graph import bytecode
from catlib.folding import folded_diagram
from catlib.free import Compose, Id, Term
from catlib.graph import diagram, syntax_tree
from catlib.render import have_dot, to_dot, to_svg
from catlib.repeats import RUN_LIMIT
from catlib.strategies import Generator
from catlib.syntax import Port, box, kase, pair, pget, pput, sm, unit
from catlib.typecheck import infer
from catlib.types import Int


def chain(size: int, seed: int = 7) -> Term:
    """Random ``Int -> Int`` terms composed until the chain has `size` nodes."""
    gen = Generator.seeded(seed)
    term: Term = Id
    while term.size() < size:
        term = Compose(gen.term(Int, Int, Int, 25), term)
    return term


def _doubling(p: Port) -> Port:
    """``(acc, d) -> (acc + d, d + d)``."""
    acc, d = p
    return pair(acc + d, d + d)


def _negate(k: Port) -> Port:
    """``-k`` from addition alone: k + 2k + 4k + ... + 2**63 k = (2**64 - 1) k, which wraps to -k."""
    p = pair(k, k + k)
    for _ in range(63):
        p = box(_doubling, p)
    return p[0]


def additive_bank() -> Term:
    """The bank account of issue 13 built from `Add` alone: ``Int / Either Int (Either Int ()) -> Int``.

    Deposit adds, withdraw adds the amount negated by a 63-step doubling
    chain (it cannot refuse anything), balance reads; each answers the balance.

    >>> from catlib.interpreter import run
    >>> from catlib.examples.bank import BALANCE, deposit, withdraw
    >>> run(additive_bank(), [deposit(100), withdraw(30), BALANCE], 0)
    (70, [100, 70, 70])
    """
    @sm
    def bank(cmd: Port) -> Port:
        def take_out(k: Port) -> Port:
            return pput(pget(unit) + box(_negate, k)) >> pget(unit)

        return kase(lambda k: pput(pget(unit) + k) >> pget(unit),
                    lambda c: kase(take_out, lambda _: pget(unit), c), cmd)

    return bank


ADDITIVE_BANK = additive_bank()
"""The machine itself (``catlib render benchmarks.render:ADDITIVE_BANK`` draws it)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--svg-size", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="3,000 nodes, pictures of 120, 3 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.svg_size, args.rounds = min(args.size, 3_000), min(args.svg_size, 120), 3
    term = chain(args.size)
    small = chain(args.svg_size, seed=8)
    d = diagram(term)
    code = compile(term)
    contenders: dict[str, Callable[[], object]] = {
        "infer": lambda: infer(term),
        "syntax tree": lambda: syntax_tree(term),
        "diagram": lambda: diagram(term),
        "diagram DOT": lambda: to_dot(d.graph),
        "bytecode graph": lambda: bytecode(code),
    }
    print(f"term: {term.size()} nodes; diagram: {d.graph.number_of_nodes()} nodes, "
          f"{d.graph.number_of_edges()} wires; bytecode: {len(code)} top-level instructions; {args.rounds} rounds; "
          f"{load()}")
    print(table(interleave(contenders, args.rounds), "infer"))
    sd = diagram(small).graph
    print(f"\npictures of a {small.size()}-node term ({sd.number_of_nodes()} diagram nodes):")
    pictures: dict[str, Callable[[], object]] = {"matplotlib SVG": lambda: to_svg(sd, "matplotlib")}
    if have_dot():
        pictures["dot -Tsvg"] = lambda: to_svg(sd, "dot")
    else:
        print("(Graphviz's dot is not installed: its row is left out)")
    print(table(interleave(pictures, args.rounds), "matplotlib SVG"))
    big = additive_bank()
    print(f"\npictures of any size: the addition-only bank, {big.size():,} term nodes "
          f"({diagram(big).graph.number_of_nodes()} diagram nodes unfolded):")
    folded = {"folded diagram SVG": lambda: to_svg(folded_diagram(big).graph),
              "folded bytecode SVG": lambda: to_svg(bytecode(compile(big), RUN_LIMIT))}
    print(table(interleave(folded, min(args.rounds, 3)), "folded diagram SVG"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
