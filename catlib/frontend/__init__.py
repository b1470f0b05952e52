"""Machines written as plain Python functions, compiled to free terms.

>>> from catlib.frontend import machine, Either, Unit, Left, Right
>>> @machine
... def counter(cmd: Either[Unit, Unit], count: int = 0) -> tuple[int, Either[Unit, int]]:
...     match cmd:
...         case Left(()):
...             return count + 1, Left(())
...         case Right(()):
...             return count, Right(count)
>>> str(counter.signature)
'Int / Either () () -> Either () Int'
>>> counter(Left(()), 41)                       # the Python function itself
(42, Left(()))
>>> from catlib.interpreter import step
>>> step(counter.term, Left(()), 41)             # the term: the same answer
(42, Left(()))

The function is compiled when it is decorated; anything outside the subset
raises `SourceError` at its line (see ``docs/frontend.md`` for the subset).
"""

from catlib.frontend.decorator import Machine, machine
from catlib.frontend.errors import SourceError
from catlib.frontend.hints import Either
from catlib.types import Unit
from catlib.values import Left, Right

__all__ = ["machine", "Machine", "SourceError", "Either", "Unit", "Left", "Right"]
