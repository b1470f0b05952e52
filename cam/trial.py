"""One check of a campaign (`cam.check`): a trial made from a seed, and whether machine and interpreter agree on it.

A trial is a well-typed term with an input and a state of the right types
(`make_case`: term `i` of campaign `seed`).  The check::

    (quote(s'), quote(y)) == machine.step(compile(f), quote(x), quote(s))   where (s', y) = step(f, x, s)

(`quote` is `cam.compiler.compile_value`, which also compiles closures.)
Campaign terms run once, so most skip the code's bytes: the term is
compiled straight to the machine's decoded form
(`cam.compiler.compile_decoded`), run on the checked loop
(`cam.machine.run_decoded`) from host values (a closure's code made as
``CURRY`` makes it), and the results compared with the interpreter's,
value by value (a closure's code and environment).  Two terms in
`CODE_EVERY` (`on_code`: one with functions in its signature, one
without) also go the whole way above, and the decoded form must be what
the machine decodes from the code (`same_blocks`): the fast path is
checked against the reference one as the campaign runs.

>>> from catlib.free import Add, Copy
>>> from catlib.typecheck import Signature
>>> from catlib.types import Int, Unit
>>> disagreement(Trial(Add << Copy, Signature(Unit, Int, Int), 3, ()))  # None: they agree
"""

from __future__ import annotations

import functools
import hashlib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cam import compiler, machine
from cam.code import Value, to_text
from cam.compiler import compile_value as quote
from cam.decoded import Block, Clo, InL, InR, decode, outside, to_internal
from catlib import interpreter
from catlib.free import Curry, Term
from catlib.plans import seeded_choose
from catlib.strategies import Generator
from catlib.typecheck import Signature
from catlib.values import Curried, Left, Right

__all__ = ["Trial", "term_seed", "make_case", "FUNCTIONS_EVERY", "CODE_EVERY", "on_code", "Disagreement",
           "disagreement", "same_blocks"]


def term_seed(seed: int, index: int) -> int:
    """The generator seed of term `index` of campaign `seed` (stable across Python versions and runs)."""
    return int.from_bytes(hashlib.sha256(f"cam.check:{seed}:{index}".encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Trial:
    """One check: a well-typed term, its signature, an input and a state (host values)."""

    term: Term
    signature: Signature
    input: Any
    state: Any


FUNCTIONS_EVERY = 8
"""One campaign term in this many has function types in its signature (`catlib.strategies.Generator`'s
``functions``); every term may build and apply closures inside."""

CODE_EVERY = 32
"""Two campaign terms in this many (`on_code`) are also checked through their code."""


def on_code(index: int) -> bool:
    """Whether term `index` of a campaign is checked through its code as well (``disagreement(full=True)``):
    one term with functions in its signature (`FUNCTIONS_EVERY` divides `CODE_EVERY`) and the next."""
    return index % CODE_EVERY < 2


def make_case(seed: int, index: int, max_size: int, fuel: int | None = None) -> Trial:
    """Term `index` of campaign `seed`; `fuel` overrides the drawn size (for shrinking)."""
    # every eighth term has function types in its signature (closures as input, output, state): they cost
    # more to generate and run, and the campaign's rate is kept within 10% of the first-order one
    gen, reseed = _seeded(index % FUNCTIONS_EVERY == 0, threading.get_ident())
    reseed(term_seed(seed, index))
    s, a, b = gen.type(), gen.type(), gen.type()
    drawn = gen.choose(0, max_size)
    f = gen.term(s, a, b, drawn if fuel is None else fuel)
    return Trial(f, Signature(s, a, b), gen.value(a), gen.value(s))


@functools.cache
def _seeded(functions: bool, thread: int) -> tuple[Generator, Callable[[int], None]]:
    """``Generator.seeded(seed, functions=functions)`` for any seed, one per thread (Dask's workers check
    chunks in threads at once): the generator, and what puts its `random.Random` in the state
    ``Random(seed)`` starts in (the C seeding, without the Python layer on top, which only also resets
    ``gauss``'s cache).  A generator holds nothing of the terms it made but caches, so one serves every
    term; making a generator and a `Random` per term cost 6% of generation."""
    rng = random.Random()
    return Generator(seeded_choose(rng), functions=functions), super(random.Random, rng).seed


@dataclass
class Disagreement:
    """Both sides of a check that failed, as text: the interpreter's (quoted) and the machine's."""

    expected: str
    got: str


def _side(state: Value, output: Value) -> str:
    return f"state {to_text(state)}, output {to_text(output)}"


def _raised(e: Exception) -> str:
    return f"raised {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def disagreement(case: Trial, full: bool = True) -> Disagreement | None:
    """None when machine and interpreter agree on `case`; otherwise both results in text form.

    Checked in decoded form and, with `full`, also through the code (see
    the module's doc).  An exception on either side counts as a disagreement (the terms
    are well typed, so neither may fail).
    """
    expected: tuple[Any, Any] | None = None
    expected_text = ""
    try:
        expected = interpreter.step(case.term, case.input, case.state)
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        expected_text = f"raised {type(e).__name__}: {e}"
    got_text, block = _direct(case, expected)
    if got_text is not None or full:  # (a failure is shown as the code gave it: closures with their code)
        got_text = _on_code(case, expected, block) or got_text
    if got_text is None and expected is not None:
        return None
    if expected is not None:
        try:
            expected_text = _side(quote(expected[0]), quote(expected[1]))
        except Exception as e:  # noqa: BLE001
            expected_text = f"raised {type(e).__name__}: {e}"
    return Disagreement(expected_text, got_text or "(agrees)")


def _direct(case: Trial, expected: tuple[Any, Any] | None) -> tuple[str | None, Block | None]:
    """None when the term's decoded form, run from the host values, gives `expected`; else what it gave.
    With the decoded form, when compiling made one (`_on_code` compares it with the code's)."""
    block = None
    try:
        block = compiler.compile_decoded(case.term)
        acc, reg, _ = machine.run_decoded(block, to_internal(case.input, decode, _closure_code),
                                          to_internal(case.state, decode, _closure_code))
    except Exception as e:  # noqa: BLE001
        return _raised(e), block
    if expected is not None and _agrees(expected[0], reg) and _agrees(expected[1], acc):
        return None, block
    return _side(outside(reg), outside(acc)), block  # type: ignore[arg-type]  # results, never continuations


def _on_code(case: Trial, expected: tuple[Any, Any] | None, block: Block | None) -> str | None:
    """None when the term's code, run on quoted values, gives `expected` quoted, and its decoded form
    (`block`, or compiled again where `_direct` could not) is the decoding of that code; else what the
    machine gave."""
    try:
        code = compiler.compile(case.term)
        got = machine.step(code, quote(case.input), quote(case.state))
    except Exception as e:  # noqa: BLE001
        return _raised(e)
    try:
        want = None if expected is None else (quote(expected[0]), quote(expected[1]))
    except Exception:  # noqa: BLE001 - the interpreter's answer is no host value: a disagreement
        want = None
    if want is not None and got == want:
        try:
            if same_blocks(block if block is not None else compiler.compile_decoded(case.term), decode(code)):
                return None
            return f"{_side(*got)}; but its decoded form differs from the decoding of its code {to_text(code)}"
        except Exception as e:  # noqa: BLE001
            return f"{_side(*got)}; but compile_decoded {_raised(e)}"
    return _side(*got)


def _closure_code(body: Term) -> Block:
    """The code of a closure whose body is `body`, decoded: what ``CURRY`` makes a closure of, as
    `cam.compiler.compile_value` does (``compile(body) ++ [RETURN]``)."""
    return compiler.compile_decoded(Curry(body))[0][1]


def _agrees(host: Any, inside: Any) -> bool:
    """Whether the machine's internal value `inside` is the host value `host`: as strict as quoting `host`
    and comparing, without making either's public form."""
    if type(host) is int:  # (most results: no stack)
        return type(inside) is int and inside == host
    todo = [(host, inside)]
    while todo:
        h, x = todo.pop()
        t = type(h)
        if t is int:
            if type(x) is not int or x != h:
                return False
        elif t is tuple and not h:
            if x is not None:
                return False
        elif t is tuple and len(h) == 2:
            if type(x) is not tuple:
                return False
            todo += [(h[0], x[0]), (h[1], x[1])]
        elif (t is Left and type(x) is InL) or (t is Right and type(x) is InR):
            todo.append((h.value, x.v))
        elif t is Curried and type(x) is Clo:
            if not isinstance(h.body, Term) or not same_blocks(_closure_code(h.body), x.block):
                return False
            todo.append((h.env, x.env))
        else:
            return False
    return True


def same_blocks(a: Block, b: Block) -> bool:
    """Whether two decoded codes hold the same instructions, nested blocks included (without recursion)."""
    todo = [(a, b)]
    while todo:
        x, y = todo.pop()
        if len(x) != len(y):
            return False
        for (op, arg), (op2, arg2) in zip(x, y):
            if op != op2 or type(arg) is not type(arg2):
                return False
            if isinstance(arg, Block):
                todo.append((arg, arg2))
            elif type(arg) is tuple and arg and isinstance(arg[0], Block):  # BRANCH's two blocks
                todo += [(arg[0], arg2[0]), (arg[1], arg2[1])]
            elif arg != arg2:
                return False
    return True
