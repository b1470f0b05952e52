"""Tests for mutants of the compiler (cam/compiler.py) that survived the rest.

Each test names, in its docstring, the kind of mutant it kills (docs/mutation.md lists them).
"""

from __future__ import annotations

import pytest

from cam.code import ADD, ID, MUL, RETURN, SUB
from cam.compiler import (
    BEYOND_REFERENCE,
    TEMPLATES,
    Body,
    Branch,
    CompileError,
    F,
    G,
    K,
    Template,
    compile_value,
    instantiate,
)
from catlib.free import Add, Copy, Id, Par
from catlib.values import Curried, Left


def test_template_items_print_in_the_notation_of_proofs_readme():
    """Holes as ``<f>``, a constant as ``QUOTE (Int <k>)``, blocks in brackets after ``BRANCH``/``CURRY`` (mutants
    garble the words or drop a block)."""
    assert [repr(x) for x in (F, G, K)] == ["<f>", "<g>", "QUOTE (Int <k>)"]
    assert repr(TEMPLATES["Case"][0]) == "BRANCH [<f>, RETURN] [<g>, RETURN]"
    assert repr(TEMPLATES["Distr"][2]) == ("BRANCH [ROT, SWAP, SND, CONS, INL, RETURN] "
                                           "[ROT, SWAP, SND, CONS, INR, RETURN]")
    assert repr(TEMPLATES["Curry"][0]) == "CURRY [<f>, RETURN]"


@pytest.mark.parametrize(("table", "term", "path", "message"), [
    ({}, Id, (), "cannot compile Id at root: Id has no template"),
    ({"Par": TEMPLATES["Par"]}, Par(Id, Copy), ("f",), "cannot compile Id at root.f: Id has no template"),
    ({"Par": TEMPLATES["Par"], "Id": (ID,)}, Par(Id, Par(Id, Copy)), ("g", "g"),
     "cannot compile Copy at root.g.g: Copy has no template"),
])
def test_a_constructor_without_a_template_is_named_and_located(table, term, path, message):  # noqa: ANN001
    """`instantiate` with a table that lacks a row: the error names the constructor and its path (mutants blank or
    garble the reason, or lose the path)."""
    with pytest.raises(CompileError) as e:
        instantiate(table, term)
    assert (e.value.path, str(e.value)) == (path, message)
    assert e.value.subterm.op == message.split()[2]


@pytest.mark.parametrize(("value", "message"), [
    (Curried(3, 1), "cannot compile the closure Curried(3, 1): its body is not a term"),  # type: ignore[arg-type]
    ((1, 2, 3), "cannot quote (1, 2, 3): not a host value ((), int, pair, Left, Right, Curried)"),
    (((), Left("x")), "cannot quote 'x': not a host value ((), int, pair, Left, Right, Curried)"),
    (Curried(Add, 1.5), "cannot quote 1.5: not a host value ((), int, pair, Left, Right, Curried)"),
])
def test_compile_value_refuses_what_is_not_a_host_value_by_name(value, message):  # noqa: ANN001
    """The whole message names the offending part (mutants blank it, garble the words or drop the value)."""
    with pytest.raises(TypeError) as e:
        compile_value(value)
    assert str(e.value) == message


def test_the_instructions_of_a_template_are_all_found_at_any_depth():
    """`BEYOND_REFERENCE` is computed at import, from the instructions each template uses, before mutmut switches a
    mutant on; so its helper is called here directly (mutants skip a block of a BRANCH or a CURRY, or an
    instruction)."""
    import cam.compiler

    def names(template: Template) -> list[str]:
        return sorted(i.op for i in cam.compiler._instructions(template))

    assert names(TEMPLATES["Distr"]) == sorted(["PUSH", "FST", *["ROT", "SWAP", "SND", "CONS", "RETURN"] * 2,
                                                "INL", "INR"])
    assert names(TEMPLATES["Par"]) == ["CONS", "CONS", "FIRST", "SECOND", "SWAP"]
    assert names(TEMPLATES["Case"]) == ["RETURN", "RETURN"] and names(TEMPLATES["Curry"]) == ["RETURN"]
    assert names((Body((Branch((ADD, F), (Body((SUB,)), G)), RETURN)), MUL)) == ["ADD", "MUL", "RETURN", "SUB"]
    assert BEYOND_REFERENCE == {"Sub": ("SUB",), "Mul": ("MUL",), "Lt": ("LT",), "Eq": ("EQ",),
                                "DivMod": ("DIVMOD",)}
