"""catlib: state machines as terms of the free Cartesian category with state.

>>> from catlib import Copy, Par, Snd, Fst, infer, step
>>> swap = Copy >> Par(Snd, Fst)
>>> str(infer(swap)), step(swap, (1, 2), ())
('a / (b, c) -> (c, b)', ((), (2, 1)))
"""

from catlib.free import (
    FREE,
    Add,
    Apply,
    Case,
    Compose,
    Const,
    Consume,
    Copy,
    Curry,
    Distr,
    DivMod,
    Embed,
    Eq,
    Fst,
    Get,
    Id,
    Inl,
    Inr,
    Lt,
    Mul,
    Par,
    Put,
    Snd,
    Sub,
    Term,
)
from catlib.interpreter import run, step
from catlib.typecheck import Signature, TermTypeError, check, infer
from catlib.types import Fun, Int, Prod, Sum, Type, Unit, Var, parse
from catlib.values import Curried, Left, Right

__all__ = [
    "FREE", "Add", "Case", "Compose", "Const", "Consume", "Copy", "Distr", "Embed", "Fst", "Get",
    "Id", "Inl", "Inr", "Par", "Put", "Snd", "Term",
    "Sub", "Mul", "Lt", "Eq", "DivMod", "Curry", "Apply", "Curried", "run", "step", "Signature", "TermTypeError",
    "check", "infer", "Fun", "Int", "Prod", "Sum", "Type", "Unit", "Var", "parse", "Left", "Right",
]
