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
from catlib.values import Curried, HostValue, Left, Right, add64, check_value, divmod64, mul64, sub64

__all__ = ["step", "run", "InterpretError"]


class InterpretError(TypeError):
    """A value of the wrong shape reached a term (the term or input is ill-typed)."""


# continuation frames: a term g: run g next (a composition's second half: the commonest frame, pushed as it
# is); (RIGHT, g, c) run g on c next; (PAIR, b) pair b with the value returned
_RIGHT, _PAIR = 1, 2


def _bad(t: Term, v: HostValue, want: str) -> InterpretError:
    return InterpretError(f"{t.op} expects {want}, got {v!r}")


def step(term: Term, input: HostValue, state: HostValue) -> tuple[HostValue, HostValue]:
    """Run `term` once on `input` in `state`; return ``(new_state, output)``."""
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
    """Run `term` on each input in turn; return the final state and the outputs."""
    outputs = []
    for x in inputs:
        state, y = step(term, x, state)
        outputs.append(y)
    return state, outputs
