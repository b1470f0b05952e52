"""Programs written once against the interfaces, for any instance.

>>> from catlib.free import FREE
>>> from catlib.instances import MACHINES
>>> from catlib.typecheck import infer
>>> from catlib.values import Left, Right
>>> str(infer(counter(FREE)))
'Int / Either a b -> Either () Int'
>>> counter(MACHINES)(Left(()), 41), counter(MACHINES)(Right(()), 41)
((42, Left(())), (41, Right(41)))
"""

from __future__ import annotations

from catlib.cartesian import Cartesian, Machine
from catlib.category import M


def swap(C: Cartesian[M]) -> M:
    """The seed's ``swap = copy >>> snd *** fst : (a, b) -> (b, a)``."""
    return C.then(C.copy(), C.cross(C.snd(), C.fst()))


def add_constant(C: Machine[M], k: int) -> M:
    """``Int -> Int``: add `k` (the reference's ``Add . (Const k *** Id) . Copy``) in any instance.

    (`catlib.syntax.kadd` is the same as a term, under the seed's name.)
    """
    return C.then(C.copy(), C.first(C.const(k)), C.add())


def counter(C: Machine[M]) -> M:
    """The seed's counter, point-free: ``Int / Either () () -> Either () Int``.

    ``Left ()`` increments and answers ``Left ()``; ``Right ()`` answers the count.
    """
    incr = C.then(C.consume(), C.get(), add_constant(C, 1), C.put(), C.inl())
    count = C.then(C.consume(), C.get(), C.inr())
    return C.case(incr, count)
