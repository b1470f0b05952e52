"""The direct meaning of a term: one state machine step ``input -> state -> (state, output)``.

>>> from catlib.free import Get, Put, Add, Copy, Const, Par, Compose, Consume, Inl
>>> step(Get, (), 41)
(41, 41)
>>> step(Par(Add, Put), ((1, 2), 7), 0)
(7, (3, ()))
>>> run(Consume >> Get >> Copy >> Par(Const(1), Copy) >> Par(Consume, Add) >> Par(Consume, Put), [(), ()], 5)
(20, [((), ()), ((), ())])

`Par` runs its left side first, threading the state through both.
`Curry(f)` answers a closure, ``Curried(f, x)``, without running `f`;
`Apply` runs the closure's body on ``(env, argument)`` in the state as it is
then, so the body's `Get`/`Put` act when the function is applied (the
exponential of the state-passing category).  Beta holds with effects:

>>> from catlib.free import Apply, Curry, Id, Snd
>>> step(Curry(Par(Consume, Get) >> Snd), 5, 41)
(41, Curried(Compose(Snd, Par(Consume, Get)), 5))
>>> step(Par(Curry(Par(Consume, Get) >> Snd), Id) >> Apply, (5, ()), 41)
(41, 41)

(η holds as an equation of functions, not of values: ``Curry(Apply)`` on a
closure ``g`` answers a new closure that behaves as ``g``.)  The
interpreter walks the term with an explicit continuation stack, so deep
terms do not touch Python's recursion limit.  It shares no code with the
CAM (`cam.machine`): the two are checked against each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from catlib.free import Case, Compose, Const, Curry, Embed, Par, Prim, Term
from catlib.values import INT_MAX, INT_MIN, Curried, HostValue, Left, Right, add64, check_value, divmod64, mul64, sub64

__all__ = ["step", "run", "InterpretError", "check_ints"]


class InterpretError(TypeError):
    """A value of the wrong shape reached a term (the term or input is ill-typed)."""


# continuation frames: a term g: run g next (a composition's second half: the commonest frame, pushed as it
# is); (RIGHT, g, c) run g on c next; (PAIR, b) pair b with the value returned
_RIGHT, _PAIR = 1, 2


def _bad(t: Term, v: HostValue, want: str) -> InterpretError:
    return InterpretError(f"{t.op} expects {want}, got {v!r}")


def check_ints(v: HostValue, where: str) -> None:
    """Raise `ValueError` if an int in host value `v` is outside ``Int``'s range ``INT_MIN .. INT_MAX``.

    ``Int`` is 64-bit: arithmetic wraps (`catlib.values.add64`), and so would an int given from outside
    the range, silently, where the machine refuses it (as `catlib.free.Const` does).  `step` and `run`
    check what they are given with this; nothing else of the value's shape is checked here (a value of the
    wrong shape is an `InterpretError` where a term meets it).  A part shared by identity is visited once.

    >>> check_ints((Left(2**63 - 1), -2**63), "input")
    >>> check_ints((1, Right((2, 2**64))), "state")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: state[1].value[1] = 18446744073709551616 is outside Int's 64-bit range -2**63 .. 2**63 - 1 ...
    """
    if not _in_range(v):
        raise _out_of_range(v, where)


def _in_range(v: HostValue) -> bool:
    """Whether every int in `v` is in ``Int``'s range (`check_ints`), as fast as it can tell."""
    kind = type(v)
    if kind is int:
        return INT_MIN <= v <= INT_MAX
    if kind is tuple and len(v) == 2 and type(v[0]) is int and type(v[1]) is int:  # a pair of ints: no walk
        return INT_MIN <= v[0] <= INT_MAX and INT_MIN <= v[1] <= INT_MAX
    # a walk without recording what it met, for a small value; past 64 parts, `_in_range_shared`
    todo = [v]
    pop = todo.pop
    budget = 64
    while todo:
        x = pop()
        kind = type(x)
        if kind is int:
            if not INT_MIN <= x <= INT_MAX:
                return False
            continue
        if kind is tuple:
            todo += x
        elif kind is Left or kind is Right:
            todo.append(x.value)
        elif kind is Curried:
            todo.append(x.env)
        else:  # (not a host value: its term will say so)
            continue
        budget -= 1
        if not budget:
            return _in_range_shared(v)
    return True


def _in_range_shared(v: HostValue) -> bool:
    """`_in_range` for a large value, each part shared by identity visited once (Copy shares: a value can be
    exponentially larger unfolded than it is in memory)."""
    todo = [v]
    seen: set[int] = set()
    while todo:
        x = todo.pop()
        kind = type(x)
        if kind is int:
            if not INT_MIN <= x <= INT_MAX:
                return False
        elif id(x) in seen:
            continue
        elif kind is tuple:
            seen.add(id(x))
            todo += x
        elif kind is Left or kind is Right:
            seen.add(id(x))
            todo.append(x.value)
        elif kind is Curried:
            seen.add(id(x))
            todo.append(x.env)
    return True


def _out_of_range(v: HostValue, where: str) -> ValueError:
    """The error for the first int out of range in `v` (found again, now with its path)."""
    # a path is a linked list (parent, step), spelt out only for the int found: a string per level would be
    # quadratic in the value's depth
    todo: list[tuple[HostValue, Any]] = [(v, None)]
    seen: set[int] = set()
    while todo:
        x, path = todo.pop()
        kind = type(x)
        if kind is int:
            if INT_MIN <= x <= INT_MAX:
                continue
            steps: list[str] = []
            while path is not None:
                path, last = path
                steps.append(last)
            shown = str(x) if x.bit_length() <= 256 else f"{'-' if x < 0 else ''}(an int of {x.bit_length()} bits)"
            return ValueError(f"{where}{''.join(reversed(steps))} = {shown} is outside Int's 64-bit range "
                              "-2**63 .. 2**63 - 1 (not wrapped)")
        if id(x) in seen:
            continue
        seen.add(id(x))
        if kind is tuple:
            todo += reversed([(y, (path, f"[{i}]")) for i, y in enumerate(x)])
        elif kind is Left or kind is Right:
            todo.append((x.value, (path, ".value")))
        elif kind is Curried:
            todo.append((x.env, (path, ".env")))
    raise AssertionError(f"no int out of range in {where}")  # pragma: no cover - called only when there is one


def step(term: Term, input: HostValue, state: HostValue) -> tuple[HostValue, HostValue]:
    """Run `term` once on `input` in `state`; return ``(new_state, output)``.

    Raises `ValueError` when an int in `input` or `state` is outside ``Int``'s 64-bit range (`check_ints`:
    arithmetic wraps, values given from outside are not), `InterpretError` when a value of the wrong
    shape meets a term.  The check walks `state` on every call: for many inputs, `run` checks it once.
    """
    # (the commonest shapes without a call: an int; a command, Left or Right of () or an int)
    if type(state) is int:
        if not INT_MIN <= state <= INT_MAX:
            raise _out_of_range(state, "state")
    elif not _in_range(state):
        raise _out_of_range(state, "state")
    kind = type(input)
    inner = input.value if kind is Left or kind is Right else input  # (a command: its argument)
    if type(inner) is int:
        if not INT_MIN <= inner <= INT_MAX:
            raise _out_of_range(input, "input")
    elif inner != () and not _in_range(inner):
        raise _out_of_range(input, "input")
    return _step(term, input, state)


def _step(term: Term, input: HostValue, state: HostValue) -> tuple[HostValue, HostValue]:
    """`step` without checking its input and state (`run` checks each once; every step keeps ints in range)."""
    stack: list[Any] = []  # frames (see above)
    t, v, s = term, input, state
    while True:
        # evaluate t on v
        while True:
            kind = type(t)  # (the common classes by identity; `op` read once, from the label where it is one)
            if kind is Prim:
                op = t.label
                if op != "Apply":
                    break
            elif kind is Const:
                op = "Const"
                break
            elif kind is Compose or (kind is not Par and kind is not Case and isinstance(t, Compose)):
                stack.append(t.kids[0])
                t = t.kids[1]
                continue
            elif kind is Par or (kind is not Case and isinstance(t, Par)):
                if type(v) is not tuple or len(v) != 2:
                    raise _bad(t, v, "a pair")
                stack.append((_RIGHT, t.kids[1], v[1]))
                t, v = t.kids[0], v[0]
                continue
            elif isinstance(t, Case):
                if isinstance(v, Left):
                    t, v = t.kids[0], v.value
                elif isinstance(v, Right):
                    t, v = t.kids[1], v.value
                else:
                    raise _bad(t, v, "Left(..) or Right(..)")
                continue
            else:
                op = t.op
                if op != "Apply":
                    break
            # the closure's body runs here, on (env, argument), in the current state: a jump,
            # so closures applied inside closures do not grow the Python stack
            if type(v) is not tuple or len(v) != 2 or type(v[0]) is not Curried:
                raise _bad(t, v, "a pair (Curried(..), argument)")
            if not isinstance(v[0].body, Term):
                raise _bad(t, v[0].body, "a closure whose body is a Term")
            t, v = v[0].body, (v[0].env, v[1])
        # (the commonest first: by their share of a campaign's nodes, `cam.check`)
        if kind is Const:
            v = t.label
        elif op == "Copy":
            v = (v, v)
        elif op == "Consume":
            v = ()
        elif op == "Id":
            pass
        elif op == "Inl":
            v = Left(v)
        elif op == "Distr":
            if type(v) is not tuple or len(v) != 2 or not isinstance(v[0], (Left, Right)):
                raise _bad(t, v, "(Left(..) or Right(..), c)")
            v = type(v[0])((v[0].value, v[1]))
        elif isinstance(t, Curry):
            v = Curried(t.kids[0], v)
        elif op == "Get":
            v = s
        elif op == "Put":
            s, v = v, ()
        elif op in ("Fst", "Snd"):
            if type(v) is not tuple or len(v) != 2:
                raise _bad(t, v, "a pair")
            v = v[0] if op == "Fst" else v[1]
        elif op == "Inr":
            v = Right(v)
        elif op == "Add":
            if type(v) is not tuple or len(v) != 2 or type(v[0]) is not int or type(v[1]) is not int:
                raise _bad(t, v, "a pair of ints")
            v = add64(v[0], v[1])
        elif op in ("Sub", "Mul", "Lt", "Eq", "DivMod"):
            if type(v) is not tuple or len(v) != 2 or type(v[0]) is not int or type(v[1]) is not int:
                raise _bad(t, v, "a pair of ints")
            i, j = v
            if op == "Sub":
                v = sub64(i, j)
            elif op == "Mul":
                v = mul64(i, j)
            elif op == "Lt":
                v = Left(()) if i < j else Right(())
            elif op == "Eq":
                v = Left(()) if i == j else Right(())
            else:
                v = divmod64(i, j)
        elif isinstance(t, Const):
            v = t.k
        elif isinstance(t, Embed):
            check_value(v, t.dom, "Embed's input")
            v = t.fn(v)
            check_value(v, t.cod, "Embed's output")
            if not _in_range(v):  # (where `cod` has a type variable): what a step makes is in range
                raise _out_of_range(v, "Embed's output")
        else:  # pragma: no cover - every Term is handled above
            raise AssertionError(t)
        # return v to the continuation
        while stack:
            frame = stack.pop()
            if type(frame) is not tuple:
                t = frame
                break
            if frame[0] == _RIGHT:
                stack.append((_PAIR, v))
                t, v = frame[1], frame[2]
                break
            v = (frame[1], v)
        else:
            return s, v


def run(term: Term, inputs: Iterable[HostValue], state: HostValue) -> tuple[HostValue, list[HostValue]]:
    """Run `term` on each input in turn; return the final state and the outputs.

    The initial `state` and each input are checked as `step` checks them, once: the states a step makes
    need no check (a step answers only ints in range: `Const`'s, wrapped arithmetic's, those it was given,
    and an `Embed`'s, whose output is checked against its type).
    """
    check_ints(state, "state")
    outputs = []
    for i, x in enumerate(inputs):
        check_ints(x, f"inputs[{i}]")
        state, y = _step(term, x, state)
        outputs.append(y)
    return state, outputs
