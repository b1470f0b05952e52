"""Tests for mutants of the compiler (cam/compiler.py) that survived the rest.

Each test names, in its docstring, the kind of mutant it kills (docs/mutation.md lists them).
"""

from __future__ import annotations

import pytest

from cam.code import ADD, COPY, FST, ID, INL, INR, MUL, PUSH, RETURN, ROT, SUB, SWAP
from cam.compiler import (
    BEYOND_REFERENCE,
    TEMPLATES,
    Body,
    Branch,
    CompileError,
    F,
    G,
    K,
    QuoteHole,
    Template,
    compile,
    compile_value,
    instantiate,
)
from catlib.free import Add, Case, Compose, Const, Copy, Curry, Distr, Fst, Id, Par
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


def test_blocks_without_holes_nested_at_any_depth_are_instantiated_as_written():
    """A BRANCH or CURRY template item without holes is made once into its instruction; nested ones too, and a
    CURRY alone (`TEMPLATES` has only Distr's flat BRANCH, so mutants that mishandle nesting or a CURRY survived
    it)."""
    nested = (Branch((Body((ADD, RETURN)), RETURN), (Branch((INL,), (INR,)), RETURN)), COPY)
    assert str(instantiate({"Id": (Body((ADD, RETURN)),)}, Id)) == "[CURRY [ADD,RETURN]]"
    assert str(instantiate({"Id": nested}, Id)) == "[BRANCH [CURRY [ADD,RETURN],RETURN] [BRANCH [INL] [INR],RETURN],COPY]"
    block = "BRANCH [CURRY [ADD,RETURN],RETURN] [BRANCH [INL] [INR],RETURN],COPY"
    assert str(instantiate({"Id": nested, "Par": TEMPLATES["Par"]}, Par(Id, Id))) == (
        f"[FIRST,{block},SWAP,CONS,SECOND,{block},CONS]")


def test_blocks_with_holes_anywhere_are_filled_per_term():
    """A BRANCH whose blocks are only holes, or hold a hole beside a nested hole-free BRANCH, is not a constant
    (mutants take it for one, or forget the hole once they meet the nested block)."""
    table = {"Case": (Branch((F,), (G,)),), "Id": (ID,), "Copy": (COPY,)}
    assert str(instantiate(table, Case(Id, Copy))) == "[BRANCH [ID] [COPY]]"
    table["Case"] = (Branch((F, Branch((INL,), (INR,))), (RETURN,)), Body((G,)))
    assert str(instantiate(table, Case(Id, Copy))) == "[BRANCH [ID,BRANCH [INL] [INR]] [RETURN],CURRY [COPY]]"


def test_constant_instructions_are_made_once_and_shared():
    """As `_program` and `_quote` promise, the instruction of a hole-free BRANCH (Distr's) and ``QUOTE (Int k)``
    are made once and shared between uses, within a table's cache (mutants never take the shortcut: the same code,
    built anew each time)."""
    code = compile(Par(Distr, Const(5)) >> Const(5))
    assert str(code) == ("[FIRST,PUSH,FST,BRANCH [ROT,SWAP,SND,CONS,INL,RETURN] [ROT,SWAP,SND,CONS,INR,RETURN],SWAP,"
                         "CONS,SECOND,QUOTE (Int 5),CONS,QUOTE (Int 5)]")
    assert code.kids[3] is compile(Distr).kids[2]
    assert code.kids[7] is code.kids[9]


def test_one_template_object_for_two_constructors_fills_each_ones_holes():
    """A flattened template is kept per template *and* class: ``(F, G)`` is ``f, g`` of `Compose`'s fields and of
    `Par`'s, whose kids come in other orders (a mutant keys the cache by template alone and reuses one class's
    holes for the other)."""
    same = (F, G)
    table = {"Compose": same, "Par": same, "Id": (ID,), "Copy": (COPY,), "Fst": (FST,)}
    assert str(instantiate(table, Par(Compose(Id, Copy), Fst))) == "[COPY,ID,FST]"
    assert (str(instantiate(table, Compose(Id, Copy))), str(instantiate(table, Par(Id, Copy)))) == (
        "[COPY,ID]", "[ID,COPY]")


def test_another_table_does_not_evict_a_templates_flattened_form():
    """After a table with another Distr row is used, `compile` still finds its own flattened Distr, with the shared
    BRANCH (a mutant keys the cache by class alone, so the two tables evict each other)."""
    branch = compile(Distr).kids[2]
    assert str(instantiate({"Distr": (PUSH, FST, Branch((ROT,), (SWAP,)))}, Distr)) == "[PUSH,FST,BRANCH [ROT] [SWAP]]"
    assert compile(Distr).kids[2] is branch


def test_template_items_after_a_block_with_holes_are_kept():
    """A BRANCH or CURRY with holes followed by more items (no row of `TEMPLATES` has one: mutants that restart
    the work list there lose what follows)."""
    table: dict[str, Template] = {"Curry": (Body((F, RETURN)), COPY), "Case": (Branch((F,), (G,)), COPY),
                                  "Id": (ID,)}
    assert str(instantiate(table, Curry(Id))) == "[CURRY [ID,RETURN],COPY]"
    assert str(instantiate(table, Case(Id, Id))) == "[BRANCH [ID] [ID],COPY]"


def test_a_template_item_that_is_not_one_is_named():
    """A mutant blanks the message."""
    with pytest.raises(TypeError) as e:
        instantiate({"Id": (ID, "junk")}, Id)  # type: ignore[dict-item]
    assert str(e.value) == "not a template item: 'junk'"


def test_a_quote_hole_on_a_field_that_is_not_an_int_is_refused_by_name():
    """`Const` admits only 64-bit ints, so only a table can quote another field: `IntV` judges it and names it
    (mutants quote None instead)."""
    with pytest.raises(ValueError, match="^IntV needs a 64-bit int, not Id$"):
        instantiate({"Par": (QuoteHole("f"),)}, Par(Id, Id))


def test_code_that_needs_several_instructions_beyond_the_reference_names_them_all(monkeypatch):  # noqa: ANN001
    """With ``reference=True`` the error lists every missing instruction, comma-separated (a mutant garbled the
    separator: today each construct needs just one, so the table is widened here for the test)."""
    from catlib.free import Sub

    monkeypatch.setitem(BEYOND_REFERENCE, "Sub", ("SUB", "LT"))
    with pytest.raises(CompileError, match=r"its code needs SUB, LT, which the reference machine lacks"):
        compile(Compose(Sub, Copy), reference=True)
