"""Host values at a node's edge: their text form, and conversions to and from machine values.

A node runs its code as `cam.machine.load` gives it: a step function over
host values (``()``, ints, 2-tuples, `catlib.values.Left`/`Right`,
`cam.decoded.HostClosure`).  It keeps its state in that form, and converts
only at the edge: a request's input text to a host value (once per distinct
text, `cam.node`), an answer's output and state to text (`host_text`, which
writes exactly `cam.code.to_text` of the same machine value), and the machine
value itself only where the journal, a snapshot or an upgrade's checks need it
(`to_value`, `from_value`).  `quote` and `unquote` are the plain conversions of
values without closures, for tests, campaigns and programs that hold machine
values.

>>> from catlib.values import INT_MAX, INT_MIN, Curried, Left, Right
>>> host_text((-3, Right(((), Left(2)))))
'Pair (Int (-3)) (R (Pair Unit (L (Int 2))))'
>>> to_value(Left(()))
L(UnitV)
>>> from_value(to_value((1, 2)))
(1, 2)
>>> quote((1, Left(()))), unquote(Pair(IntV(1), L(UnitV)))
(Pair(IntV(1), L(UnitV)), (1, Left(())))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from cam.code import Closure, Code, IntV, L, Pair, R, UnitV, Value, to_text
from cam.decoded import HostClosure, inside, mk_int, mk_value, to_host
from catlib.tree import larger
from catlib.values import INT_MAX, INT_MIN, Curried, Left, Right

__all__ = ["quote", "unquote", "host_text", "to_value", "from_value", "HostState", "HostResult", "Ran", "MISSING",
           "StateForm", "form_value", "small_value"]

MISSING: Any = object()
"""No value (a form of the state not made yet, an input not checked yet)."""


_MAKE: Any = object()
"""On a walk's stack: the value below it is made from its parts (done just before, on the output)."""


def quote(x: Any, closure: Callable[[Curried], Code] | None = None) -> Value:
    """A catlib host value as a machine value: ``()``, int, 2-tuple, `Left`, `Right`; with `closure` (the
    code a closure runs as), `catlib.values.Curried` too: ``Closure (closure(c)) env`` of ``c = Curried(body, env)``."""
    out: list[Value] = []
    todo: list[Any] = [x]  # host values to quote; `_MAKE` above a value whose parts are quoted (they end `out`)
    while todo:
        v = todo.pop()
        if v is _MAKE:
            v = todo.pop()
            if type(v) is tuple:
                b, a = out.pop(), out.pop()
                out.append(Pair(a, b))
            elif type(v) is Curried:
                assert closure is not None  # a Curried is only pushed when there is one
                out.append(Closure(closure(v), out.pop()))
            else:
                out.append((L if isinstance(v, Left) else R)(out.pop()))
        elif type(v) is tuple and len(v) == 0:
            out.append(UnitV)
        elif type(v) is int:
            out.append(IntV(v))
        elif type(v) is tuple and len(v) == 2:
            todo += (v, _MAKE, v[1], v[0])
        elif isinstance(v, (Left, Right)):
            todo += (v, _MAKE, v.value)
        elif type(v) is Curried and closure is not None:
            todo += (v, _MAKE, v.env)
        else:
            raise TypeError(f"cannot quote {v!r}: not a host value ((), int, pair, Left, Right"
                            f"{', Curried' if closure else ''})")
    return out[0]


def unquote(v: Value) -> Any:
    """A machine value as a catlib host value (closures have no host form)."""
    # `catlib.tree.fold`'s walk written out: a leaf's host value made where it is met, and a node with parts
    # remembered by identity (a value shared inside a value is converted once), not every leaf
    out: list[Any] = []
    memo: dict[int, Any] = {}
    todo: list[Any] = [v]  # values to convert; `_MAKE` above one whose parts are converted (they end `out`)
    while todo:
        t = todo.pop()
        if t is _MAKE:
            t = todo.pop()
            cls = type(t)
            if cls is Pair:
                b = out.pop()
                r: Any = (out.pop(), b)
            else:
                r = (Left if cls is L else Right)(out.pop())
            memo[id(t)] = r
            out.append(r)
        elif t is UnitV:
            out.append(())
        elif type(t) is IntV:
            out.append(t.label)
        elif id(t) in memo:
            out.append(memo[id(t)])
        elif type(t) in (Pair, L, R):
            todo += (t, _MAKE, *reversed(t.kids))
        elif isinstance(t, Closure):
            raise TypeError("a Closure has no host value")
        else:
            raise TypeError(f"not a machine value: {t!r}")
    return out[0]


def to_value(x: Any, known: tuple[Any, Value] | None = None) -> Value:
    """The machine value of host value `x`, in one walk (what `cam.decoded.outside` of `cam.decoded.to_internal`
    gives, without the internal form); `TypeError`/`ValueError` if it is not one, as `to_internal` raises.

    `known` is a host value and its machine value: where that very object is a part of `x`, the machine
    value is shared, not made again (a node's state that wraps the previous one).
    """
    seen, seen_value = known if known is not None else (MISSING, None)
    out: list[Any] = []
    todo: list[tuple[Any, bool]] = [(x, False)]
    while todo:
        v, ready = todo.pop()
        t = type(v)
        if ready:
            if t is tuple:
                b = out.pop()
                out.append(mk_value(Pair, (out.pop(), b)))
            elif t is HostClosure:
                out.append(mk_value(Closure, (v.code, out.pop())))
            else:
                out.append(mk_value(L if t is Left else R, (out.pop(),)))
        elif v is seen:  # (alive in `known`: its identity is no other value's)
            out.append(seen_value)
        elif t is tuple and not v:
            out.append(UnitV)
        elif t is int:
            if not INT_MIN <= v <= INT_MAX:
                raise ValueError(f"not a 64-bit int: {v}")
            out.append(mk_int(v))
        elif t is tuple and len(v) == 2:
            todo += [(v, True), (v[1], False), (v[0], False)]
        elif t is Left or t is Right:
            todo += [(v, True), (v.value, False)]
        elif t is HostClosure:
            if not isinstance(v.code, Code):
                raise TypeError(f"a machine closure holds Code, not {v.code!r}")
            todo += [(v, True), (v.env, False)]
        else:
            raise TypeError(f"not a host value ((), int, pair, Left, Right, HostClosure): {v!r}")
    return out[0]


def from_value(v: Value) -> Any:
    """The host value of machine value `v`."""
    return to_host(inside(v))


def _int(n: int, arg: bool) -> str:
    s = f"Int {n}" if n >= 0 else f"Int ({n})"
    return f"({s})" if arg else s


def host_text(h: Any, known: tuple[Any, str] | None = None) -> str:
    """The reference's text form of host value `h`: ``to_text`` of its machine value, without making it.

    Iterative, so a value nested 100,000 deep prints.  `known` is a host value and its text (a node's
    previous state): where that very object is a part of `h`, its text is copied, not written again (a
    state that wraps the previous one, a chain of closures growing by one per input, costs a copy).

    >>> old = (1, Left(()))
    >>> host_text((old, 2), (old, host_text(old)))
    'Pair (Pair (Int 1) (L Unit)) (Int 2)'
    """
    t = type(h)
    if t is int:
        return f"Int {h}" if h >= 0 else f"Int ({h})"
    if t is Left or t is Right:
        if type(h.value) is tuple and not h.value:  # the commonest outputs (no lookup: `Left` hashes in Python)
            return "L Unit" if t is Left else "R Unit"
    elif t is tuple and not h:
        return "Unit"
    out: list[str] = []
    todo: list[Any] = [(h, False)]  # an item is (host value, whether it is a constructor's argument) or a piece of text
    push, emit = todo.append, out.append
    codes: dict[int, str] = {}  # the text of each closure's code (alive in `h`), by identity: written once
    seen, seen_text = known if known is not None else (MISSING, "")
    while todo:
        item = todo.pop()
        if type(item) is str:
            emit(item)
            continue
        v, arg = item
        if v is seen:  # (the same object: alive in `known`, so its identity is not another value's)
            emit(f"({seen_text})" if arg and seen_text != "Unit" else seen_text)  # only Unit is written bare
            continue
        t = type(v)
        if t is int:
            emit(_int(v, arg))
            continue
        if t is tuple:
            if not v:
                emit("Unit")
                continue
            head, kids = "Pair", v
        elif t is Left or t is Right:
            head, kids = ("L" if t is Left else "R"), (v.value,)
        elif t is HostClosure:  # ``Closure CODE ENV``: the code's text as `to_text` writes a block operand
            code = codes.get(id(v.code))
            if code is None:
                if not isinstance(v.code, Code):
                    raise TypeError(f"a machine closure holds Code, not {v.code!r}")
                code = codes[id(v.code)] = to_text(v.code)
            emit(f"(Closure {code} " if arg else f"Closure {code} ")
            if arg:
                push(")")
            push((v.env, True))
            continue
        else:
            raise TypeError(f"not a host value ((), int, pair, Left, Right, HostClosure): {v!r}")
        emit(f"({head} " if arg else head + " ")  # (the space before the first argument, written here)
        if arg:
            push(")")
        if len(kids) == 2:
            push((kids[1], True))
            push(" ")
        push((kids[0], True))
    return "".join(out)


class StateForm(NamedTuple):
    """A node's state as it is kept at one moment (`HostState.state_form`): its machine value, or ``None``
    if not made yet, and its host value, or `MISSING`.  Taking it costs nothing; making the machine value
    from it (`form_value`) may take long for a big state, and may run on any thread: values are immutable."""

    value: Value | None
    host: Any


def form_value(form: StateForm) -> Value:
    """The machine value of the state `form` holds (made now if not at hand: long for a big state)."""
    return form.value if form.value is not None else to_value(form.host)


def small_value(form: StateForm, most: int) -> Value | None:
    """`form_value`, if it has at most `most` parts (counted in the form at hand, nothing made); else ``None``.

    >>> small_value(StateForm(None, (1, 2)), 3), small_value(StateForm(None, (1, (2, 3))), 3)
    (Pair(IntV(1), IntV(2)), None)
    >>> small_value(StateForm(Pair(IntV(1), IntV(2)), None), 2) is None
    True
    """
    if form.value is not None:
        return None if larger(form.value, most) else form.value
    todo, n = [form.host], 0
    while todo:
        n += 1
        if n > most:
            return None
        h = todo.pop()
        if type(h) is tuple:
            todo += h
        elif type(h) is Left or type(h) is Right:
            todo.append(h.value)
        elif type(h) is not int:  # a closure: its environment is not counted here
            return None
    return form_value(form)


class HostResult(NamedTuple):
    """What running one input gave, in host values: the new state, the output, the machine steps."""

    state: Any
    output: Any
    steps: int


class Ran(NamedTuple):
    """A long input's result made off the event loop with all its commit needs (`cam.node.Node.run_aside`):
    the machine's `cam.machine.Result`, its output's and its state's texts, and the state's host value."""

    result: Any
    output_text: str
    state_text: str
    host: Any


class HostState:
    """A node's state in two forms, each made from the other once, when first asked for after a change.

    Inputs run on the host value (`host_state`); the journal, snapshots, upgrades' checks and rollbacks
    use the machine value (`state`).  `state_text` is the text form, kept until the state changes.
    """

    _sv: Value | None
    _sh: Any
    _state_text: str | None
    _known: tuple[Any, Value] | None = None
    """The previous state's host and machine values, if both were made: the new machine value shares the
    old one where the new host value holds the old (`to_value`'s `known`), until the state is read or changes."""
    state_changes: int = 0
    """How many times the state was set: equal counts, the same state (cheaper than comparing values)."""

    @property
    def state(self) -> Value:
        """The state as a machine value."""
        v = self._sv
        if v is None:
            v = self._sv = to_value(self._sh, self._known)
            self._known = None
        return v

    @state.setter
    def state(self, v: Value) -> None:
        self._sv, self._sh, self._state_text, self._known = v, MISSING, None, None
        self.state_changes += 1

    @property
    def host_state(self) -> Any:
        """The state as a host value: what the loaded code runs on."""
        h = self._sh
        if h is MISSING:
            h = self._sh = from_value(self._sv)  # type: ignore[arg-type]
        return h

    def state_form(self) -> StateForm:
        """The state as it is kept now, to make its machine value elsewhere (`form_value`, in a worker thread)."""
        return StateForm(self._sv, self._sh)

    def know_state(self, v: Value, changes: int) -> None:
        """Keep `v`, the state's machine value made elsewhere when `state_changes` was `changes`, if the state has
        not changed since (so that nothing makes it again on the event loop)."""
        if self.state_changes == changes and self._sv is None:
            self._sv, self._known = v, None  # (the previous state's values are no longer needed)

    def set_host_state(self, h: Any, text: str | None = None, follows: bool = False) -> None:
        """Make host value `h` the state (`text`: its text form, if known).  With `follows` (a state made
        from the one it replaces), its machine value, when made, shares the previous one's parts it holds."""
        old, value = self._sh, self._sv
        self._known = (old, value) if follows and value is not None and old is not MISSING else None
        self._sh, self._sv, self._state_text = h, None, text
        self.state_changes += 1

    def follow_host(self, h: Any) -> str:
        """Make `h`, the host value an input made of the state, the state; its text, the previous state's text
        copied where `h` holds the previous state (a state wrapping the last one), kept for snapshots."""
        old, old_text = self._sh, self._state_text
        text = host_text(h, None if old_text is None or old is MISSING else (old, old_text))
        self.set_host_state(h, text, True)
        return text

    def set_forms(self, v: Value, h: Any, text: str) -> None:
        """Make `v` the state, `h` its host value and `text` its text (all made elsewhere, of the same value)."""
        self._sv, self._sh, self._state_text, self._known = v, h, text, None
        self.state_changes += 1

    def state_text(self) -> str:
        """The state's text form (kept from the last change: a big state takes long to print)."""
        text = self._state_text
        if text is None:
            text = self._state_text = host_text(self._sh) if self._sh is not MISSING else to_text(self.state)
        return text
