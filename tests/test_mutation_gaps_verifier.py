"""Tests for mutants of the verifier (cam/verifier.py, cam/absmachine.py, cam/typeengine.py) that survived the rest.

Each test names, in its docstring, the kind of mutant it kills (docs/mutation.md lists them).
"""

from __future__ import annotations

import gc

import pytest

from cam.code import (
    APP,
    BRANCH,
    CONS,
    CURRY,
    ID,
    INL,
    PUSH,
    QUOTE,
    RETURN,
    ROT,
    SWAP,
    Code,
    Instr,
    IntV,
    L,
    Pair,
    UnitV,
)
from cam.text import parse_code
from cam.typeengine import FUN, INT_NODE, PROD, SUM, UNIT_NODE, VAR, Node, TypeGraph, show
from cam.verifier import BytecodeError, ValueTypeError, check_value, verify
from catlib.tree import Tree


def _junk(cls: type, *kids: object, label: object = None) -> Tree:
    """A node of class `cls` built around the checks of its constructor (what a broken decoder could hand over)."""
    x = cls.__new__(cls)
    Tree.__init__(x, *kids, label=label)
    return x


def test_malformed_code_is_located_and_described_in_full():
    """The error names where the junk is, what was expected and what was found (mutants drop the path, or change
    the words of the message, or shift the arguments so that the path is lost)."""
    with pytest.raises(BytecodeError) as e:
        verify(_junk(Code, ID, "FST"))
    assert (e.value.path, e.value.expected, e.value.found, e.value.reason) == (
        (1,), "an instruction", "str 'FST'", "malformed code")
    assert str(e.value) == "at 1: malformed code: expected an instruction, found str 'FST'"
    with pytest.raises(BytecodeError) as e:
        verify(Code([Instr("CURRY", _junk(Code, ID, 7, RETURN))]))
    assert e.value.path == (0, "body", 1) and e.value.found == "int 7"


def test_an_instruction_with_the_wrong_number_of_operands_is_located():
    """``BRANCH`` with one block: the path, the operand count and the instruction's name are all reported."""
    with pytest.raises(BytecodeError) as e:
        verify(Code([ID, _junk(Instr, Code(), label="BRANCH")]))
    err = e.value
    assert (err.path, err.expected, err.found, err.reason, err.op) == (
        (1,), "BRANCH with 2 argument(s)", "1", "malformed instruction", "BRANCH")
    assert str(err) == "at 1 (BRANCH): malformed instruction: expected BRANCH with 2 argument(s), found 1"


def test_a_value_that_is_not_a_machine_value_is_located():
    """`check_value` names the field that holds the junk (a mutant drops the path and shifts the arguments)."""
    with pytest.raises(ValueTypeError) as e:
        check_value(Pair(IntV(1), _junk(Pair, UnitV, "junk")), "(Int, ((), ()))")
    err = e.value
    assert (err.path, err.expected, err.found, err.reason) == (
        ("right", "right"), "()", "str 'junk'", "not a machine value")
    assert str(err) == "at right/right: not a machine value: expected (), found str 'junk'"


def test_the_type_printer_numbers_names_after_z():
    """The 27th variable is ``a1`` (a mutant never adds the number, so it prints ``a`` again)."""
    assert show([Node(VAR)], {Node(VAR): str(i) for i in range(26)}) == ["a1"]
    assert show([Node(PROD, Node(VAR), Node(VAR))], {Node(VAR): str(i) for i in range(51)}) == ["(z1, a2)"]


def test_an_infinite_type_without_a_name_prints_dots_where_it_recurs():
    """A structure met inside itself prints as ``...`` when it has no name (a mutant prints nothing there)."""
    n = Node(PROD, None, INT_NODE)
    n.a = n
    assert show([n]) == ["(..., Int)"]


def test_the_depth_limit_counts_the_values_inside_a_sum():
    """Each ``L``/``R`` is one level deeper (a mutant counts it one level *less*, so nested sums pass any limit);
    the limit's error is reported as a bad value, with its reason."""
    v, t = L(L(L(UnitV))), "Either (Either (Either () ()) ()) ()"
    check_value(v, t, max_depth=4)
    with pytest.raises(ValueTypeError) as e:
        check_value(v, t, max_depth=3)
    assert (e.value.path, e.value.reason) == (("value", "value", "value"), "bad value")
    assert str(e.value) == ("at value/value/value: bad value: expected a well-formed value whose closures verify, "
                            "found at value/value/value: code too deep: expected code nested at most 3 deep, "
                            "found deeper nesting")


def test_a_value_that_breaks_a_shared_type_variable_names_both_types():
    """``(a, a)`` at ``(1, ())``: expected ``Int`` (what ``a`` became), found a ``()`` (a mutant loses `expected`)."""
    with pytest.raises(ValueTypeError) as e:
        check_value(Pair(IntV(1), UnitV), "(a, a)")
    assert (e.value.path, e.value.expected, e.value.found) == (("right",), "Int", "a value of type ()")


def test_a_malformed_value_in_quoted_code_is_described_in_full():
    """The reason is exactly "malformed value" and `found` names the junk (mutants blank `found` or garble the
    reason; a substring match lets ``XXmalformed valueXX`` through)."""
    with pytest.raises(BytecodeError) as e:
        verify(Code([QUOTE(Pair(UnitV, _junk(Pair, UnitV)))]))
    err = e.value
    assert (err.path, err.expected, err.reason) == ((0, "value", "right"), "a machine value", "malformed value")
    assert err.found.startswith("Pair <cam.code.Pair object at ")
    assert str(err).startswith("at 0/value/right: malformed value: expected a machine value, found Pair <")


def test_the_depth_limit_counts_each_component_of_a_pair_once():
    """A pair's left component is one level deeper, not two."""
    v, t = Pair(Pair(UnitV, UnitV), UnitV), "(((), ()), ())"
    check_value(v, t, max_depth=3)
    with pytest.raises(ValueTypeError, match="at left/left: bad value: .* nested at most 2 deep"):
        check_value(v, t, max_depth=2)


def test_what_is_not_code_is_shown():
    """A mutant describes None instead of the argument."""
    with pytest.raises(BytecodeError) as e:
        verify("[ID]")  # type: ignore[arg-type]
    assert (e.value.path, e.value.found) == ((), "str '[ID]'")
    assert str(e.value) == "at the top level: not code: expected Code, found str '[ID]'"


def test_types_from_the_graph_name_the_27th_variable_a1():
    """`TypeGraph.to_types` names variables a .. z, a1, b1 (a mutant names the 27th ``a`` again: two variables
    become one)."""
    variables = [Node(VAR) for _ in range(28)]
    node = variables[-1]
    for v in reversed(variables[:-1]):
        node = Node(PROD, v, node)
    [t] = TypeGraph(1000).to_types([node], ["x"])
    assert "(y, (z, (a1, b1)))" in str(t) and len(set(t.vars())) == 28
    assert [str(t) for t in TypeGraph(10).to_types([Node(PROD, Node(VAR), Node(VAR))], ["x"], keep=["a"])] == [
        "(b, c)"]


def test_an_infinite_type_made_by_joining_branch_stacks_is_located_at_the_return():
    """The right branch swaps the entry below its continuation (the input, ``Either x y``) for ``y``; joining the
    two stacks makes ``y = Either x y``, found at the RETURN that joined them (a mutant unifies without a place)."""
    code = Code([PUSH, BRANCH(Code([QUOTE(UnitV), RETURN]), Code([ROT, SWAP, ROT, QUOTE(UnitV), RETURN])), CONS])
    with pytest.raises(BytecodeError) as e:
        verify(code)
    assert (e.value.path, e.value.reason, e.value.found) == ((1, "right", 4), "infinite type", "t = Either b t")
    assert e.value.expected == "a finite type"


def test_code_after_a_return_names_the_return():
    """The error for unreachable code after ``RETURN`` carries the instruction's name (a mutant drops it), at the
    top level and in a closure's body."""
    with pytest.raises(BytecodeError) as e:
        verify(Code([RETURN, ID]))
    assert (e.value.path, e.value.op, e.value.reason) == ((1,), "RETURN", "unreachable code after RETURN")
    assert str(e.value) == ("at 1 (RETURN): unreachable code after RETURN: expected RETURN to end its block, "
                            "found 1 more instruction(s) after it")
    with pytest.raises(BytecodeError) as e:
        verify(Code([CURRY(Code([RETURN, ID]))]))
    assert (e.value.path, e.value.op) == ((0, "body", 1), "RETURN")


def test_the_type_printer_counts_punctuation_against_its_budget():
    """A type is printed up to about `budget` characters, brackets and commas included (a mutant subtracts
    them, so a deeply nested pair is printed whole however long)."""
    n = INT_NODE
    for _ in range(60):
        n = Node(PROD, n, UNIT_NODE)
    assert show([n], budget=20) == ["(" * 21 + "..."]
    whole = show([n])[0]  # the default budget, 120: cut after the first part that passes it
    assert whole.startswith("(" * 60 + "Int, ()), ()),") and whole.endswith("...") and len(whole) == 125


def test_a_recursion_overflow_inside_the_verifier_is_a_bytecode_error(monkeypatch: pytest.MonkeyPatch):
    """The last line of defence: a `RecursionError` inside the verifier (nothing there recurses today, so one is
    forced) is reported as an internal limit, whole, and the garbage collector is switched back on (mutants
    blank `found` or garble the reason)."""
    def overflow(self: object) -> None:
        raise RecursionError

    monkeypatch.setattr("cam.verifier._Engine.run", overflow)
    assert gc.isenabled()
    with pytest.raises(BytecodeError) as e:
        verify(Code([ID]))
    assert (e.value.path, e.value.expected, e.value.found, e.value.reason) == (
        (), "code the verifier can handle", "a recursion overflow", "internal limit")
    assert str(e.value) == ("at the top level: internal limit: expected code the verifier can handle, "
                            "found a recursion overflow")
    assert gc.isenabled()


def test_an_operand_that_is_not_code_is_malformed_code():
    """A ``BRANCH`` block that is not code: located, and reported with its reason (a mutant drops the reason)."""
    with pytest.raises(BytecodeError) as e:
        verify(Code([_junk(Instr, Code([RETURN]), "x", label="BRANCH")]))
    assert (e.value.path, e.value.reason, e.value.found) == ((0, "right"), "malformed code", "str 'x'")
    assert str(e.value) == "at 0/right: malformed code: expected code (a list of instructions), found str 'x'"


def test_a_continuation_where_a_value_is_needed_is_described_in_full():
    """``CONS`` first thing in a branch finds the branch's continuation on top (a mutant garbles `expected`)."""
    with pytest.raises(BytecodeError) as e:
        verify(Code([INL, BRANCH(Code([CONS, RETURN]), Code([RETURN]))]))
    assert str(e.value) == ("at 1/left/0 (CONS): a continuation where a value is needed: expected a value on the "
                            "stack, found a code continuation (after the BRANCH at 1)")


def test_a_closure_body_that_leaves_values_below_its_continuation_is_described_in_full():
    """``PUSH, ROT`` puts a value below the body's return continuation (a mutant garbles `expected`)."""
    with pytest.raises(BytecodeError) as e:
        verify(Code([CURRY(Code([PUSH, ROT, RETURN]))]))
    assert (e.value.path, e.value.reason) == ((0, "body", 2), "unbalanced stack in a closure body")
    assert str(e.value) == ("at 0/body/2 (RETURN): unbalanced stack in a closure body: expected only the return "
                            "continuation on the stack, found more entries below it (next: a value of type (a, b))")


def test_a_closure_applied_to_the_wrong_argument_is_a_closure_argument_clash():
    """``APP`` on a declared ``(Int -> Int, ())``: the reason, expected and found are those of the argument (a
    mutant drops the reason, shifting the other arguments)."""
    with pytest.raises(BytecodeError) as e:
        verify(Code([APP]), input="(Int -> Int, ())")
    assert (e.value.path, e.value.reason, e.value.expected, e.value.found) == ((0,), "closure argument", "Int", "()")
    assert str(e.value) == "at 0 (APP): closure argument: expected Int, found ()"


def test_branches_that_leave_one_entry_and_none_say_entry_and_entries():
    """The join's message is singular for one entry (a mutant garbles the singular)."""
    with pytest.raises(BytecodeError) as e:
        verify(parse_code("[BRANCH [PUSH,ROT,RETURN] [RETURN],CONS]"))
    assert (e.value.path, e.value.expected, e.value.found) == (
        (0, "right", 0), "1 entry, as the first RETURN here left", "0 entries")


def test_a_function_type_prints_its_result_without_parentheses():
    """Only a function's domain is bracketed when it is a function; a sum result is not (a mutant prints the result
    as an ``Either`` argument: ``Int -> (Either Int ())``)."""
    assert show([Node(FUN, INT_NODE, Node(SUM, INT_NODE, UNIT_NODE))]) == ["Int -> Either Int ()"]
    assert show([Node(FUN, Node(FUN, INT_NODE, INT_NODE), Node(FUN, INT_NODE, INT_NODE))]) == [
        "(Int -> Int) -> Int -> Int"]


def test_a_cycle_met_away_from_any_merged_node_is_reported_without_a_place():
    """`acyclic` may close a cycle at two nodes that no unification merged (the cycle is reached from a merged node
    outside it): the infinite type is then reported with no place, not by a `max` of nothing (a mutant)."""
    a = Node(PROD, None, INT_NODE)
    a.a = Node(PROD, a, UNIT_NODE)
    graph = TypeGraph(100)
    graph.merged.append(Node(PROD, a, INT_NODE))
    with pytest.raises(ValueError, match=r"^infinite type: expected a finite type, found t = \(\(t, \(\)\), Int\)$"):
        graph.acyclic()


def test_landins_knot_is_described_in_full():
    """A closure that reads the state, kept in the state: the whole message (a mutant garbles `found`)."""
    with pytest.raises(BytecodeError) as e:
        verify(parse_code("[CURRY [SND,PUSH,CONSUME,GET,SWAP,CONS,APP,RETURN],PUT]"))
    assert str(e.value) == ("at 0/body/3: closures in the state could call themselves forever: expected closures "
                            "that leave the state alone, as the state holds functions (a -> b), found GET or PUT in "
                            "a closure's code")


def test_a_type_too_large_names_the_part_of_the_signature():
    """The size limit's error says which part of the signature is too large (a mutant garbles "state")."""
    with pytest.raises(BytecodeError) as e:
        verify(Code([ID]), state="((Int, Int), (Int, Int))", max_type_size=3)
    assert (e.value.reason, e.value.expected) == ("type too large", "state types of at most 3 nodes")
    assert e.value.found == "one of 7 or more: ((Int, Int), (Int, Int))"


class _Placed(TypeGraph):
    """A type graph whose errors are the place they are reported at."""

    def error(self, where: object, expected: str, found: str, reason: str, op: str = "") -> Exception:
        return ValueError(where)


def test_an_infinite_type_is_reported_at_the_latest_merge_of_its_two_nodes():
    """Two pairs merged at "first", two at "second", then linked into one cycle by hand (so that no later
    unification decides): the cycle is reported at "second", the later merge (a mutant counts structural merges
    down, so the earlier one looks latest)."""
    graph = _Placed(100)
    x, y, z, w = (Node(VAR) for _ in range(4))
    a1, a2 = Node(PROD, x, INT_NODE), Node(PROD, y, INT_NODE)
    b1, b2 = Node(PROD, z, UNIT_NODE), Node(PROD, w, UNIT_NODE)
    graph.unify(a1, a2, "first")
    graph.unify(b1, b2, "second")
    y.up, w.up = b2, a2
    with pytest.raises(ValueError, match="^second$"):
        graph.acyclic()
