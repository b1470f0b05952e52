"""Fuzzing the verifier: random, mutated and compiled bytecode, checked for soundness.

Verified code, run on inputs and a state of its types, must halt without
getting stuck and return values of its types ("well-typed code does not go
wrong").  `CodeFuzzer` makes code that often verifies -- compiled terms in
equivalent variants using ``PUSH``, ``ROT``, ``CURRY`` and ``APP``, random
instruction sequences, mutants, repaired code -- and random values of a
type; `run_verified` runs verified code and raises `Unsound` on any
violation -- getting stuck, ill-typed results, or not halting within the
step bound, since verified code always halts; `campaign` counts a long run
(``python -m cam verify --fuzz N``).

The instructions beyond the reference (``SUB``, ``MUL``, ``LT``, ``EQ``,
``DIVMOD``) are fuzzed like the others: terms using `catlib.free.Sub` ...
compile to them, random and mutated code draws them from the whole table,
and an ``Int`` value is one of the boundaries (``INT_MIN``, ``INT_MAX``,
``-1``, ``0``, ``1``) a tenth of the time, so that ``DIVMOD`` by zero and
``INT_MIN / -1``, and overflowing ``SUB`` and ``MUL``, are run.  `campaign`
counts the accepted cases that use each of them.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, cast

from cam import code as C
from cam.code import OPS, REFERENCE_OPS, Closure, Code, Instr, IntV, L, Pair, R, UnitV, Value, to_text
from cam.compiler import DISTR_CODE, compile
from cam.machine import OutOfFuel, Stuck, step
from cam.verifier import BytecodeError, ValueTypeError, check_value, verify
from catlib import types as T
from catlib.free import Case, Compose, Const, Curry, Par, Prim, Snd
from catlib.strategies import Generator
from catlib.tree import fold, walk
from catlib.typecheck import Signature
from catlib.values import INT_MAX, INT_MIN

FUEL = 1_000_000
"""Step bound for running fuzzed code (verified code halts; the bound only guards the campaign)."""

BOUNDARIES = (INT_MIN, INT_MAX, -1, 0, 1)
"""Integers where the arithmetic instructions wrap, divide by zero or compare at the ends."""

EXTENDED = tuple(op for op in OPS if op not in REFERENCE_OPS)
"""The instructions beyond the reference's 21, which `campaign` counts separately."""


class Unsound(AssertionError):
    """Verified code went wrong on well-typed inputs: a verifier bug (with the case to reproduce it)."""


class CodeFuzzer:
    """Random bytecode that often verifies, and random values of a type, from one `random.Random`.

    * `variant` compiles a term with randomly chosen equivalent code schemes
      that use ``PUSH``, ``ROT``, ``CURRY``, ``APP`` and ``QUOTE``d closures;
    * `random_code` draws instructions at random (most of it is rejected);
    * `mutate` drops, duplicates, swaps, replaces or inserts instructions, or
      changes a ``QUOTE``d value;
    * `repair` edits random code where `verify` rejects it, so that more of
      it verifies without being shaped by hand.
    """

    def __init__(self, seed: int | Any) -> None:

        self.rng = seed if isinstance(seed, random.Random) else random.Random(seed)
        self.gen = Generator(self.rng.randint)

    # ------------------------------------------------ terms and their code

    def term(self, max_size: int = 12) -> tuple[Any, Signature]:
        """A random well-typed term (no `Embed`) and its ground signature."""
        g = self.gen
        s, a, b = g.type(), g.type(), g.type()
        if self.rng.randrange(2):  # inputs of sum type half of the time, for more Case and BRANCH
            a = T.Sum(g.type(1), g.type(1))
        return g.term(s, a, b, self.rng.randint(0, max_size)), Signature(s, a, b)

    def variant(self, term: Any, wrap: float = 0.15) -> Code:
        """Code for `term` with randomly chosen, equivalent schemes (see the class docstring)."""
        rng = self.rng
        blocks: list[list[Instr]] = [[]]
        todo: list[tuple[str, Any]] = [("term", term)]

        def seq(*items: Any) -> None:  # push in reverse: the todo list is a stack
            for x in reversed(items):
                todo.append(x if isinstance(x, tuple) else ("emit", x))

        while todo:
            kind, x = todo.pop()
            if kind == "emit":
                blocks[-1].append(x)
            elif kind == "open":
                blocks.append([])
            elif kind == "branch":
                d, c = blocks.pop(), blocks.pop()
                blocks[-1].append(C.BRANCH(Code(c), Code(d)))
            elif kind == "curry":
                body = Code(blocks.pop())
                blocks[-1].append(C.CURRY(body))
            elif kind == "quote":
                body = Code(blocks.pop())
                blocks[-1].append(C.QUOTE(Closure(body, UnitV)))
            elif kind == "term" and rng.random() < wrap:
                raw = ("raw", x)
                k = rng.randrange(3)
                if k == 0:  # apply a closure of x to the accumulator
                    seq(C.PUSH, ("open", None), C.SND, raw, C.RETURN, ("curry", None), C.SWAP, C.CONS, C.APP)
                elif k == 1:  # the same with a QUOTEd closure
                    seq(C.PUSH, ("open", None), C.SND, raw, C.RETURN, ("quote", None), C.SWAP, C.CONS, C.APP)
                else:  # close over the accumulator, apply to ()
                    seq(("open", None), C.FST, raw, C.RETURN, ("curry", None), C.PUSH, C.CONSUME, C.CONS, C.APP)
            elif isinstance(x, Compose):
                seq(("term", x.f), ("term", x.g))
            elif isinstance(x, Par):
                f, g = ("term", x.f), ("term", x.g)
                k = rng.randrange(3)
                if k == 0:
                    seq(C.FIRST, f, C.SWAP, C.CONS, C.SECOND, g, C.CONS)
                elif k == 1:
                    seq(C.PUSH, C.FST, f, C.SWAP, C.SND, g, C.CONS)
                else:
                    seq(C.FIRST, f, C.PUSH, C.ROT, C.SWAP, g, C.CONS, C.CONS, C.SND)
            elif isinstance(x, Case):
                f, g = ("term", x.f), ("term", x.g)
                if rng.randrange(2):
                    seq(("open", None), f, C.RETURN, ("open", None), g, C.RETURN, ("branch", None))
                else:  # keep the sum below the continuation, fetch it back with ROT
                    seq(C.PUSH, ("open", None), C.ROT, C.SWAP, C.CONS, C.FST, f, C.RETURN,
                        ("open", None), C.ROT, C.SWAP, C.CONS, C.FST, g, C.RETURN, ("branch", None))
            elif isinstance(x, Const):
                seq(C.QUOTE(IntV(x.k)))
            elif isinstance(x, Curry):
                seq(("open", None), ("term", x.f), C.RETURN, ("curry", None))
            elif isinstance(x, Prim) and x.op == "Apply":
                seq(C.APP)
            elif isinstance(x, Prim) and x.op == "Distr":
                seq(*DISTR_CODE)
            elif isinstance(x, Prim) and x.op == "Id":
                k = rng.randrange(3)
                seq(*([C.ID], [C.PUSH, C.SWAP, C.CONS, C.SND], [C.PUSH, C.PUSH, C.ROT, C.CONS, C.CONS, C.FST])[k])
            elif isinstance(x, Prim):
                seq(Instr(x.op.upper()))  # Copy -> COPY, Get -> GET, ...
            else:
                raise ValueError(f"cannot compile {x!r}")
        return Code(blocks[0])

    # ------------------------------------------------ values

    def ground(self, types: list[T.Type], first_order: T.Type | None = None) -> list[T.Type]:
        """Replace the variables of `types` by random ground types, the same for each name.

        Variables of `first_order` get first-order types; others sometimes a function type.
        """
        fo = set(first_order.vars()) if first_order is not None else set()
        env: dict[str, T.Type] = {}
        for t in types:
            for v in t.vars():
                if v not in env:
                    g = self.gen
                    env[v] = T.Fun(g.type(1), g.type(1)) if v not in fo and self.rng.random() < 0.2 else g.type()

        def node(n: Any, kids: list[T.Type]) -> T.Type:
            return env[n.name] if isinstance(n, T.Var) else (type(n)(*kids) if kids else n)

        return [fold(t, node) for t in types]

    def value(self, t: T.Type) -> Value:
        """A random machine value of ground type `t`; a function type gets a closure."""
        out: list[Value] = []
        todo: list[tuple[T.Type, int]] = [(t, 0)]  # 0: to do; then done (a sum: 1 + its side)
        while todo:
            ty, ready = todo.pop()
            if ty == T.Unit:
                out.append(UnitV)
            elif ty == T.Int:
                out.append(IntV(self.rng.choice(BOUNDARIES) if self.rng.random() < 0.1 else self.gen.int()))
            elif isinstance(ty, T.Prod):
                if ready:
                    b = out.pop()
                    out.append(Pair(out.pop(), b))
                else:
                    todo += [(ty, 1), (ty.kids[1], 0), (ty.kids[0], 0)]
            elif isinstance(ty, T.Sum):
                if ready:
                    out.append((L, R)[ready - 1](out.pop()))
                else:
                    side = self.rng.randrange(2)
                    todo += [(ty, 1 + side), (ty.kids[side], False)]
            elif isinstance(ty, T.Fun):
                d, c = ty.kids
                first_order = not any(isinstance(n, T.Fun) for n in (*walk(d), *walk(c)))
                if ready:  # out[-1] is a value of c: a constant function
                    out.append(Closure(Code([Instr("QUOTE", out.pop()), Instr("RETURN")]), UnitV))
                elif first_order and self.rng.randrange(2):
                    body = Generator(self.rng.randint, pure=True).term(T.Unit, d, c, self.rng.randint(0, 6))
                    out.append(Closure(compile(Compose(body, Snd)) + Code([Instr("RETURN")]), UnitV))
                else:
                    todo += [(ty, 1), (c, 0)]
            else:
                raise ValueError(f"values need a ground type, not {ty}")
        return out[0]

    # ------------------------------------------------ random and mutated code

    def instruction(self, depth: int = 1) -> Instr:
        """A random instruction; ``BRANCH`` and ``CURRY`` get random blocks if `depth` allows."""
        op = self.rng.choice(OPS) if self.rng.random() < 0.85 else "BRANCH"  # more control flow
        if op == "QUOTE":
            t = self.gen.type(1)
            if self.rng.random() < 0.1:
                t = T.Fun(self.gen.type(1), t)
            return Instr("QUOTE", self.value(t))
        if op == "BRANCH":
            if depth <= 0:
                return Instr("INL")
            return Instr("BRANCH", self.block(depth - 1), self.block(depth - 1))
        if op == "CURRY":
            if depth <= 0:
                return Instr("INR")
            return Instr("CURRY", self.block(depth - 1))
        return Instr(op)

    def block(self, depth: int) -> Code:
        """A short random block, usually ending in ``RETURN`` (recursion bounded by `depth`)."""
        body = [self.instruction(depth) for _ in range(self.rng.randint(0, 4))]
        if self.rng.random() < 0.9:
            body.append(Instr("RETURN"))
        return Code(body)

    def random_code(self, length: int | None = None, depth: int = 2) -> Code:
        """Random instructions (most such code is rejected)."""
        n = self.rng.randint(0, 8) if length is None else length
        return Code([self.instruction(depth) for _ in range(n)])

    def _blocks(self, code: Code) -> list[tuple[tuple[tuple[int, int], ...], Code]]:
        """Every block with its steps from the root: (instruction index, argument index)."""
        found = []
        todo: list[tuple[tuple[tuple[int, int], ...], Code]] = [((), code)]
        while todo:
            steps, blk = todo.pop()
            found.append((steps, blk))
            for i, ins in enumerate(blk):
                if ins.op in ("BRANCH", "CURRY"):
                    todo += [((*steps, (i, j)), c) for j, c in enumerate(ins.kids)]
        return found

    @staticmethod
    def _edit(code: Code, steps: tuple[tuple[int, int], ...], new: list[Instr]) -> Code:
        """`code` with the block at `steps` replaced by `new`."""
        chain = [code]
        for i, j in steps:
            chain.append(chain[-1][i].kids[j])
        block = Code(new)
        for (i, j), parent in zip(reversed(steps), reversed(chain[:-1])):
            ins = parent[i]
            kids = list(ins.kids)
            kids[j] = block
            block = Code([*parent.kids[:i], Instr(ins.op, *kids), *parent.kids[i + 1:]])
        return block

    def mutate(self, code: Code, times: int | None = None) -> Code:
        """1 to 3 random edits: drop, duplicate, swap, replace, insert, or change a QUOTEd value."""
        rng = self.rng
        for _ in range(rng.randint(1, 3) if times is None else times):
            steps, blk = rng.choice(self._blocks(code))
            ins = list(blk)
            k = rng.randrange(6)
            i = rng.randrange(len(ins)) if ins else 0
            quotes = [j for j, x in enumerate(ins) if x.op == "QUOTE"]
            if k == 5 and quotes:  # a QUOTEd value of another type, or another Int
                j = rng.choice(quotes)
                ins[j] = Instr("QUOTE", self.value(self.gen.type(1)))
            elif not ins or k == 4:
                ins.insert(rng.randint(0, len(ins)), self.instruction(1))
            elif k == 0:
                del ins[i]
            elif k == 1:
                ins.insert(i, ins[i])
            elif k == 2 and len(ins) > 1:
                j = rng.randrange(len(ins) - 1)
                ins[j], ins[j + 1] = ins[j + 1], ins[j]
            else:
                ins[i] = self.instruction(1)
            code = self._edit(code, steps, ins)
        return code

    def repair(self, code: Code, tries: int = 8) -> Code:
        """Edit `code` where `verify` rejects it (replace, drop or append), up to `tries` times."""
        rng = self.rng
        for _ in range(tries):
            try:
                verify(code, max_size=10_000)
                return code
            except BytecodeError as e:
                path = e.path
            if not path or not all(isinstance(p, int) or p in ("left", "right", "body") for p in path):
                return code
            # a path alternates instruction indices and block names, and ends with an index
            steps = tuple((cast(int, path[k]), {"left": 0, "right": 1, "body": 0}[cast(str, path[k + 1])])
                          for k in range(0, len(path) - 1, 2))
            i = cast(int, path[-1])
            blk = code
            for a, b in steps:
                blk = blk[a].kids[b]
            ins = list(blk)
            if i >= len(ins):
                if ins and rng.randrange(2):
                    del ins[-1]
                else:
                    ins.append(Instr("RETURN") if steps and rng.randrange(2) else self.instruction(1))
            elif rng.randrange(3) == 0:
                del ins[i]
            else:
                ins[i] = self.instruction(1)
            code = self._edit(code, steps, ins)
        return code

    def case(self) -> tuple[str, Code]:
        """One fuzzing case: (kind, code), from a mix of the generators above."""
        k = self.rng.randrange(10)
        if k < 2:
            return "variant", self.variant(self.term()[0])
        if k < 5:
            t = self.term()[0]
            return "mutant", self.mutate(compile(t) if self.rng.randrange(2) else self.variant(t))
        if k < 7:
            return "random", self.random_code()
        if k < 9:
            return "repaired", self.repair(self.random_code())
        return "repaired-mutant", self.repair(self.mutate(self.variant(self.term()[0])))


def run_verified(code: Code, sig: Signature, fuzzer: CodeFuzzer, fuel: int = FUEL) -> tuple[Value, Value]:
    """Run verified `code` on random values of (an instance of) `sig`; raise `Unsound` if it goes wrong.

    Returns (new state, output).  Running out of `fuel` is a violation too:
    verified code always halts (it is simply typed), so a run longer than the
    bound means a loop the verifier let through.
    """

    state_t, input_t, output_t = fuzzer.ground(list(sig), first_order=sig.state)
    s, x = fuzzer.value(state_t), fuzzer.value(input_t)
    context = f"code {to_text(code)} at {sig}, instance {Signature(state_t, input_t, output_t)}, " \
              f"input {to_text(x)}, state {to_text(s)}"
    try:
        check_value(x, input_t, state=state_t)
        check_value(s, state_t)
    except ValueTypeError as e:
        raise Unsound(f"a generated value does not have its type: {e}; {context}") from None
    try:
        s2, y = step(code, x, s, fuel)
    except Stuck as e:
        raise Unsound(f"verified code got stuck: {e}; {context}") from None
    except OutOfFuel as e:
        raise Unsound(f"verified code did not halt within {fuel} steps: {e}; {context}") from None
    for what, v, t in (("output", y, output_t), ("new state", s2, state_t)):
        try:
            check_value(v, t, state=state_t)
        except ValueTypeError as e:
            raise Unsound(f"the {what} {to_text(v)} does not have type {t}: {e}; {context}") from None
    return s2, y


def campaign(n: int, seed: int = 0, runs: int = 2, progress: bool = False) -> dict[str, int]:
    """Fuzz `n` cases: each is verified, and when accepted run `runs` times on typed inputs.

    Returns counts; a verified case that gets stuck, answers ill-typed values
    or runs out of fuel raises `Unsound` with the case (the verifier is
    unsound); ``crashed`` counts exceptions from `verify` other than `BytecodeError`.
    """
    fz = CodeFuzzer(seed)
    counts: Counter[str] = Counter()
    step = max(1, n // 20)
    for i in range(n):
        if progress and i and i % step == 0:
            print(f"  {i:>9} cases: {counts['rejected']} rejected, {counts['accepted']} accepted", flush=True)
        kind, code = fz.case()
        counts["generated"] += 1
        counts[f"generated {kind}"] += 1
        try:
            sig = verify(code)
        except BytecodeError:
            counts["rejected"] += 1
            continue
        except Exception as e:  # noqa: BLE001 - any other exception is a verifier bug, counted and shown
            counts["crashed"] += 1
            print(f"crash on {code}: {type(e).__name__}: {e}")
            continue
        counts["accepted"] += 1
        counts[f"accepted {kind}"] += 1
        ops = {ins.op for ins in _all_instructions(code)}
        for op in ("PUSH", "ROT", "CURRY", "APP", "BRANCH", *EXTENDED):
            counts[f"accepted with {op}"] += op in ops
        for _ in range(runs):
            run_verified(code, sig, fz)
            counts["runs"] += 1
    counts.setdefault("stuck", 0)
    counts.setdefault("crashed", 0)
    return dict(counts)


def _all_instructions(code: Code) -> list[Instr]:
    found: list[Instr] = []
    todo = [code]
    while todo:
        for ins in todo.pop():
            found.append(ins)
            todo += [k for k in ins.kids if isinstance(k, Code)]
    return found
