"""What `cam.compiler`'s fold builds (`Form`): code of instructions (`CODE`), or the blocks of ``(opcode,
operand)`` the machine decodes it to (`DECODED`, made without the code: `cam.compiler.compile_decoded`).

>>> from cam.code import ADD, QUOTE, IntV
>>> CODE.quote(3) == QUOTE(IntV(3)) and DECODED.run((ADD,)) == ((OPCODE["ADD"], None),)
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

from cam.code import BRANCH, CURRY, OPCODE, QUOTE, Code, Instr, IntV
from cam.decoded import Block, decode
from catlib.values import INT_MAX, INT_MIN

__all__ = ["Form", "CODE", "DECODED"]


def _quote(k: int) -> Instr:
    """``QUOTE (Int k)``, shared between uses (instructions are immutable)."""
    if type(k) is not int:  # not cached: let `IntV` judge it
        return QUOTE(IntV(k))
    return _quote_int(k)


@functools.lru_cache(maxsize=10_000)
def _quote_int(k: int) -> Instr:
    """``QUOTE (Int k)`` for an `int` `k`, memoised (tests/conftest.py empties it before each test)."""
    return QUOTE(IntV(k))


class Form(NamedTuple):
    """What `cam.compiler.instantiate` builds, as functions: of a run of a template's instructions, a new
    block, ``QUOTE (Int k)``, a CURRY of a body, a BRANCH of two blocks, and the result of the root block."""

    run: Callable[[tuple[Instr, ...]], tuple[Any, ...]]
    block: Callable[[], list[Any]]
    quote: Callable[[int], Any]
    curry: Callable[[list[Any]], Any]
    branch: Callable[[list[Any], list[Any]], Any]
    done: Callable[[list[Any]], Any]


_QUOTE_OP, _CURRY_OP, _BRANCH_OP = OPCODE["QUOTE"], OPCODE["CURRY"], OPCODE["BRANCH"]
_NO_CODE = Code.of(())


@functools.cache
def _decoded(instr: Instr) -> tuple[int, Any]:
    """`instr` as the decoder makes it (a template's instructions are few: each is decoded once)."""
    return decode(Code.of((instr,)))[0]


CODE = Form(lambda run: run, list, lambda k: _quote(k), lambda body: CURRY(Code.of(body)),
            lambda c, d: BRANCH(Code.of(c), Code.of(d)), Code.of)
DECODED = Form(lambda run: tuple(map(_decoded, run)), lambda: Block(_NO_CODE),
               lambda k: (_QUOTE_OP, k) if type(k) is int and INT_MIN <= k <= INT_MAX  # (what decoding gives)
               else (_QUOTE_OP, _quote(k).kids[0].label), lambda body: (_CURRY_OP, body),
               lambda c, d: (_BRANCH_OP, (c, d)), lambda root: root)
"""Code of `Instr`\\ s, or the blocks of ``(opcode, operand)`` that `cam.decoded.decode` makes of it."""
