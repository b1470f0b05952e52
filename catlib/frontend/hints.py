"""How a plain machine spells its types: Python annotations read as `catlib.types` types.

==========================  ==========================  =====================
annotation                  type                        host values
==========================  ==========================  =====================
``int``                     ``Int`` (64 bits, wrapping)  ``int``
``Unit`` or ``tuple[()]``   ``()``                      ``()``
``tuple[a, b]``             ``(a, b)``                  2-tuples
``Either[a, b]``            ``Either a b``              ``Left(x)``, ``Right(y)``
``Callable[[a], b]``        ``a -> b``                  `Curried`, Python callables
``"Either Int ()"``         the type the text names     (`catlib.types.parse`)
==========================  ==========================  =====================

(``Unit`` is `catlib.types.Unit`; a `catlib.types.Type` is accepted as
it is.)  Names bound at module level to any of these (``Command = Either[int, Unit]``)
may be used too.  Tuples are pairs: ``tuple[a, b, c]`` is refused (write
``tuple[a, tuple[b, c]]``), so that a machine's host values are exactly the
ones `catlib.interpreter.step` takes.

>>> str(hint_type(Either[int, tuple[Unit, int]]))
'Either Int ((), Int)'
"""

from __future__ import annotations

import collections.abc
import typing
from typing import Any, Generic, TypeVar

from catlib.types import Fun, Int, Prod, Sum, Type, TypeParseError, Unit, parse

__all__ = ["Either", "Unit", "hint_type", "HintError"]

A = TypeVar("A")
B = TypeVar("B")


class Either(Generic[A, B]):
    """``Either[a, b]`` in an annotation is the sum type ``Either a b``; its values are
    `catlib.values.Left` and `catlib.values.Right` (this class has no instances)."""

    def __new__(cls, *args: object, **kwargs: object) -> Either[A, B]:
        raise TypeError("Either is for annotations; its values are Left(x) and Right(y) (catlib.values)")


class HintError(TypeError):
    """An annotation that names no type of the frontend."""


def hint_type(hint: Any) -> Type:
    """The `catlib.types` type an annotation object stands for (`HintError` if none)."""
    # annotations are a few levels deep: the recursion is bounded by what a user writes
    if isinstance(hint, Type):
        return hint
    if isinstance(hint, str):
        try:
            return parse(hint)
        except TypeParseError as e:
            raise HintError(f"the text {hint!r} is not a type: {e}") from None
    if hint is int:
        return Int
    if hint is bool:
        raise HintError("bool is not a machine type: a truth value is Either[Unit, Unit] (Left(()) is true)")
    if hint is None or hint is type(None):
        raise HintError("None is not a machine type: the unit type is Unit, its value ()")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        if args == () or hint == tuple[()]:
            return Unit
        if len(args) == 2 and args[1] is not Ellipsis:
            return Prod(hint_type(args[0]), hint_type(args[1]))
        raise HintError(f"{_show(hint)}: tuples are pairs here; nest them, tuple[a, tuple[b, c]]")
    if origin is Either:
        return Sum(hint_type(args[0]), hint_type(args[1]))
    if origin is collections.abc.Callable:
        params, result = args
        if not isinstance(params, list) or len(params) != 1:
            raise HintError(f"{_show(hint)}: a function takes one argument (a pair for two): Callable[[a], b]")
        return Fun(hint_type(params[0]), hint_type(result))
    if hint is Either or hint is tuple:
        raise HintError(f"{_show(hint)} needs its parameters: Either[a, b], tuple[a, b]")
    raise HintError(f"{_show(hint)} is not a machine type: use int, Unit, tuple[a, b], Either[a, b], "
                    "Callable[[a], b]")


def _show(hint: Any) -> str:
    return getattr(hint, "__name__", None) or repr(hint)
