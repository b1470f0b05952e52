"""The language beyond addition: Sub, Mul, Lt, Eq, DivMod, their instructions, and code for the reference."""

import pytest
from hypothesis import event, given, settings

from cam.code import REFERENCE_OPS, Instr, IntV, L, Pair, R, UnitV
from cam.compiler import BEYOND_REFERENCE, CompileError, compile
from cam.machine import step as machine_step
from catlib.free import DivMod, Eq, Lt, Mul, Sub, subterms
from catlib.interpreter import InterpretError, step
from catlib.strategies import typed_terms
from catlib.tree import walk
from catlib.values import INT_MAX, INT_MIN, Left, Right, divmod64, wrap
from tests.conftest import scaled

EDGES = (0, 1, -1, 2, -2, 7, -7, INT_MAX, INT_MIN, INT_MAX - 1, INT_MIN + 1, 2**32, -(2**32))


def test_integer_primitives_against_python_at_the_boundaries():
    for a in EDGES:
        for b in EDGES:
            assert step(Sub, (a, b), ())[1] == wrap(a - b)
            assert step(Mul, (a, b), ())[1] == wrap(a * b)
            assert step(Lt, (a, b), ())[1] == (Left(()) if a < b else Right(()))
            assert step(Eq, (a, b), ())[1] == (Left(()) if a == b else Right(()))
            got = step(DivMod, (a, b), ())[1]
            if b == 0:
                assert got == Left(())
            else:  # Python's rounding (floor), the quotient wrapped: a == q*b + r modulo 2**64
                q, r = got.value
                assert (q, r) == (wrap(a // b), a % b) and wrap(q * b + r) == a
                assert r == 0 or (r > 0) == (b > 0)
    assert divmod64(INT_MIN, -1) == Right((INT_MIN, 0))


def test_bad_inputs_are_refused():
    for t in (Sub, Mul, Lt, Eq, DivMod):
        with pytest.raises(InterpretError, match=f"{t.op} expects a pair of ints"):
            step(t, (1, ()), ())
        with pytest.raises(Exception, match="needs a Pair of two Ints"):
            machine_step(compile(t), Pair(IntV(1), UnitV), UnitV)
    assert machine_step(compile(DivMod), Pair(IntV(5), IntV(0)), IntV(9)) == (IntV(9), L(UnitV))
    assert machine_step(compile(DivMod), Pair(IntV(INT_MIN), IntV(-1)), UnitV) == (
        UnitV, R(Pair(IntV(INT_MIN), IntV(0))))


def _ops(code):
    return {x.op for x in walk(code) if isinstance(x, Instr)}


@settings(max_examples=scaled(200))
@given(typed_terms(max_size=10))
def test_reference_code_uses_only_the_reference_instructions(case):
    term, _ = case
    beyond = [(p, t) for p, t in subterms(term) if t.op in BEYOND_REFERENCE]
    if beyond:
        event("needs an instruction beyond the reference")
        with pytest.raises(CompileError, match="which the reference machine lacks") as info:
            compile(term, reference=True)
        assert info.value.path == beyond[0][0]
        assert not _ops(compile(term)) <= set(REFERENCE_OPS)
    else:
        event("reference code")
        code = compile(term, reference=True)
        assert code == compile(term) and _ops(code) <= set(REFERENCE_OPS)


def test_beyond_reference_table():
    assert BEYOND_REFERENCE == {"Sub": ("SUB",), "Mul": ("MUL",), "Lt": ("LT",), "Eq": ("EQ",),
                                "DivMod": ("DIVMOD",)}
    assert len(REFERENCE_OPS) == 21


def test_bank_refuses_overdrafts_small_and_fast():
    from cam.hostvalue import quote
    from cam.machine import execute
    from catlib.examples.bank import BALANCE, UPGRADE, bank, deposit, withdraw
    from catlib.interpreter import run

    assert sum(1 for _ in walk(bank)) == 129  # against 1,553 built from addition alone
    code = compile(bank)
    steps = {}
    for name, cmd in [("deposit", deposit(5)), ("withdraw", withdraw(3)), ("refused", withdraw(100)),
                      ("balance", BALANCE)]:
        got = execute(code, quote(cmd), quote(10))
        assert (got.state, got.output) == tuple(map(quote, step(bank, cmd, 10)))
        steps[name] = got.steps
    assert steps == {"deposit": 62, "withdraw": 86, "refused": 65, "balance": 9}  # against 1,720 per withdrawal
    assert run(bank, [withdraw(1)], 0) == (0, [Left(())])
    # negative amounts and wrap-around are refused, state unchanged
    assert run(bank, [withdraw(INT_MIN), deposit(-5), deposit(INT_MAX), deposit(1), withdraw(-1)], 0) == (
        INT_MAX, [Left(()), Left(()), Right(INT_MAX), Left(()), Left(())])
    with pytest.raises(CompileError, match="Lt at root"):
        compile(bank, reference=True)
    UPGRADE.check()


def test_ports_compare_subtract_multiply_divide():
    from catlib.free import Fst, Snd
    from catlib.syntax import Port, eq, pair, pdivmod, sm

    def pair_of(*ports):
        out = ports[-1]
        for q in reversed(ports[:-1]):
            out = pair(q, out)
        return out

    @sm
    def f(p):
        a, b = p
        return pair_of(a - b, a * b, -a, a < b, a <= b, eq(a, b), pdivmod(a, b))

    for a, b in [(3, 5), (5, 3), (4, 4), (INT_MIN, -1), (7, 0)]:
        got = step(f, (a, b), ())[1]
        lt, le, same = (Left(()) if c else Right(()) for c in (a < b, a <= b, a == b))
        assert got == (wrap(a - b), (wrap(a * b), (wrap(-a), (lt, (le, (same, divmod64(a, b)))))))
    with pytest.raises(TypeError, match="eq\\(p, q\\)"):
        Port(Fst) == Port(Snd)  # noqa: B015 - the comparison is what raises
    with pytest.raises(TypeError, match="no truth value"):
        bool(Port(Fst) < Port(Snd))
    with pytest.raises(TypeError, match="Sub needs integer ports"):
        Port(Fst) - "x"
