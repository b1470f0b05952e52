"""cam.verifier: typing of every instruction, every kind of rejection, limits, deep code, values."""

from __future__ import annotations

import time

import pytest

from cam.code import (
    ADD,
    APP,
    BRANCH,
    CONS,
    COPY,
    CURRY,
    FST,
    ID,
    INL,
    PUSH,
    QUOTE,
    RETURN,
    SND,
    SWAP,
    Closure,
    Code,
    Instr,
    IntV,
    L,
    Pair,
    R,
    UnitV,
)
from cam.compiler import DISTR_CODE, compile
from cam.machine import step
from cam.text import parse_code, parse_value
from cam.verifier import BytecodeError, ValueTypeError, check_value, value_has_type, verify
from catlib.free import Add, Case, Compose, Copy, Id, Inl, Inr, Par
from catlib.tree import Tree
from catlib.typecheck import Signature, infer
from catlib.types import Fun, Prod, Sum, parse


def sig(text: str) -> str:
    return str(verify(parse_code(text)))


# ---------------------------------------------------------------- every instruction


@pytest.mark.parametrize("code, expected", [
    ("[ID]", "a / b -> b"),
    ("[FST]", "a / (b, c) -> b"),
    ("[SND]", "a / (b, c) -> c"),
    ("[COPY]", "a / b -> (b, b)"),
    ("[CONSUME]", "a / b -> ()"),
    ("[FIRST,CONS]", "a / (b, c) -> (c, b)"),          # FIRST pushes the right component
    ("[SECOND,CONS]", "a / (b, c) -> (b, c)"),         # SECOND pushes the left one
    ("[PUSH,CONS]", "a / b -> (b, b)"),
    ("[PUSH,QUOTE (Int 1),SWAP,CONS]", "a / b -> (Int, b)"),
    ("[QUOTE (Pair (Int 1) (L Unit))]", "a / b -> (Int, Either () c)"),
    ("[QUOTE (R Unit)]", "a / b -> Either c ()"),
    ("[ADD]", "a / (Int, Int) -> Int"),
    ("[SUB]", "a / (Int, Int) -> Int"),
    ("[MUL]", "a / (Int, Int) -> Int"),
    ("[LT]", "a / (Int, Int) -> Either () ()"),
    ("[EQ]", "a / (Int, Int) -> Either () ()"),
    ("[DIVMOD]", "a / (Int, Int) -> Either () (Int, Int)"),
    ("[CURRY [SND,RETURN]]", "a / b -> c -> c"),
    ("[CURRY [FST,RETURN]]", "a / b -> c -> b"),
    ("[QUOTE (Closure [SND,FST,RETURN] Unit)]", "a / b -> (c, d) -> c"),
    ("[APP]", "a / (b -> c, b) -> c"),
    ("[PUSH,CURRY [FST,RETURN],SWAP,CONS,APP]", "a / b -> b"),
    ("[INL]", "a / b -> Either b c"),
    ("[INR]", "a / b -> Either c b"),
    ("[BRANCH [INR,RETURN] [INL,RETURN]]", "a / Either b c -> Either c b"),
    ("[PUSH,PUSH,ROT,CONS,CONS]", "a / b -> (b, (b, b))"),
    ("[GET]", "a / () -> a"),                          # typed like the term Get : () -> s
    ("[PUT]", "a / a -> ()"),
    ("[]", "a / b -> b"),
])
def test_instruction_types(code, expected):
    assert sig(code) == expected


def test_every_instruction_is_covered():
    from cam.code import OPS
    text = " ".join(case[0] for case in test_instruction_types.pytestmark[0].args[1])
    for op in OPS:
        assert op in text


def test_distr_code_verifies_at_its_type():
    assert verify(DISTR_CODE) == verify(DISTR_CODE).normalized()
    assert str(verify(DISTR_CODE)) == "a / (Either b c, d) -> Either (b, d) (c, d)"
    s = verify(DISTR_CODE, input="(Either a b, c)", output="Either (a, c) (b, c)")
    assert str(s) == "d / (Either a b, c) -> Either (a, c) (b, c)"


REFERENCE = {
    "[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]":
        "Int / Either () () -> Either () Int",
    "[ID,BRANCH [COPY,FIRST,ID,GET,FST,SWAP,CONS,SECOND,ID,GET,SND,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,"
    "ADD,CONS,PUT,INL,RETURN] [ID,GET,SND,INR,RETURN]]": "(a, Int) / Either () () -> Either () Int",
    "[COPY,FIRST,ID,SWAP,CONS,SECOND,CONSUME,QUOTE (Int 0),CONS]": "a / b -> (b, Int)",
}


@pytest.mark.parametrize("text", list(REFERENCE))
def test_reference_test_vectors(text):
    assert sig(text) == REFERENCE[text]


def test_declared_types():
    counter = parse_code(list(REFERENCE)[0])
    assert str(verify(counter, state="Int")) == "Int / Either () () -> Either () Int"
    assert str(verify(parse_code("[FST]"), input="(a, a)", output="a")) == "b / (a, a) -> a"
    assert str(verify(parse_code("[COPY]"), input="x", output="(x, x)")) == "a / x -> (x, x)"
    with pytest.raises(BytecodeError, match="declared|expected"):
        verify(counter, state="()")
    # declared variables must stay general, and distinct
    with pytest.raises(BytecodeError) as e:
        verify(parse_code("[ID]"), input="a", output="b")
    assert e.value.path == (1,) and e.value.expected == "b" and e.value.found == "a"
    with pytest.raises(BytecodeError):
        verify(parse_code("[ADD]"), input="a")
    for op in ("SUB", "MUL", "LT", "EQ", "DIVMOD"):
        with pytest.raises(BytecodeError, match=f"{op} needs two Ints"):
            verify(parse_code(f"[QUOTE (Pair (Int 1) Unit),{op}]"))
    with pytest.raises(BytecodeError):
        verify(parse_code("[QUOTE (Int 1)]"), output="a")


def test_compiled_terms_get_their_terms_signature():
    for term in [Copy >> Par(Id, Add), Case(Inr, Inl), Compose(Case(Id, Id), Inl), Copy >> Par(Inl, Inr)]:
        assert verify(compile(term)).normalized() == infer(term).normalized()


# ---------------------------------------------------------------- rejections


def rejects(text: str, **declared) -> BytecodeError:
    with pytest.raises(BytecodeError) as e:
        verify(parse_code(text), **declared)
    err = e.value
    assert err.expected in str(err) and err.found in str(err)
    return err


@pytest.mark.parametrize("code, path, reason, found", [
    ("[CONS]", (0,), "stack underflow", "an empty stack"),
    ("[SWAP]", (0,), "stack underflow", "an empty stack"),
    ("[PUSH,ROT]", (1,), "stack underflow", "an empty stack"),
    ("[CURRY [ROT,RETURN]]", (0, "body", 0), "stack underflow", "the bottom of the closure body's stack"),
    ("[CURRY [CONS,RETURN]]", (0, "body", 0), "a continuation where a value is needed", "a code continuation"),
    ("[BRANCH [PUSH,RETURN] [RETURN]]", (0, "left", 1), "a value where a continuation is needed",
     "a value of type a"),
    ("[BRANCH [SWAP,RETURN] [RETURN]]", (0, "left", 0), "a continuation where a value is needed",
     "a code continuation"),
    ("[BRANCH [ID] [RETURN]]", (0, "left", 1), "the block can fall off its end", "no RETURN"),
    ("[CURRY [SND]]", (0, "body", 1), "the block can fall off its end", "no RETURN"),
    ("[RETURN]", (0,), "stack underflow", "an empty stack"),
    ("[PUSH,RETURN]", (1,), "a value where a continuation is needed", "a value of type a"),
    ("[CONSUME,COPY,ADD]", (2,), "ADD needs two Ints", "((), ())"),
    ("[QUOTE (Pair (Int 1) Unit),ADD]", (1,), "ADD needs two Ints", "(Int, ())"),
    ("[QUOTE (Int 1),PUT,QUOTE (Pair Unit (Int 1)),PUT]", (3,), "PUT changes the state's type", "((), Int)"),
    ("[QUOTE (Int 1),BRANCH [RETURN] [RETURN]]", (1,), "not a sum", "Int"),
    ("[QUOTE (Int 1),FST]", (1,), "not a pair", "Int"),
    ("[QUOTE Unit,APP]", (1,), "not a closure application", "()"),
    ("[QUOTE (Int 1),GET]", (1,), "GET is typed () -> state", "Int"),
    ("[BRANCH [QUOTE Unit,RETURN] [QUOTE (Int 2),RETURN]]", (0, "right", 1), "the branches disagree", "Int"),
    ("[PUSH,BRANCH [ROT,CONS,RETURN] [RETURN]]", (1, "right", 0), "the branches leave different stacks",
     "1 entry"),
    ("[PUSH]", (1,), "unbalanced stack", "1 entry (top: a value of type a)"),
    ("[CURRY [PUSH,ROT,RETURN]]", (0, "body", 2), "unbalanced stack in a closure body",
     "more entries below it (next: a value of type (a, b))"),
    ("[CURRY [PUSH,ROT,CONS,RETURN]]", (0, "body", 2), "a continuation where a value is needed",
     "a code continuation"),
    ("[CURRY [PUSH,ROT,ROT,RETURN]]", (0, "body", 3), "a value where a continuation is needed",
     "a value of type (a, b)"),
    ("[BRANCH [RETURN,ID] [RETURN]]", (0, "left", 1), "unreachable code after RETURN", "1 more instruction(s) after it"),
    ("[GET,COPY,PUT]", (2,), "infinite type", "t = (t, t)"),
    ("[CURRY [SND,COPY,APP,RETURN]]", (0, "body", 2), "infinite type", "t = t -> b"),
])
def test_rejections(code, path, reason, found):
    err = rejects(code)
    assert (err.path, err.reason) == (path, reason), str(err)
    assert err.found.startswith(found), str(err)
    assert "/".join(map(str, path)) in str(err) and reason in str(err)


def test_branches_that_would_return_to_another_continuation():
    # The inner branch swaps its continuation with the outer one: it resumes the outer code with
    # the inner continuation still on the stack, which the outer code then never pops.
    err = rejects("[QUOTE (L (L Unit)),BRANCH [BRANCH [ROT,RETURN] [ROT,RETURN],RETURN] [RETURN]]")
    assert err.reason == "unbalanced stack"
    # ... and returning through it afterwards is fine when the types and stacks agree
    code = "[QUOTE (L (L Unit)),BRANCH [BRANCH [ROT,RETURN] [ROT,RETURN],QUOTE (Int 7),RETURN] [QUOTE (Int 8),RETURN],RETURN]"
    assert rejects(code).reason in ("stack underflow", "the block can fall off its end", "unbalanced stack")


def test_closure_in_the_state_is_rejected():
    # Landin's knot: a closure that fetches itself from the state and calls itself, forever.
    err = rejects("[CURRY [SND,PUSH,CONSUME,GET,SWAP,CONS,APP,RETURN],PUT]")
    assert err.reason == "closures in the state could call themselves forever"
    assert err.path == (0, "body", 3)  # the GET in the closure's code
    # a knot through a closure quoted in the code, and one nested in a closure's closure
    assert rejects("[QUOTE (Closure [SND,PUSH,CONSUME,GET,SWAP,CONS,APP,RETURN] Unit),PUT]").reason == (
        "closures in the state could call themselves forever")
    nested = rejects("[CURRY [CURRY [CONSUME,GET,SND,RETURN],RETURN],CONSUME]", state="(Int -> Int, Int)")
    assert nested.reason == "closures in the state could call themselves forever"
    assert nested.path == (0, "body", 0, "body", 1)


def test_functions_in_the_state_when_no_closure_uses_the_state():
    # a rule kept in the state and applied by the top level: closures that leave the state alone halt
    assert str(verify(parse_code("[ID]"), state="Int -> Int")) == "Int -> Int / a -> a"
    keep = parse_code("[CURRY [SND,RETURN],PUT]")  # store the identity function
    assert str(verify(keep)) == "a -> a / b -> ()"
    use = parse_code("[PUSH,CONSUME,GET,SWAP,CONS,APP]")  # apply the stored rule to the input
    assert str(verify(use, state="Int -> Int")) == "Int -> Int / Int -> Int"
    # a closure that reads the state is fine while the state holds no functions
    assert str(verify(parse_code("[CURRY [CONSUME,GET,RETURN]]"), state="Int")) == "Int / a -> b -> Int"


def test_malformed_values_and_code():
    bad_int = IntV.__new__(IntV)
    Tree.__init__(bad_int, label=2**70)
    half_pair = Pair.__new__(Pair)
    Tree.__init__(half_pair, UnitV)
    not_a_value = Pair.__new__(Pair)
    Tree.__init__(not_a_value, UnitV, "junk")
    for v, where in [(bad_int, (0, "value")), (half_pair, (0, "value")), (not_a_value, (0, "value", "right"))]:
        with pytest.raises(BytecodeError) as e:
            verify(Code([QUOTE(v)]))
        assert e.value.path == where and "malformed value" in str(e.value)
    junk_code = Code.__new__(Code)
    Tree.__init__(junk_code, ID, "FST")
    with pytest.raises(BytecodeError, match="malformed code"):
        verify(junk_code)
    no_op = Instr.__new__(Instr)
    Tree.__init__(no_op)
    with pytest.raises(BytecodeError, match="malformed code"):
        verify(Code([Instr("CURRY", Code([RETURN])), no_op]))
    weird = Instr.__new__(Instr)
    Tree.__init__(weird, Code(), label="BRANCH")  # one block instead of two
    with pytest.raises(BytecodeError, match="malformed instruction"):
        verify(Code([weird]))
    unhashable = Instr.__new__(Instr)
    Tree.__init__(unhashable, label=("ID",))
    with pytest.raises(BytecodeError, match="malformed code"):
        verify(Code([unhashable]))
    for junk in ["[ID]", None, [ID], ID, UnitV]:
        with pytest.raises(BytecodeError, match="not code"):
            verify(junk)  # type: ignore[arg-type]


def test_limits():
    code = Code([ID] * 11)
    verify(code, max_size=11)
    err = pytest.raises(BytecodeError, verify, code, max_size=10).value
    assert err.reason == "code too large" and err.path == (10,)
    nested = Code([BRANCH(Code([BRANCH(Code([RETURN]), Code([RETURN])), RETURN]), Code([RETURN]))])
    verify(nested, max_depth=3)
    err = pytest.raises(BytecodeError, verify, nested, max_depth=2).value
    assert err.reason == "code too deep" and err.path == (0, "left", 0, "left")
    value = Code([QUOTE(parse_value("Pair (Pair Unit Unit) Unit"))])
    verify(value, max_depth=4)  # code 1, the pair 2, the inner pair 3, its units 4
    assert pytest.raises(BytecodeError, verify, value, max_depth=3).value.reason == "code too deep"
    # a type with 2**64 leaves is shared, not expanded: rejected at once
    t0 = time.perf_counter()
    err = pytest.raises(BytecodeError, verify, Code([COPY] * 64)).value
    assert err.reason == "type too large" and time.perf_counter() - t0 < 1
    assert str(verify(Code([COPY] * 4))).count("b") == 1 + 16


# ---------------------------------------------------------------- deep code: no recursion


N = 100_000


@pytest.mark.usefixtures("no_gc")
def test_deeply_nested_branches():
    code = Code([ID])
    for _ in range(N):
        code = Code([INL, BRANCH(code + Code([RETURN]), Code([RETURN]))])
    assert str(verify(code)) == "a / b -> b"
    with pytest.raises(BytecodeError, match="too deep"):
        verify(code, max_depth=1000)


@pytest.mark.usefixtures("no_gc")
def test_deeply_nested_closures_and_values():
    body = Code([SND, RETURN])
    for _ in range(N // 2):
        body = Code([SND, PUSH, CURRY(body), SWAP, CONS, APP, RETURN])
    assert str(verify(Code([PUSH, CURRY(body), SWAP, CONS, APP]))) == "a / b -> b"
    v = UnitV
    for _ in range(N // 4):  # far beyond Python's recursion limit, and cheaper than N
        v = Pair(v, L(IntV(1)))
    s = verify(Code([QUOTE(v), FST]), max_type_size=N)
    assert s.output.size() > N // 4
    clo = Closure(Code([SND, RETURN]), UnitV)
    for _ in range(N // 10):
        clo = Closure(Code([QUOTE(clo), RETURN]), UnitV)
    assert str(verify(Code([QUOTE(clo)]))).startswith("a / b -> c -> d -> ")


@pytest.mark.usefixtures("no_gc")
def test_long_flat_code_and_deep_stack():
    code = Code([PUSH] * N + [CONS] * N)
    assert verify(code, max_type_size=10 * N).output.size() == 2 * N + 1
    assert str(verify(Code([COPY, ADD] * N))) == "a / Int -> Int"


# ---------------------------------------------------------------- values


def test_check_value():
    assert value_has_type(Pair(IntV(1), L(UnitV)), parse("(Int, Either () b)"))
    assert not value_has_type(Pair(IntV(1), L(UnitV)), parse("(Int, Either Int b)"))
    assert value_has_type(R(IntV(3)), "Either () Int")
    assert value_has_type(UnitV, parse("a"))
    # variables accept any value, consistently
    assert value_has_type(Pair(IntV(1), IntV(2)), parse("(a, a)"))
    assert not value_has_type(Pair(IntV(1), UnitV), parse("(a, a)"))
    assert value_has_type(Pair(L(UnitV), R(IntV(1))), parse("(a, a)"))
    err = pytest.raises(ValueTypeError, check_value, Pair(IntV(1), Pair(UnitV, UnitV)), parse("(Int, (Int, ()))")).value
    assert (err.path, err.expected, err.found) == (("right", "left"), "Int", "Unit")
    assert "right/left" in str(err)


def test_check_value_closures():
    fst = parse_value("Closure [SND,FST,RETURN] Unit")
    assert value_has_type(fst, Fun(Prod(parse("Int"), parse("()")), parse("Int")))
    assert value_has_type(fst, parse("(a, b) -> a"))
    assert not value_has_type(fst, parse("Int -> Int"))
    assert not value_has_type(fst, parse("(Int, ()) -> ()"))
    assert value_has_type(fst, parse("(a, b) -> b"))  # at the instance (a, a) -> a
    # the closure and its argument must fit together (else APP could get stuck)
    assert value_has_type(Pair(fst, Pair(IntV(1), UnitV)), parse("(a -> b, a)"))
    assert not value_has_type(Pair(fst, IntV(1)), parse("(a -> b, a)"))
    env = parse_value("Closure [FST,RETURN] (Int 5)")
    assert value_has_type(env, parse("() -> Int")) and not value_has_type(env, parse("() -> ()"))
    err = pytest.raises(ValueTypeError, check_value, parse_value("Closure [SND,ADD] Unit"), parse("a")).value
    assert err.path == ("code", 2) and "fall off" in str(err)
    assert not value_has_type(IntV(1), parse("a -> b"))


def test_check_value_malformed():
    for junk in [None, 3, (), "Unit", Code([ID])]:
        assert not value_has_type(junk, parse("a"))  # type: ignore[arg-type]
        assert not value_has_type(junk, parse("()"))  # type: ignore[arg-type]
    bad_int = IntV.__new__(IntV)
    Tree.__init__(bad_int, label=True)
    assert not value_has_type(bad_int, parse("Int")) and not value_has_type(Pair(bad_int, UnitV), parse("a"))
    deep = UnitV
    for _ in range(N // 4):
        deep = L(deep)
    assert not value_has_type(deep, parse("Either () ()"))
    t = parse("()")
    for _ in range(N // 4):
        t = Sum(t, parse("()"))
    assert value_has_type(deep, t)


def test_the_machine_agrees_on_a_closure_program():
    code = parse_code("[PUSH,CURRY [FST,COPY,ADD,RETURN],SWAP,CONS,APP]")
    assert verify(code) == Signature(*map(parse, ("a", "Int", "Int")))
    assert step(code, IntV(21), UnitV) == (UnitV, IntV(42))


def test_closures_passed_in_cannot_change_the_state_type():
    # The program applies its input closure, then adds the state to itself: a closure that
    # PUTs () into the state would get it stuck.
    prog = parse_code("[PUSH,CONSUME,CONS,APP,GET,COPY,ADD]")
    sig = verify(prog)
    assert str(sig) == "Int / (() -> ()) -> Int"
    evil = parse_value("Closure [QUOTE Unit,PUT,QUOTE Unit,RETURN] Unit")
    assert not value_has_type(evil, sig.input) and not value_has_type(evil, sig.input, state=sig.state)
    with pytest.raises(Exception, match="stuck"):
        step(prog, evil, IntV(1))
    # moving the state around is fine whatever its type; using it needs the program's state type
    assert value_has_type(parse_value("Closure [CONSUME,GET,PUT,RETURN] Unit"), sig.input)
    reads = parse_value("Closure [CONSUME,GET,COPY,ADD,PUT,RETURN] Unit")
    assert value_has_type(reads, sig.input, state=sig.state) and not value_has_type(reads, sig.input)
    assert step(prog, reads, IntV(1)) == (IntV(2), IntV(4))
