"""Tests for what mutation testing found unchecked: each fails on a mutant that survived the rest.

Grouped by module; each test names, in its docstring, the kind of mutant it kills.
"""

from __future__ import annotations

import pytest

from cam.code import (
    BRANCH,
    CONS,
    CURRY,
    ID,
    INL,
    PUSH,
    QUOTE,
    RETURN,
    SWAP,
    Code,
    Instr,
    IntV,
    L,
    Pair,
    R,
    UnitV,
    to_text,
)
from cam.machine import Cont, OutOfFuel, Result, Stuck, execute
from cam.text import parse_code, parse_value
from cam.verifier import BytecodeError, ValueTypeError, check_value, verify
from catlib.free import Add, Case, Compose, Const, Consume, Copy, Distr, Embed, Fst, Get, Id, Inl, Inr, Par, Put, Snd
from catlib.interpreter import InterpretError, run, step
from catlib.typecheck import TermTypeError, check, infer, infer_types
from catlib.types import Unifier
from catlib.types import parse as parse_type
from catlib.values import INT_MAX, INT_MIN, Left, Right

# ---------------------------------------------------------------- catlib.interpreter.step


@pytest.mark.parametrize("term, value, message", [
    (Par(Id, Id), 3, "Par expects a pair, got 3"),
    (Par(Id, Id), (1, 2, 3), "Par expects a pair, got (1, 2, 3)"),
    (Par(Id, Id), (1,), "Par expects a pair, got (1,)"),
    (Par(Id, Id), [1, 2], "Par expects a pair, got [1, 2]"),
    (Fst, (1, 2, 3), "Fst expects a pair, got (1, 2, 3)"),
    (Snd, Left(1), "Snd expects a pair, got Left(1)"),
    (Fst, (), "Fst expects a pair, got ()"),
    (Case(Id, Id), (1, 2), "Case expects Left(..) or Right(..), got (1, 2)"),
    (Case(Id, Id), 0, "Case expects Left(..) or Right(..), got 0"),
    (Add, 3, "Add expects a pair of ints, got 3"),
    (Add, (1, 2, 3), "Add expects a pair of ints, got (1, 2, 3)"),
    (Add, (1, "2"), "Add expects a pair of ints, got (1, '2')"),
    (Add, ("1", 2), "Add expects a pair of ints, got ('1', 2)"),
    (Add, (True, 2), "Add expects a pair of ints, got (True, 2)"),
    (Add, (1.0, 2), "Add expects a pair of ints, got (1.0, 2)"),
    (Distr, (1, 2), "Distr expects (Left(..) or Right(..), c), got (1, 2)"),
    (Distr, Left(1), "Distr expects (Left(..) or Right(..), c), got Left(1)"),
    (Distr, (Left(1), 2, 3), "Distr expects (Left(..) or Right(..), c), got (Left(1), 2, 3)"),
])
def test_badly_shaped_values_are_refused_with_an_interpret_error(term, value, message):
    """Kills weakened shape checks (a dropped ``len(v) != 2``, ``or`` for ``and``) and other exception types."""
    with pytest.raises(InterpretError) as e:
        step(term, value, 0)
    assert type(e.value) is InterpretError and str(e.value) == message


def test_a_bad_shape_deep_inside_is_refused_too():
    with pytest.raises(InterpretError, match="Add expects a pair of ints"):
        step(Compose(Add, Par(Id, Inl)), (1, 2), 0)


def test_good_shapes_run():
    """The same checks do not refuse what fits (kills strengthened checks)."""
    assert step(Par(Add, Distr), ((INT_MAX, 1), (Right(2), 3)), 0) == (0, (INT_MIN, Right((2, 3))))
    assert step(Distr, (Left(()), 5), 0) == (0, Left(((), 5)))
    assert step(Case(Fst, Snd), Left((1, 2)), 0) == (0, 1)
    assert step(Case(Fst, Snd), Right((1, 2)), 0) == (0, 2)
    assert step(Add, (-3, -4), 0) == (0, -7)
    assert step(Add, (INT_MIN, -1), 0) == (0, INT_MAX)


def test_state_is_threaded_left_to_right_and_continuations_in_order():
    assert step(Par(Put, Get), (5, ()), 0) == (5, ((), 5))
    assert step(Par(Get, Put), ((), 5), 0) == (5, (0, ()))
    assert step(Compose(Put, Compose(Add, Par(Get, Const(7)))), ((), "x"), 1) == (8, ())
    assert step(Compose(Inr, Compose(Inl, Consume)), 9, 0) == (0, Right(Left(())))
    assert step(Compose(Par(Id, Copy), Copy), 4, 0) == (0, (4, (4, 4)))
    accumulate = Compose(Put, Compose(Add, Compose(Par(Compose(Get, Consume), Id), Copy)))
    assert run(accumulate, [1, 2, 3], 0) == (6, [(), (), ()])
    assert run(Get, [], 7) == (7, [])


def test_embed_runs_its_function_and_checks_both_sides():
    """Embed in the interpreter: runs the host function; its input and output are checked against its types."""
    double = Embed(lambda v: v * 2, "Int", "Int")
    assert step(double, 21, 0) == (0, 42)
    assert step(Compose(double, Fst), (4, 5), 0) == (0, 8)
    with pytest.raises(TypeError, match=r"^Embed's input = \(\) does not have type Int$"):
        step(double, (), 0)
    with pytest.raises(TypeError, match=r"^Embed's input\[1\] = \(\) does not have type Int$"):
        step(Embed(lambda v: v, "(Int, Int)", "(Int, Int)"), (1, ()), 0)
    with pytest.raises(TypeError, match=r"^Embed's output = \(1, 1\) does not have type Int$"):
        step(Embed(lambda v: (v, v), "Int", "Int"), 1, 0)
    with pytest.raises(TypeError, match=r"^Embed's output = 9223372036854775808 does not have type Int$"):
        step(Embed(lambda v: v + INT_MAX, "Int", "Int"), 1, 0)  # out of the 64-bit range
    poly = Embed(lambda v: (v, v), "a", "(a, a)")
    assert step(poly, Left(()), 3) == (3, (Left(()), Left(())))
    calls = []
    spy = Embed(lambda v: calls.append(v) or v, "Int", "Int")
    step(Par(spy, spy), (1, 2), 0)
    assert calls == [1, 2]


# ---------------------------------------------------------------- catlib.typecheck


def test_declared_variables_are_the_same_across_the_signature():
    """Kills a freshening that renames the declared variables part by part (it would accept the swap)."""
    with pytest.raises(TermTypeError, match="not general enough"):
        check(Id, input="(a, b)", output="(b, a)")
    assert str(check(Id, input="(a, b)", output="(a, b)")) == "c / (a, b) -> (a, b)"
    assert str(check(Compose(Par(Snd, Fst), Copy), input="(a, b)", output="(b, a)")) == "c / (a, b) -> (b, a)"
    with pytest.raises(TermTypeError, match="not general enough"):
        check(Put, state="a", input="b")
    assert str(check(Put, state="a", input="a")) == "a / a -> ()"


@pytest.mark.parametrize("term, declared, message", [
    (Compose(Put, Const(1)), {"state": "()"}, "declared state () but the term has Int"),
    (Get, {"state": "Int", "input": "Int"}, "declared input Int but the term has ()"),
    (Get, {"state": "Int", "output": "()"}, "declared output () but the term has Int"),
])
def test_a_declared_type_mismatch_is_a_term_type_error(term, declared, message):
    """Kills mutants of the part names (a KeyError) and of the message."""
    with pytest.raises(TermTypeError) as e:
        check(term, **declared)
    assert str(e.value) == f"ill-typed at root ({term.op}): {message}" and e.value.path == ()


def test_embed_with_type_variables():
    """Each Embed's variables are its own, shared between its input and output types."""
    assert str(infer(Embed(abs, "a", "(a, a)"))) == "a / b -> (b, b)"
    assert str(infer(Par(Embed(abs, "a", "a"), Embed(abs, "a", "a")))) == "a / (b, c) -> (b, c)"
    assert str(infer(Compose(Embed(abs, "a", "a"), Embed(abs, "Int", "Int")))) == "a / Int -> Int"
    assert str(check(Embed(abs, "a", "a"), input="Int")) == "a / Int -> Int"
    assert str(check(Embed(abs, "a", "b"), input="c", output="c")) == "a / c -> c"
    with pytest.raises(TermTypeError, match="not general enough"):
        check(Embed(abs, "Int", "Int"), input="a")
    with pytest.raises(TermTypeError):
        infer(Compose(Embed(abs, "(a, a)", "a"), Compose(Par(Id, Inl), Copy)))
    with pytest.raises(TermTypeError):
        infer(Compose(Add, Embed(abs, "a", "(a, ())")))


# ---------------------------------------------------------------- cam.compiler


@pytest.mark.parametrize("make, path", [
    (lambda e: e, ()),
    (lambda e: Par(e, Id), ("f",)),
    (lambda e: Par(Id, e), ("g",)),
    (lambda e: Case(e, Id), ("f",)),
    (lambda e: Case(Id, e), ("g",)),
    (lambda e: Compose(Id, Par(Case(Id, e), Id)), ("f", "f", "g")),
])
def test_compile_error_names_the_embed_and_its_path(make, path):
    """Kills mutants of the path names pushed for Par's and Case's parts, and of the message."""
    from cam.compiler import CompileError, compile

    e1 = Embed(abs, "Int", "Int")
    with pytest.raises(CompileError) as e:
        compile(make(e1))
    where = ".".join(("root", *path))
    assert e.value.path == path and e.value.subterm == e1
    assert str(e.value) == f"cannot compile Embed(abs, Int, Int) at {where}: Embed wraps a host function, which has no bytecode"


def test_compile_refuses_what_is_not_a_term():
    from cam.compiler import compile

    with pytest.raises(TypeError, match=r"^not a term: 3$"):
        compile(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------- cam.verifier


def test_branches_that_leave_different_stacks_are_refused():
    """The join of two RETURNs to one continuation: different depths, different entry types."""
    with pytest.raises(BytecodeError) as e:
        verify(parse_code("[BRANCH [RETURN] [PUSH,ROT,RETURN]]"))
    assert "the branches leave different stacks" in str(e.value)
    assert "expected 0 entries, as the first RETURN here left, found 1 entry" in str(e.value)
    with pytest.raises(BytecodeError) as e:
        verify(parse_code("[BRANCH [CONSUME,PUSH,ROT,RETURN] [QUOTE (Int 1),PUSH,ROT,CONSUME,RETURN],CONS]"))
    assert "the branches leave different stacks at depth 0: expected (), found Int" in str(e.value)
    # the same shape with agreeing entries is accepted, and runs as typed
    code = parse_code("[BRANCH [PUSH,ROT,RETURN] [PUSH,ROT,RETURN],CONS]")
    assert str(verify(code)) == "a / Either b b -> (b, b)"
    assert execute(code, R(IntV(3)), UnitV) == Result(UnitV, Pair(IntV(3), IntV(3)), 5)


def _curried(n: int) -> Code:
    """Closures nested `n` deep: ``[CURRY [CURRY [... [SND,RETURN] ...],RETURN]]``."""
    body = parse_code("[SND,RETURN]")
    for _ in range(n - 1):
        body = Code([CURRY(body), RETURN])
    return Code([CURRY(body)])


def _branched(n: int) -> Code:
    code = Code([ID])
    for _ in range(n):
        code = Code([INL, BRANCH(code + Code([RETURN]), Code([RETURN]))])
    return code


@pytest.mark.parametrize("nested", [_curried, _branched])
def test_nesting_limit_counts_curry_bodies_as_branch_blocks(nested):
    """The limit: `n` nested blocks need ``max_depth >= n + 1`` (the top level counts), CURRY as BRANCH."""
    for n in (1, 4, 30):
        assert verify(nested(n), max_depth=n + 1) is not None
        with pytest.raises(BytecodeError) as e:
            verify(nested(n), max_depth=n)
        assert f"code too deep: expected code nested at most {n} deep, found deeper nesting" in str(e.value)


def _raw_int(n: int) -> IntV:
    """An ``Int`` outside the 64-bit range, which `Int` itself refuses to build (code from outside may hold one)."""
    v = object.__new__(IntV)
    for name, value in (("kids", ()), ("label", n), ("_hash", hash(("Int", n)))):
        object.__setattr__(v, name, value)
    return v


def test_quote_of_the_64_bit_extremes_is_accepted_and_beyond_is_not():
    for n in (INT_MAX, INT_MIN):
        assert str(verify(Code([QUOTE(IntV(n))]))) == "a / b -> Int"
    for n in (INT_MAX + 1, INT_MIN - 1):
        with pytest.raises(BytecodeError, match=f"malformed value: expected a 64-bit Int, found int {n}"):
            verify(Code([QUOTE(_raw_int(n))]))


# ---------------------------------------------------------------- cam.machine: what an error carries


def test_stuck_carries_the_configuration_where_no_rule_applies():
    with pytest.raises(Stuck) as e:
        execute(parse_code("[PUSH,INL,BRANCH [SWAP,RETURN] [RETURN]]"), UnitV, IntV(9))
    err = e.value
    assert err.steps == 3 and err.reason == "SWAP needs a value on the stack" and err.instruction == SWAP
    assert err.config.acc == UnitV and err.config.code == parse_code("[SWAP,RETURN]")
    assert err.config.reg == IntV(9) and err.config.stack == (Cont(Code()), UnitV)  # top first
    assert str(err).splitlines()[0] == "stuck at step 4: SWAP needs a value on the stack"
    assert "  stack:       [<code []>, Unit]" in str(err)
    with pytest.raises(Stuck) as e:
        execute(Code([CONS]), IntV(1), IntV(9))
    assert (e.value.steps, e.value.instruction, e.value.config.stack, e.value.config.code) == (0, CONS, (), Code([CONS]))


def test_out_of_fuel_carries_the_configuration_it_stopped_in():
    with pytest.raises(OutOfFuel) as e:
        execute(parse_code("[PUSH,PUSH,INL,CONS,CONS]"), IntV(4), IntV(9), 3)
    err = e.value
    assert err.steps == 3 and str(err).splitlines()[0] == "out of fuel after 3 steps"
    assert err.config == (L(IntV(4)), Code([CONS, CONS]), IntV(9), (IntV(4), IntV(4)))
    with pytest.raises(OutOfFuel) as e:
        execute(parse_code("[BRANCH [ID,GET,INR,RETURN] [RETURN]]"), L(UnitV), IntV(9), 2)
    assert e.value.config == (UnitV, parse_code("[GET,INR,RETURN]"), IntV(9), (Cont(Code()),))
    with pytest.raises(OutOfFuel) as e:
        execute(Code([ID, ID]), UnitV, UnitV, 0)
    assert e.value.steps == 0 and e.value.config.code == Code([ID, ID])
    assert execute(Code([ID, ID]), UnitV, UnitV, 2) == Result(UnitV, UnitV, 2)  # exactly enough fuel


@pytest.mark.parametrize("args, message", [
    (("[ID]", UnitV, UnitV), "expected Code, not str"),
    ((Code([ID]), (), UnitV), "the input must be a machine Value"),
    ((Code([ID]), UnitV, 0), "the state must be a machine Value"),
])
def test_machine_arguments_of_the_wrong_kind_are_a_type_error(args, message):
    with pytest.raises(TypeError, match=message):
        execute(*args)


# ---------------------------------------------------------------- command lines: exit codes


def test_cam_verify_exit_codes(tmp_path, capsys):
    from cam.__main__ import main

    good, bad, garbled = tmp_path / "good.txt", tmp_path / "bad.txt", tmp_path / "garbled.txt"
    good.write_text("[COPY,FIRST,SND,SWAP,CONS,SECOND,FST,CONS]\n")
    bad.write_text("[CONS]")
    garbled.write_text("[ID,FOO]")
    assert main(["verify", str(good)]) == 0 and capsys.readouterr().out.strip() == "a / (b, c) -> (c, b)"
    assert main(["verify", str(bad)]) == 1 and capsys.readouterr().err.startswith("BytecodeError: ")
    assert main(["verify", str(garbled)]) == 1
    assert capsys.readouterr().err.strip() == "ParseError: at position 4: expected an instruction, found 'FOO'"
    assert main(["verify", str(tmp_path / "missing.txt")]) == 2 and "cannot read" in capsys.readouterr().err
    assert main(["verify"]) == 2
    assert main(["no-such-command"]) == 2 and "unknown command" in capsys.readouterr().err
    assert main(["--help"]) == 0 and "commands:" in capsys.readouterr().out


def test_cam_check_exit_code_on_a_disagreement(monkeypatch, capsys):
    """A compiler that is wrong only on one constant: the campaign finds it and exits 1."""
    import cam.compiler
    from cam.__main__ import main

    real = cam.compiler.compile

    def off_by_one(term):
        code = real(term)
        text = str(code).replace("QUOTE (Int 0)", "QUOTE (Int 1)")
        return parse_code(text)

    monkeypatch.setattr(cam.compiler, "compile", off_by_one)
    assert main(["check", "--terms", "200", "--seed", "0", "--jobs", "1", "--no-progress"]) == 1
    assert "FAILED: machine and interpreter disagree" in capsys.readouterr().out
    monkeypatch.setattr(cam.compiler, "compile", real)
    assert main(["check", "--terms", "50", "--seed", "0", "--jobs", "1", "--no-progress"]) == 0


def test_parse_value_and_code_errors_are_parse_errors():
    from cam.text import ParseError

    for text in ("Int", "Pair (Int 1)", "Int (-)", "L", "Int 1 2"):
        with pytest.raises(ParseError):
            parse_value(text)
    assert parse_value("Int (-3)") == IntV(-3) and str(parse_value("Int (-3)")) == "Int (-3)"
    for text in ("[ID", "[ID,]", "[QUOTE]", "[BRANCH [ID]]", "ID"):
        with pytest.raises(ParseError):
            parse_code(text)
    assert str(Code([PUSH, INL])) == "[PUSH,INL]"


# ---------------------------------------------------------------- second trial (machine, verifier, type checker)


def test_divmod_whose_quotient_is_int_max_does_not_wrap():
    """``q <= INT_MAX`` in the machine's DIVMOD: only INT_MIN / -1 wraps, INT_MAX / 1 does not (``<`` would)."""
    for a, b, q, r in ((INT_MAX, 1, INT_MAX, 0), (INT_MAX, -1, -INT_MAX, 0), (INT_MIN, -1, INT_MIN, 0)):
        code = Code([Instr("DIVMOD")])
        assert execute(code, Pair(IntV(a), IntV(b)), UnitV) == Result(UnitV, R(Pair(IntV(q), IntV(r))), 1)


def test_a_return_to_an_outer_continuation_cannot_join_a_value():
    """The join's entry check: a branch that leaves a continuation where the other left a value is refused.

    Accepting it would be unsound: on ``R Unit`` the inner branch returns to the outer continuation with the
    inner one left on the stack, and the ``CONS`` after the join gets stuck.
    """
    code = parse_code("[BRANCH [PUSH,ROT,RETURN] [INL,BRANCH [ROT,RETURN] [ROT,RETURN]],CONS]")
    with pytest.raises(BytecodeError) as e:
        verify(code)
    assert str(e.value).startswith("at 0/right/1/left/1 (RETURN): the branches leave different stacks at depth 0: "
                                   "expected a value of type a, found a code continuation (after the BRANCH at "
                                   "0/right/1)")
    with pytest.raises(Stuck, match="CONS needs a value on the stack"):
        execute(code, R(UnitV), UnitV)


def test_a_clash_below_the_top_names_the_parts_that_clash():
    """The clash message adds ``(x does not match y)`` when the clashing parts are inside the types shown."""
    with pytest.raises(BytecodeError) as e:
        verify(parse_code("[QUOTE (Pair Unit (Int 1)),PUT,QUOTE (Pair (Int 1) (Int 1)),PUT]"))
    assert str(e.value) == ("at 3 (PUT): PUT changes the state's type: expected ((), Int), found (Int, Int) "
                            "(Int does not match ())")
    with pytest.raises(BytecodeError) as e:  # at the top the types shown are the clash: nothing added
        verify(parse_code("[QUOTE Unit,PUT,QUOTE (Int 1),PUT]"))
    assert str(e.value) == "at 3 (PUT): PUT changes the state's type: expected (), found Int"


@pytest.mark.parametrize("source, found", [
    ("[QUOTE (Int 1),PUSH,QUOTE (Int 2),CONS,APP]", None),
    ("[CURRY [SND,RETURN],PUSH,QUOTE (Int 1),CONS,ADD]", "(a -> b, Int)"),
    ("[CURRY [SND,RETURN],INL,PUSH,QUOTE (Int 1),CONS,ADD]", "(Either (a -> b) c, Int)"),
    ("[CURRY [SND,RETURN],PUSH,CONS,INL,ADD]", "Either (a -> b, a -> b) c"),
    ("[CURRY [SND,RETURN],INL,INL,ADD]", "Either (Either (a -> b) c) d"),
])
def test_closure_types_print_with_their_parentheses(source, found):
    """The type printer: a function inside a pair or a sum is parenthesised, a sum inside a sum too."""
    with pytest.raises(BytecodeError) as e:
        verify(parse_code(source))
    if found is None:  # APP of a pair of Ints
        assert str(e.value) == ("at 4 (APP): not a closure application: expected a pair (a -> b, a), "
                                "found (Int, Int)")
    else:
        assert str(e.value).endswith(f"(ADD): ADD needs two Ints: expected (Int, Int), found {found}")


def test_verify_refuses_a_declared_type_that_is_not_a_type():
    with pytest.raises(TypeError, match=r"expected a type \(catlib.types.Type or its text\), not 5"):
        verify(parse_code("[SND]"), input=5)
    assert str(verify(parse_code("[SND]"), input=parse_type("(Int, ())"))) == "a / (Int, ()) -> ()"


def test_infer_types_traces_every_subterm_in_post_order():
    """`trace` (what catlib.context reads): each occurrence's (input, output), children first, in the term's order."""
    u = Unifier()
    trace: list = []
    state, a, b = infer_types(Compose(Add, Copy), u, trace)
    assert [(str(u.resolve(x)), str(u.resolve(y))) for x, y in trace] == [
        ("(Int, Int)", "Int"), ("Int", "(Int, Int)"), ("Int", "Int")]
    assert (str(u.resolve(a)), str(u.resolve(b))) == ("Int", "Int")


def test_type_size_limit_is_inclusive_and_counts_shared_parts_once_per_occurrence():
    """``size > max_type_size`` (not ``>=``); ``((b, b), (b, b))`` is 7 nodes as a tree, though shared in the graph."""
    code = parse_code("[COPY,COPY]")
    assert str(verify(code, max_type_size=7)) == "a / b -> ((b, b), (b, b))"
    with pytest.raises(BytecodeError) as e:
        verify(code, max_type_size=6)
    assert str(e.value) == ("at the top level: type too large: expected output types of at most 6 nodes, found one "
                            "of 7 or more: ((a, a), (a, a))")


def _nested_l(v: IntV, k: int):
    for _ in range(k):
        v = L(v)
    return v


def test_a_value_of_the_wrong_type_is_shown_whole_up_to_80_characters():
    """`check_value`'s message: a value's text up to 80 characters as it is, longer ones cut to 77 and ``...``."""
    v80, v81 = _nested_l(IntV(1234), 18), _nested_l(IntV(1), 19)
    assert (len(to_text(v80)), len(to_text(v81))) == (80, 81)
    with pytest.raises(ValueTypeError) as e:
        check_value(v80, "Int")
    assert str(e.value) == f"at the top level: expected Int, found {to_text(v80)}"
    with pytest.raises(ValueTypeError) as e:
        check_value(v81, "Int")
    assert str(e.value) == f"at the top level: expected Int, found {to_text(v81)[:77]}..."
