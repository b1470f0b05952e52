"""cam.code: the reference's text form, JSON, digests, quote/unquote, and errors on bad input."""

import json

import pytest
import sympy
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cam.code import (
    ADD,
    BLOCK,
    BLOCKS,
    BRANCH,
    CURRY,
    GET,
    ID,
    INR,
    INSTRUCTIONS,
    NONE,
    OPCODE,
    OPS,
    QUOTE,
    REFERENCE_OPS,
    RETURN,
    SIMPLE_OPS,
    VALUE,
    Closure,
    Code,
    Decoder,
    Instr,
    IntV,
    L,
    Pair,
    R,
    UnitV,
    Value,
    to_text,
)
from cam.hostvalue import quote, unquote
from cam.machine import MachineError, execute
from cam.strategies import codes, instructions, values
from cam.text import JSON_FORMAT, JSON_VERSION, ParseError, digest, from_json, parse_code, parse_value, to_json
from cam.verifier import BytecodeError, verify
from catlib.strategies import types
from catlib.strategies import values as host_values
from catlib.values import INT_MAX, INT_MIN, Left, Right, has_type
from proofs import machine as symbolic
from tests.conftest import scaled

# The reference compiler's output, verbatim (docs/reference.md, "Test vectors").
COUNTER = "[ID,BRANCH [ID,GET,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,SECOND,ID,CONS,ADD,PUT,INL,RETURN] [ID,GET,INR,RETURN]]"
COUNTER2 = ("[ID,BRANCH [COPY,FIRST,ID,GET,FST,SWAP,CONS,SECOND,ID,GET,SND,COPY,FIRST,QUOTE (Int 1),SWAP,CONS,"
            "SECOND,ID,CONS,ADD,CONS,PUT,INL,RETURN] [ID,GET,SND,INR,RETURN]]")
UPGRADE = "[COPY,FIRST,ID,SWAP,CONS,SECOND,CONSUME,QUOTE (Int 0),CONS]"


# ---------------------------------------------------------------- text form


@pytest.mark.parametrize("text", [COUNTER, COUNTER2, UPGRADE])
def test_reference_vectors_round_trip(text):
    code = parse_code(text)
    assert to_text(code) == text == str(code)


def test_reference_vector_structure():
    code = parse_code(COUNTER)
    assert len(code) == 2 and code[0] == ID and code[1].op == "BRANCH"
    then, other = code[1].kids
    assert len(then) == 14 and then[4] == QUOTE(IntV(1))
    assert other == Code([ID, GET, INR, RETURN])


@pytest.mark.parametrize("value, text", [
    (UnitV, "Unit"),
    (IntV(5), "Int 5"),
    (IntV(0), "Int 0"),
    (IntV(-3), "Int (-3)"),
    (IntV(INT_MIN), "Int (-9223372036854775808)"),
    (IntV(INT_MAX), "Int 9223372036854775807"),
    (Pair(IntV(1), IntV(2)), "Pair (Int 1) (Int 2)"),
    (Pair(IntV(-1), UnitV), "Pair (Int (-1)) Unit"),
    (L(UnitV), "L Unit"),
    (R(IntV(1)), "R (Int 1)"),
    (R(IntV(-1)), "R (Int (-1))"),
    (L(L(Pair(UnitV, UnitV))), "L (L (Pair Unit Unit))"),
    (Closure(Code([ID, ADD]), IntV(-2)), "Closure [ID,ADD] (Int (-2))"),
    (Closure(Code(), UnitV), "Closure [] Unit"),
])
def test_value_text_is_the_references(value, text):
    assert to_text(value) == text
    assert parse_value(text) == value


@pytest.mark.parametrize("instr, text", [
    (ID, "ID"),
    (QUOTE(IntV(-3)), "QUOTE (Int (-3))"),
    (QUOTE(UnitV), "QUOTE Unit"),
    (QUOTE(L(UnitV)), "QUOTE (L Unit)"),
    (BRANCH([ID], []), "BRANCH [ID] []"),
    (CURRY([QUOTE(IntV(1)), RETURN]), "CURRY [QUOTE (Int 1),RETURN]"),
])
def test_instruction_text(instr, text):
    assert to_text(instr) == text
    assert parse_code(f"[{text}]") == Code([instr])


def test_every_simple_instruction_parses_by_its_name():
    text = "[" + ",".join(SIMPLE_OPS) + "]"
    code = parse_code(text)
    assert [i.op for i in code] == list(SIMPLE_OPS) and to_text(code) == text
    assert len(OPS) == 26 and set(OPS) - set(SIMPLE_OPS) == {"QUOTE", "BRANCH", "CURRY"}


def test_one_instruction_table():
    assert OPS == tuple(spec.name for spec in INSTRUCTIONS) and len(set(OPS)) == len(OPS)
    assert all(OPCODE[spec.name] == i for i, spec in enumerate(INSTRUCTIONS))
    assert REFERENCE_OPS == OPS[:21]  # the reference's 21, in its order, then this package's own
    assert OPS[21:] == ("SUB", "MUL", "LT", "EQ", "DIVMOD") and len(REFERENCE_OPS) == 21
    assert {spec.name: spec.operand for spec in INSTRUCTIONS if spec.operand != NONE} == {
        "QUOTE": VALUE, "CURRY": BLOCK, "BRANCH": BLOCKS}


def _sample(spec):
    return Instr(spec.name, *[IntV(1) if k == "value" else Code([RETURN]) for k in spec.operands])


@pytest.mark.parametrize("spec", INSTRUCTIONS, ids=lambda spec: spec.name)
def test_every_instruction_has_one_meaning_everywhere(spec):
    # every row of the table is read, printed, run, verified and run symbolically: nothing is missing
    # (a row without a transition would raise AssertionError in the machines, not a clean error)
    code = Code([_sample(spec)])
    assert parse_code(to_text(code)) == code and from_json(to_json(code)) == code
    for x in (Pair(IntV(1), IntV(2)), L(UnitV)):
        try:
            execute(code, x, UnitV)
        except MachineError:
            pass
    try:
        verify(code)
    except BytecodeError:
        pass
    (end,) = symbolic.run(symbolic.from_code(code), (sympy.Integer(1), sympy.Integer(2)), ())
    assert "not modelled" not in end.reason  # the symbolic machine models every instruction (APP, CURRY too)


def test_one_decoder():
    class Names(Decoder):
        def new_block(self, code, parent, index, role):
            return []

        def value(self, v, block, index):
            return to_text(v)

    d = Names()
    root = d.queue(parse_code("[ID,BRANCH [QUOTE (Int 2),RETURN] [CURRY [RETURN],RETURN],PUT]"), [])
    d.drain()
    op = OPCODE
    assert root == [(op["ID"], None),
                    (op["BRANCH"], ([(op["QUOTE"], "Int 2"), (op["RETURN"], None)],
                                    [(op["CURRY"], [(op["RETURN"], None)]), (op["RETURN"], None)])),
                    (op["PUT"], None)]
    bad = object.__new__(Instr)
    object.__setattr__(bad, "kids", ())
    object.__setattr__(bad, "label", "NOPE")
    with pytest.raises(TypeError, match="not an instruction"):
        d.queue(Code.__new__(Code), [])  # an empty code object decodes to nothing...
        object.__setattr__(d.pending[-1][0], "kids", (bad,))  # ...unless it holds a forged instruction
        d.drain()


@settings(max_examples=scaled(200))
@given(codes(depth=3))
def test_code_text_round_trip(code):
    text = to_text(code)
    assert parse_code(text) == code
    assert to_text(parse_code(text)) == text
    assert ", " not in text and " ," not in text  # the reference prints lists without spaces


@settings(max_examples=scaled(300))
@given(values(depth=4))
def test_value_text_round_trip(v):
    text = to_text(v)
    assert parse_value(text) == v
    assert parse_value(f"({text})") == v  # a parenthesised value is the same value


@settings(max_examples=scaled(200))
@given(instructions(depth=3))
def test_instruction_text_round_trip(i):
    assert parse_code(f"[{to_text(i)}]") == Code([i])


def test_white_space_between_tokens_is_accepted():
    assert parse_code(" [ ID , QUOTE  ( Int  ( -3 ) ) ]\n") == Code([ID, QUOTE(IntV(-3))])


@pytest.mark.parametrize("text, position, expected", [
    ("", 0, "'[' to start code"),
    ("[", 1, "an instruction"),
    ("]", 0, "'[' to start code"),
    ("[ID", 3, "',' or ']'"),
    ("[ID,]", 4, "an instruction"),
    ("[,ID]", 1, "an instruction"),
    ("[ID GET]", 4, "',' or ']'"),
    ("[FOO]", 1, "an instruction"),
    ("[id]", 1, "an instruction"),
    ("[ID,Int1]", 4, "an instruction"),
    ("[QUOTE]", 6, "Unit or a parenthesised value"),
    ("[QUOTE Int 1]", 7, "Unit or a parenthesised value"),
    ("[QUOTE (Int 1]", 13, "')'"),
    ("[QUOTE ()]", 8, "a value (Unit, Int, Pair, L, R or Closure)"),
    ("[QUOTE (Pair (Int 1))]", 20, "Unit or a parenthesised value"),
    ("[QUOTE (Closure ID Unit)]", 16, "'[' to start code"),
    ("[QUOTE (Int -3)]", 12, "a number or (-number) after Int"),
    ("[QUOTE (Int (-))]", 13, "a token"),
    ("[QUOTE (Int 9223372036854775808)]", 12, "a 64-bit integer"),
    ("[QUOTE (Int (-9223372036854775809))]", 13, "a 64-bit integer"),
    ("[QUOTE (Int 1a)]", 13, "')'"),
    ("[BRANCH [ID]]", 12, "'[' to start code"),
    ("[BRANCH [ID] ID]", 13, "'[' to start code"),
    ("[CURRY ID]", 7, "'[' to start code"),
    ("[ID]]", 4, "end of input"),
    ("[ID] [ID]", 5, "end of input"),
    ("ID", 0, "'[' to start code"),
    ("[ID;GET]", 3, "a token"),
    ("[ID,GET]x", 8, "end of input"),
    ("[ID]\x00", 4, "a token"),
    ("[Int 1]", 1, "an instruction"),
])
def test_malformed_code_names_position_and_expectation(text, position, expected):
    with pytest.raises(ParseError) as e:
        parse_code(text)
    assert (e.value.position, e.value.expected) == (position, expected)
    assert str(e.value).startswith(f"at position {position}: expected {expected}, found ")


@pytest.mark.parametrize("text, position", [
    ("", 0), ("Int", 3), ("Int x", 4), ("Int (-3", 4), ("Int (3)", 4), ("Int -3", 4), ("Int 1.5", 5),
    ("Pair Unit", 9), ("Pair Int 1 Unit", 5), ("L", 1), ("L Int 1", 2), ("Closure Unit Unit", 8),
    ("Closure [ID]", 12), ("Unit Unit", 5), ("(Unit", 5), ("Unit)", 4), ("unit", 0), ("[ID]", 0),
    ("R (Int 1", 8), ("\u00e9", 0), ("Int'", 0),
])
def test_malformed_value_names_position(text, position):
    with pytest.raises(ParseError) as e:
        parse_value(text)
    assert e.value.position == position


@pytest.mark.parametrize("parse", [parse_code, parse_value])
def test_non_text_is_a_parse_error(parse):
    for x in (b"[ID]", None, 3, ["ID"]):
        with pytest.raises(ParseError):
            parse(x)


def _only_parse_errors(fn, x):
    try:
        fn(x)
    except ParseError as e:
        assert isinstance(e.position, (int, str)) and e.expected
        assert str(e).startswith("at ")


ALPHABET = st.sampled_from(list("[](),- 0123456789\n") + list(OPS) + ["Int", "Unit", "Pair", "L", "R", "Closure"])


@settings(max_examples=scaled(500))
@given(st.one_of(st.text(), st.lists(ALPHABET, max_size=30).map(" ".join), st.lists(ALPHABET, max_size=30).map("".join)))
def test_parse_fuzz_raises_only_parse_errors(text):
    _only_parse_errors(parse_code, text)
    _only_parse_errors(parse_value, text)


@settings(max_examples=scaled(300))
@given(st.one_of(codes(), values()), st.data())
def test_mutated_text_raises_only_parse_errors(x, data):
    text = to_text(x)
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, min(len(text), i + 3)))
    insert = data.draw(st.text(alphabet="[](),- 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZaInt", max_size=3))
    mutated = text[:i] + insert + text[j:]
    _only_parse_errors(parse_code, mutated)
    _only_parse_errors(parse_value, mutated)



def test_deeply_nested_text_parses_without_recursion(no_gc):
    n = 100_000
    text = "L (" * (n - 1) + "L Unit" + ")" * (n - 1)
    v = parse_value(text)
    assert to_text(v) == text
    assert parse_value("L (" * n + "Unit" + ")" * n) == v  # redundant parentheses are fine
    code = Code()
    for _ in range(n):
        code = Code([ID, BRANCH(code, [RETURN])])
    code_text = to_text(code)
    assert code_text == "[ID,BRANCH " * n + "[]" + " [RETURN]]" * n
    assert parse_code(code_text) == code
    with pytest.raises(ParseError) as e:
        parse_value(text[:-1])
    assert e.value.position == len(text) - 1


# ---------------------------------------------------------------- JSON form


@settings(max_examples=scaled(300))
@given(st.one_of(codes(depth=3), values(depth=4)))
def test_json_round_trip(x):
    text = to_json(x)
    doc = json.loads(text)
    assert doc["format"] == JSON_FORMAT and doc["version"] == JSON_VERSION
    assert ("code" in doc) == isinstance(x, Code)
    assert from_json(text) == x
    assert from_json(text.encode()) == x


def test_json_form_is_documented_shape():
    code = parse_code("[ID,BRANCH [QUOTE (Pair (Int (-3)) (Closure [ID] Unit))] [CURRY [APP]]]")
    assert to_json(code) == (
        '{"format":"cam-bytecode","version":1,"code":["ID",{"BRANCH":[[{"QUOTE":{"Pair":[{"Int":-3},'
        '{"Closure":[["ID"],"Unit"]}]}}],[{"CURRY":["APP"]}]]}]}')
    assert to_json(L(UnitV)) == '{"format":"cam-bytecode","version":1,"value":{"L":"Unit"}}'


@pytest.mark.parametrize("doc, where", [
    ({"format": "cam-bytecode", "version": 2, "code": []}, "$.version"),
    ({"format": "cam-bytecode", "version": True, "code": []}, "$.version"),
    ({"format": "cam-bytecode", "version": 1.0, "code": []}, "$.version"),
    ({"format": "cam-bytecode", "code": []}, "$.version"),
    ({"format": "other", "version": 1, "code": []}, "$.format"),
    ({"version": 1, "code": []}, "$.format"),
    ({"format": "cam-bytecode", "version": 1}, "$"),
    ({"format": "cam-bytecode", "version": 1, "code": [], "value": "Unit"}, "$"),
    ({"format": "cam-bytecode", "version": 1, "code": "ID"}, "$"),
    ({"format": "cam-bytecode", "version": 1, "code": ["ID", "FOO"]}, "$[1]"),
    ({"format": "cam-bytecode", "version": 1, "code": [{"QUOTE": {"Int": 2**63}}]}, "$[0].QUOTE.Int"),
    ({"format": "cam-bytecode", "version": 1, "code": [{"QUOTE": {"Int": True}}]}, "$[0].QUOTE.Int"),
    ({"format": "cam-bytecode", "version": 1, "code": [{"BRANCH": [[]]}]}, "$[0].BRANCH"),
    ({"format": "cam-bytecode", "version": 1, "code": [{"BRANCH": [[], ["X"]]}]}, "$[0].BRANCH[1][0]"),
    ({"format": "cam-bytecode", "version": 1, "code": [{"QUOTE": "Unit", "ID": 1}]}, "$[0]"),
    ({"format": "cam-bytecode", "version": 1, "value": {"Pair": ["Unit"]}}, "$.Pair"),
    ({"format": "cam-bytecode", "version": 1, "value": {"Closure": ["Unit", "Unit"]}}, "$.Closure[0]"),
    ({"format": "cam-bytecode", "version": 1, "value": "ID"}, "$"),
    ([], "$.format"),
])
def test_bad_json_names_where(doc, where):
    with pytest.raises(ParseError) as e:
        from_json(json.dumps(doc))
    assert e.value.position == where, e.value


@pytest.mark.parametrize("text", ["", "{", "[1,", "nul", b"\xff\xfe", b"\x80"])
def test_invalid_json_is_a_parse_error(text):
    with pytest.raises(ParseError):
        from_json(text)


def test_too_deep_json_is_a_parse_error():
    text = '{"format":"cam-bytecode","version":1,"value":' + '{"L":' * 100_000 + '"Unit"' + "}" * 100_001
    with pytest.raises(ParseError):
        from_json(text)


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
              st.sampled_from(["Unit", "ID", "QUOTE", "BRANCH", "Int", "Pair", "L", "R", "Closure"])),
    lambda sub: st.one_of(st.lists(sub, max_size=3),
                          st.dictionaries(st.sampled_from(["Int", "Pair", "L", "R", "Closure", "QUOTE", "BRANCH",
                                                           "CURRY", "x"]), sub, max_size=2)),
    max_leaves=10)


@settings(max_examples=scaled(500))
@given(st.one_of(st.text(), st.binary(),
                 st.builds(lambda key, body: json.dumps({"format": JSON_FORMAT, "version": JSON_VERSION, key: body}),
                           st.sampled_from(["code", "value"]), JSON_VALUES)))
def test_from_json_fuzz_raises_only_parse_errors(text):
    _only_parse_errors(from_json, text)


@settings(max_examples=scaled(200))
@given(st.one_of(codes(), values()), st.data())
def test_mutated_json_raises_only_parse_errors(x, data):
    text = to_json(x)
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, min(len(text), i + 3)))
    mutated = text[:i] + data.draw(st.text(alphabet='[]{}":,-0123456789ULRIDNP', max_size=3)) + text[j:]
    _only_parse_errors(from_json, mutated)


# ---------------------------------------------------------------- digest


def test_digest_is_stable():
    # A change of the canonical encoding changes this; that breaks every stored machine name.
    assert digest(parse_code(COUNTER)) == "sha256:5ab32150b49b06883938f809d53c6a4c070da14371f72f840a74a35fd348c558"
    assert digest(Code()) == "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"


@settings(max_examples=scaled(200))
@given(codes(), codes())
def test_digest_differs_exactly_for_different_code(c, d):
    assert (digest(c) == digest(d)) == (c == d)
    assert digest(c) == digest(parse_code(to_text(c)))


def test_digest_separates_near_misses():
    near = [COUNTER, COUNTER.replace("Int 1", "Int 2"), COUNTER.replace("INL", "INR"), COUNTER2, UPGRADE,
            "[BRANCH [ID] []]", "[BRANCH [] [ID]]", "[QUOTE (L Unit)]", "[QUOTE (R Unit)]"]
    assert len({digest(parse_code(t)) for t in near}) == len(near)


# ---------------------------------------------------------------- quote / unquote


@settings(max_examples=scaled(300))
@given(types(max_depth=3).flatmap(lambda t: st.tuples(st.just(t), host_values(t))))
@example((None, (1, Left(()))))
def test_quote_unquote_round_trip(tv):
    t, x = tv
    v = quote(x)
    assert isinstance(v, Value)
    assert unquote(v) == x and type(unquote(v)) is type(x)
    if t is not None:
        assert has_type(unquote(v), t)


def test_quote_maps_constructors():
    assert quote(()) is UnitV
    assert quote(-3) == IntV(-3)
    assert quote((1, ())) == Pair(IntV(1), UnitV)
    assert quote(Left(Right(2))) == L(R(IntV(2)))
    assert unquote(Pair(L(UnitV), IntV(-5))) == (Left(()), -5)


@pytest.mark.parametrize("x", [None, 2**63, 1.0, (1, 2, 3), [1], "x", True])
def test_quote_rejects_non_host_values(x):
    with pytest.raises((TypeError, ValueError)):
        quote(x)


def test_unquote_rejects_closures():
    with pytest.raises(TypeError):
        unquote(Pair(UnitV, Closure(Code([ID]), UnitV)))


def test_constructors_check_their_arguments():
    for bad in (lambda: IntV(2**63), lambda: IntV(True), lambda: Pair(UnitV, 1), lambda: L(()),
                lambda: Closure([ID], UnitV), lambda: Instr("FOO"), lambda: Instr("QUOTE"),
                lambda: Instr("ID", UnitV), lambda: Code([ID, "GET"])):
        with pytest.raises((TypeError, ValueError)):
            bad()


def test_deep_quote_unquote(no_gc):
    x = ()
    for i in range(100_000):
        x = Left((i, x))
    v = quote(x)
    assert to_text(v).count("L (Pair") == 100_000
    y = unquote(v)
    for _ in range(100_000):  # compare iteratively: deep tuples overflow Python's own ==
        assert isinstance(y, Left)
        y = y.value[1]
    assert y == ()


# ---------------------------------------------------------------- cam.strategies itself


def _all_instructions(code):
    todo = [code]
    while todo:
        for i in todo.pop():
            yield i
            if i.op in ("BRANCH", "CURRY"):
                todo.extend(i.kids)


@settings(max_examples=scaled(100))
@given(codes(depth=3, ops=["FST", "BRANCH", "QUOTE"], closures=False))
def test_code_strategy_respects_ops(code):
    for i in _all_instructions(code):
        assert i.op in ("FST", "BRANCH", "QUOTE")
        if i.op == "QUOTE":
            assert "Closure" not in to_text(i)


@settings(max_examples=scaled(100))
@given(st.data())
def test_typed_values_have_the_type(data):
    from cam.strategies import typed_values

    t = data.draw(types())
    assert has_type(unquote(data.draw(typed_values(t))), t)


def test_strategies_reject_unknown_ops():
    with pytest.raises(ValueError):
        codes(ops=["FOO"])
    with pytest.raises(ValueError):
        codes(ops=[])


@given(codes(), values())
def test_repr_evaluates_back(code, value):
    # closures inside values and quoted values inside code included
    import cam.code

    for x in (code, value, QUOTE(value)):
        assert eval(repr(x), vars(cam.code)) == x


def test_repr_of_deep_code_and_values(no_gc):
    code, value = Code([ID]), UnitV
    for _ in range(100_000):
        code, value = Code([BRANCH(code, Code([]))]), Closure(Code([GET]), L(value))
    code_text, value_text = repr(code), repr(value)  # once each: a 100,000-deep repr takes seconds
    for text in (code_text, value_text):
        assert text.count("(") == text.count(")") > 100_000
    assert value_text.startswith("Closure(Code([GET]), L(Closure(Code([GET]), L(")
    assert code_text.startswith("Code([BRANCH(Code([BRANCH(") and "Code([BRANCH(Code([ID]), Code([]))]), Code([]))])" in code_text


def test_constructors_that_set_the_slots_hash_as_tree_does():
    """Types, machine values, instructions and code set `catlib.tree.Tree`'s slots themselves (no generic
    `Tree.__init__` call): each keeps its formula, so equal trees hash alike however they were made."""
    from catlib.tree import Tree
    from catlib.types import Fun, Int, Prod, Sum, Unit, Var

    made = [Var("a"), Prod(Int, Var("b")), Sum(Unit, Int), Fun(Fun(Int, Unit), Int), IntV(-3),
            Pair(IntV(1), UnitV), L(UnitV), R(Pair(UnitV, IntV(2))), Instr("FST"), Instr("QUOTE", IntV(4)),
            Instr("CURRY", Code([Instr("FST")])), Instr.of("BRANCH", Code([Instr("FST")]), Code()),
            Code([Instr("FST"), Instr("SND")]), Code()]
    for x in made:
        generic = object.__new__(type(x))
        Tree.__init__(generic, *x.kids, label=x.label)
        assert (hash(generic), generic) == (hash(x), x), x
