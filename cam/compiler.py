"""Compile free terms to CAM code: a fold over one template table, by the reference's scheme.

`TEMPLATES` gives each term constructor's code, in execution order, with
holes: `F`/`G` for the code of the subterm in field ``f``/``g``, `K` for
``QUOTE (Int k)`` of `Const`'s ``k``, and `Branch` for a ``BRANCH`` over two
template blocks.  `compile` is the generic fold `instantiate(TEMPLATES, ·)`:
it looks up the root's constructor, emits the template's instructions and
fills its holes -- nothing else, so no constructor, constant or subterm
shape can be treated specially except by its row in the table.
`proofs.compiler` proves each row correct, and checks that `compile` is
this fold.

=====================  =====================================================
term                   template
=====================  =====================================================
``Id``, primitives     their instruction (``Copy`` -> ``COPY``, ...)
``Compose(g, f)``      ``f, g``
``Par(f, g)``          ``FIRST, f, SWAP, CONS, SECOND, g, CONS``
``Case(f, g)``         ``BRANCH [f, RETURN] [g, RETURN]``
``Const(k)``           ``QUOTE (Int k)``
``Distr``              ``PUSH, FST, BRANCH [ROT,SWAP,SND,CONS,INL,RETURN] [.. INR ..]``
``Curry(f)``           ``CURRY [f, RETURN]``
``Apply``              ``APP``
``Embed``              no row: `CompileError`
=====================  =====================================================

>>> from catlib.free import Copy, Par, Snd, Fst
>>> print(compile(Copy >> Par(Snd, Fst)))
[COPY,FIRST,SND,SWAP,CONS,SECOND,FST,CONS]

`Distr` is this package's addition.  It needs no new instruction: with
``Pair e c`` in the accumulator, ``PUSH`` keeps a copy, ``FST`` exposes the
sum for ``BRANCH``; inside a branch the stack is ``k : Pair e c``, ``ROT``
brings the pair above the continuation `k`, ``SWAP, SND`` fetches `c`, and
``CONS`` pairs it with the branch's value, which ``INL``/``INR`` re-inject
before ``RETURN`` resumes `k`.

`Curry` and `Apply` are the reference's own closures: ``CURRY c`` makes
``Closure c x`` of the accumulator ``x``; ``APP`` on ``Pair (Closure c v)
z`` runs ``c`` on ``Pair v z`` and returns (``RETURN``) to the code after
it, so the body's ``GET``/``PUT`` act on the register when the closure is
applied, as `catlib.interpreter` says.  A host closure
(`catlib.values.Curried`) is the machine's ``Closure (code of body ++
[RETURN]) env`` (`compile_value`).

Compilation is iterative and linear in the size of the term.
"""

from __future__ import annotations

import functools
import operator
from typing import Any, NamedTuple

from cam.code import (
    ADD,
    APP,
    BRANCH,
    CONS,
    CONSUME,
    COPY,
    CURRY,
    DIVMOD,
    EQ,
    FIRST,
    FST,
    GET,
    ID,
    INL,
    INR,
    LT,
    MUL,
    PUSH,
    PUT,
    RETURN,
    ROT,
    SECOND,
    SND,
    SPECS,
    SUB,
    SWAP,
    Code,
    Instr,
    Value,
)
from cam.decoded import Block
from cam.forms import CODE, DECODED, Form
from cam.hostvalue import quote
from catlib.free import Distr, Term, path_str, subterms
from catlib.values import Curried, HostValue

__all__ = ["compile", "compile_decoded", "instantiate", "CompileError", "BEYOND_REFERENCE", "TEMPLATES", "Template", "Hole", "QuoteHole", "Branch",
           "Body", "F", "G", "K", "DISTR_CODE", "compile_value"]


class CompileError(ValueError):
    """A term that cannot be compiled (an `Embed`: no template; or, for the reference, a construct whose
    template needs an instruction the reference lacks); `path` locates it."""

    def __init__(self, path: tuple[str, ...], subterm: Term, reason: str = "") -> None:
        self.path, self.subterm = path, subterm
        reason = reason or ("Embed wraps a host function, which has no bytecode" if subterm.op == "Embed"
                            else f"{subterm.op} has no template")
        super().__init__(f"cannot compile {subterm} at {path_str(path)}: {reason}")


class Hole(NamedTuple):
    """In a template: the code of the subterm in field `name` of the term."""

    name: str

    def __repr__(self) -> str:
        return f"<{self.name}>"


class QuoteHole(NamedTuple):
    """In a template: ``QUOTE (Int n)`` for the integer `n` in field `name` of the term."""

    name: str

    def __repr__(self) -> str:
        return f"QUOTE (Int <{self.name}>)"


class Branch(NamedTuple):
    """In a template: ``BRANCH`` over two template blocks (which may hold holes)."""

    left: Template
    right: Template

    def __repr__(self) -> str:
        return f"BRANCH {list(self.left)} {list(self.right)}"


class Body(NamedTuple):
    """In a template: ``CURRY`` over a template block (which may hold holes): a closure's code."""

    block: Template

    def __repr__(self) -> str:
        return f"CURRY {list(self.block)}"


Template = tuple[Instr | Hole | QuoteHole | Branch | Body, ...]
"""A constructor's code in execution order: instructions and holes."""

F, G, K = Hole("f"), Hole("g"), QuoteHole("k")

TEMPLATES: dict[str, Template] = {
    "Id": (ID,),
    "Copy": (COPY,),
    "Consume": (CONSUME,),
    "Fst": (FST,),
    "Snd": (SND,),
    "Inl": (INL,),
    "Inr": (INR,),
    "Get": (GET,),
    "Put": (PUT,),
    "Add": (ADD,),
    "Sub": (SUB,),
    "Mul": (MUL,),
    "Lt": (LT,),
    "Eq": (EQ,),
    "DivMod": (DIVMOD,),
    "Const": (K,),
    "Distr": (PUSH, FST, Branch((ROT, SWAP, SND, CONS, INL, RETURN), (ROT, SWAP, SND, CONS, INR, RETURN))),
    "Compose": (F, G),
    "Par": (FIRST, F, SWAP, CONS, SECOND, G, CONS),
    "Case": (Branch((F, RETURN), (G, RETURN)),),
    "Curry": (Body((F, RETURN)),),
    "Apply": (APP,),
}
"""Each compilable constructor's template, by constructor name (`Term.op`)."""

class _Mark(NamedTuple):
    """In `instantiate`'s work list: open a block, or close the open ones into a BRANCH or a CURRY."""

    what: str


class _Quote(NamedTuple):
    """In `instantiate`'s work list: ``QUOTE (Int k)`` of the term's field `name`."""

    name: str


_OPEN, _CLOSE, _CLOSE_BODY = _Mark("open"), _Mark("branch"), _Mark("curry")
_CLASS_NAME = Term.op  # (a property: a term whose class keeps it is named by its class)


@functools.cache
def _programs() -> dict[tuple[int, type, int], tuple[Template, tuple[Any, ...], tuple[Any, ...]]]:
    """`_program`'s table, empty on first use: made by a memoised function, not kept at module level, so
    that ``_programs.cache_clear()`` (tests/conftest.py's reset before each test) forgets it."""
    return {}


_Tables = tuple[dict[Any, tuple[Any, ...]], dict[int, Any]]
"""What `_instantiate` keeps between calls for one table and form: the programs (`_new_program`), and by a
compound subterm's id, its hash when met once so far, or ``(subterm, its code)`` when met again (the subterm
kept, which keeps the id its own)."""


@functools.cache
def _tables() -> dict[tuple[int, int], tuple[dict[str, Template], Any, _Tables]]:
    return {}  # `_table_programs`' table, empty on first use (forgotten as `_programs`' is)


def _program(template: Template, term: Term, form: Form) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """`template` flattened for `instantiate` on terms of `term`'s class: the run of plain instructions it
    starts with, and the rest as a work list in reverse (pushed on the work stack as it is): runs of plain
    instructions (tuples), holes (the child's index in ``kids``, or the field's name where it is not a
    child), `_Quote` holes, and the `_Mark`\\ s that open and close a BRANCH's or CURRY's blocks.  A BRANCH
    or CURRY without holes (`Distr`'s) is one plain instruction, made here once: instructions are immutable.
    The runs are in `form`'s kind of instruction.  Cached per template object, class and form."""
    key = (id(template), type(term), id(form))
    programs = _programs()
    cached = programs.get(key)
    if cached is not None and cached[0] is template:
        return cached[1], cached[2]
    fields = getattr(type(term), "fields", ())
    out: list[Any] = []
    todo: list[Any] = list(reversed(template))
    while todo:  # in execution order
        x = todo.pop()
        if isinstance(x, (Branch, Body)) and _constant(x):
            x = _constant_instr(x)
        if type(x) is _Mark:
            out.append(x)
        elif isinstance(x, Instr):
            if out and type(out[-1]) is tuple:
                out[-1] += (x,)
            else:
                out.append((x,))
        elif isinstance(x, Hole):
            i = fields.index(x.name) if x.name in fields else -1
            out.append(i if i >= 0 and getattr(term, x.name) is term.kids[i] else x.name)
        elif isinstance(x, QuoteHole):
            out.append(_Quote(x.name))
        elif isinstance(x, Body):
            todo += [_CLOSE_BODY, *reversed(x.block), _OPEN]
        elif isinstance(x, Branch):
            todo += [_CLOSE, *reversed(x.right), _OPEN, *reversed(x.left), _OPEN]
        else:
            raise TypeError(f"not a template item: {x!r}")
    head: tuple[Any, ...] = form.run(out.pop(0)) if out and type(out[0]) is tuple else ()
    rest = tuple(form.run(x) if type(x) is tuple else x for x in reversed(out))
    programs[key] = (template, head, rest)  # the template is kept, so its id is not reused
    return head, rest


def _constant(x: Branch | Body) -> bool:
    """Whether the blocks of `x` hold no hole (at any depth)."""
    todo: list[Any] = [*x.left, *x.right] if isinstance(x, Branch) else list(x.block)
    while todo:
        y = todo.pop()
        if isinstance(y, Branch):
            todo += [*y.left, *y.right]
        elif isinstance(y, Body):
            todo += y.block
        elif not isinstance(y, Instr):
            return False
    return True


def _constant_instr(x: Branch | Body) -> Instr:
    """The instruction of a hole-free BRANCH or CURRY: what `instantiate` makes of it on any term."""
    out: list[Instr] = []  # each template item gives one instruction
    todo: list[tuple[Any, bool]] = [(x, False)]
    while todo:
        y, ready = todo.pop()
        if isinstance(y, Instr):
            out.append(y)
        elif not ready:
            todo.append((y, True))
            todo += [(i, False) for i in reversed((*y.left, *y.right) if isinstance(y, Branch) else y.block)]
        elif isinstance(y, Branch):
            right = Code.of(out[len(out) - len(y.right):])
            del out[len(out) - len(y.right):]
            left = Code.of(out[len(out) - len(y.left):])
            del out[len(out) - len(y.left):]
            out.append(BRANCH(left, right))
        else:
            body = Code.of(out[len(out) - len(y.block):])
            del out[len(out) - len(y.block):]
            out.append(CURRY(body))
    return out[0]


def instantiate(templates: dict[str, Template], term: Term) -> Code:
    """The code of `term` by `templates`: the root's template, its holes filled, recursively (without recursion).

    Reads of the term: its constructor's name, to pick the template, and the
    fields the holes name.  A constructor without a template raises
    `CompileError`.
    """
    return _instantiate(templates, term, CODE)


def compile_decoded(term: Term) -> Block:
    """``decode(compile(term))`` without making the code: the blocks `cam.machine.run_decoded` runs (for
    campaigns, whose terms run once).  Only the instructions are made: the blocks hold no `Code` (theirs
    is empty), and a root block lacks what `cam.jit` keeps on one.

    >>> from catlib.free import Case, Const, Inl
    >>> from cam.decoded import decode
    >>> compile_decoded(Case(Const(2), Inl)) == decode(compile(Case(Const(2), Inl)))
    True
    """
    if not isinstance(term, Term):
        raise TypeError(f"not a term: {term!r}")
    return _instantiate(TEMPLATES, term, DECODED)


def _table_programs(templates: dict[str, Template], form: Form) -> _Tables:
    """`_Tables` for `templates` and `form`: programs by class, or by the object where the class names its terms
    each its own way (a primitive's `op` is its label); kept while the table holds the same rows."""
    tables = _tables()
    key, rows = (id(templates), id(form)), (tuple(templates), tuple(templates.values()))  # (no pair per row)
    found = tables.get(key)
    if found is not None and found[0] is templates and found[1] == rows:
        return found[2]
    if len(tables) > 64:  # (tables made for one call, as tests and proofs do, are not kept for ever)
        tables.clear()
    made: _Tables = ({}, {})
    tables[key] = (templates, rows, made)  # the table is kept, so its id is not reused while here
    return made


class _End(NamedTuple):
    """In `_instantiate`'s work list: record the code of `term`, the current block's from `start` on."""

    term: Term
    start: int


def _instantiate(templates: dict[str, Template], term: Term, form: Form) -> Any:
    programs, recorded = _table_programs(templates, form)
    if len(recorded) > 100_000:  # (a bound, checked once a call: a term adds at most its own nodes)
        recorded.clear()
    blocks: list[list[Any]] = [form.block()]
    block = blocks[0]
    todo: list[Any] = [term]  # terms to compile, runs of instructions (tuples), marks and `_End`\ s
    pop, push, push_all = todo.pop, todo.append, todo.extend
    while todo:
        x = pop()
        t = type(x)
        if t is tuple:
            block.extend(x)
            continue
        if t is _Mark:
            if x is _OPEN:
                block = form.block()
                blocks.append(block)
            elif x is _CLOSE_BODY:
                body = blocks.pop()
                block = blocks[-1]
                block.append(form.curry(body))
            else:
                d, c = blocks.pop(), blocks.pop()
                block = blocks[-1]
                block.append(form.branch(c, d))
            continue
        if t is _End:  # (in place of the term's noted hash; a deep term's long code is not copied per node)
            if len(block) - x.start <= 64:
                recorded[id(x.term)] = (x.term, tuple(block[x.start:]))
            continue
        while True:  # `x` a term; its code's first hole, when a kid, compiled next here (`Compose`'s spine)
            program = programs.get(t) or programs.get(id(x)) or _new_program(templates, term, x, form, programs)
            if not program[1]:  # (a leaf: its code is its first run)
                block.extend(program[0])
                break
            head, rest, kids_in_order, _, pick, plain = program
            # terms share subterms (a generator's smallest terms): met a second time, a subterm's code is
            # recorded, and copied when met again.  Met once, it is noted by its hash, not kept (most are met
            # once: kept, they would outlive their terms); an object at a noted id, of that hash, is met again
            found = recorded.get(key := id(x))
            if found is None or type(found) is not tuple and found != x._hash:  # (the commonest case first)
                recorded[key] = x._hash
            elif type(found) is tuple:  # (its subterm kept: the id is its own)
                block.extend(found[1])
                break
            else:
                push(_End(x, len(block)))
            block.extend(head)
            kids = x.kids
            if kids_in_order:  # the holes are the kids, in order (`Compose`'s template, the commonest)
                push_all(kids[:-1])
                x = kids[-1]
                t = type(x)
                continue
            if pick is not None:
                push_all(pick(kids + plain))
                break
            for item in rest:
                t = type(item)
                if t is int:
                    push(kids[item])
                elif t is str:
                    push(getattr(x, item))
                elif t is _Quote:
                    push((form.quote(getattr(x, item.name)),))
                else:
                    push(item)
            break
    return form.done(blocks[0])


def _new_program(templates: dict[str, Template], term: Term, x: Term, form: Form,
                 programs: dict[Any, tuple[Any, ...]]) -> tuple[Any, ...]:
    """`x`'s program (`_program`), put in `programs`: its first run, the rest of its work list, whether that
    rest is ``x.kids`` in order (pushed as they are); `CompileError` where its constructor has no template."""
    template = templates.get(x.op)
    if template is None:
        raise CompileError(_path_of(term, x), x)
    head, rest = _program(template, x, form)  # (`x` kept below: a program found by its id keeps the id unique)
    # rests of kids and items the same every time (`Par`'s, `Case`'s) are picked at once from kids + those
    plain = tuple(item for item in rest if type(item) is tuple or type(item) is _Mark)
    kids = len(x.kids)
    picks = [item if type(item) is int else kids + plain.index(item) for item in rest if type(item) is not str
             and type(item) is not _Quote]
    pick = operator.itemgetter(*picks) if len(picks) == len(rest) > 1 else None
    program = (head, rest, bool(rest) and rest == tuple(range(kids)), x, pick, plain)
    if len(programs) > 10_000:  # (terms that name themselves each their own way: a bound)
        programs.clear()
    programs[type(x) if type(x).op is _CLASS_NAME else id(x)] = program  # (a class named per term: never a key)
    return program


def _path_of(term: Term, sub: Term) -> tuple[str, ...]:
    """The path of the first occurrence of `sub` (this very object) in `term`."""
    return next(path for path, t in subterms(term) if t is sub)


def compile(term: Term, reference: bool = False) -> Code:
    """The CAM code of `term`: `instantiate` with `TEMPLATES` (``Embed`` raises `CompileError`).

    With `reference`, the code must run on the reference machine: a subterm
    whose template needs an instruction beyond the reference's 21 (``Sub``
    needs ``SUB``, ...) raises `CompileError` naming it.  Anything but a term
    is a `TypeError` (subterms are terms by construction).

    >>> from catlib.free import Sub, Par, Id
    >>> compile(Par(Id, Sub), reference=True)
    Traceback (most recent call last):
      ...
    cam.compiler.CompileError: cannot compile Sub at root.g: its code needs SUB, which the reference machine lacks
    """
    if not isinstance(term, Term):
        raise TypeError(f"not a term: {term!r}")
    if reference:
        for path, sub in subterms(term):
            missing = BEYOND_REFERENCE.get(sub.op)
            if missing:
                raise CompileError(path, sub, f"its code needs {', '.join(missing)}, which the reference machine "
                                              "lacks")
    return instantiate(TEMPLATES, term)


def _instructions(template: Template) -> list[Instr]:
    out: list[Instr] = []
    todo = list(template)
    while todo:
        x = todo.pop()
        if type(x) is Instr:
            out.append(x)
        elif type(x) is Branch:
            todo += [*x.left, *x.right]
        elif type(x) is Body:
            todo += list(x.block)
    return out


BEYOND_REFERENCE: dict[str, tuple[str, ...]] = {
    op: names for op, t in TEMPLATES.items()
    if (names := tuple(sorted({i.op for i in _instructions(t) if not SPECS[i.op].reference})))}
"""The constructors whose templates use instructions the reference lacks, and those instructions."""


def compile_value(v: HostValue) -> Value:
    """A host value as a machine value (`cam.hostvalue.quote`), closures compiled: ``Curried(f, env)`` is
    ``Closure (compile(f) ++ [RETURN]) env``, what ``CURRY`` makes of `f`'s code.

    >>> from catlib.free import Add
    >>> from catlib.values import Left
    >>> print(compile_value((Curried(Add, 1), Left(()))))
    Pair (Closure [ADD,RETURN] (Int 1)) (L Unit)
    """
    return quote(v, _closure_code)


def _closure_code(c: Curried) -> Code:
    """The code ``CURRY`` makes of the closure `c`'s body: ``compile(body) ++ [RETURN]``."""
    if not isinstance(c.body, Term):
        raise TypeError(f"cannot compile the closure {c!r}: its body is not a term")
    return Code([*compile(c.body), RETURN])


DISTR_CODE = compile(Distr)
"""The code of `catlib.free.Distr`."""
