"""Pickling and copying trees (terms, types, machine values) without recursion.

Multiprocessing and Dask campaigns pickle terms, and a term of 100,000 nested compositions is normal here:
pickle's own walk of nested objects, and `copy.deepcopy`'s, recurse one Python frame per level and stopped at a
depth of a few hundred.  `catlib.tree.Tree.__reduce__` sends a tree flat (`catlib.tree.flatten`), and a tree
is its own copy.
"""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from cam.code import L, Pair, UnitV, Value
from catlib.free import Add, Case, Compose, Const, Copy, Embed, Fst, Inl, Par, Term
from catlib.generator import Generator
from catlib.tree import Tree, flatten, unflatten
from catlib.types import Int, Prod, Sum, Type, Unit, parse

DEEP = 100_000
PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def left_nested(n: int) -> Term:
    t: Term = Add
    for _ in range(n):
        t = Compose(t, Add)
    return t


def right_nested(n: int) -> Term:
    t: Term = Add
    for _ in range(n):
        t = Compose(Add, t)
    return t


def round_trip(x: object, protocol: int = pickle.DEFAULT_PROTOCOL) -> object:
    return pickle.loads(pickle.dumps(x, protocol))


def same_shape(a: Tree, b: Tree) -> bool:
    """Whether `a` and `b` have the same classes, labels and kids all the way down (walked without recursion);
    unlike ``==``, this does not trust the cached hashes."""
    todo = [(a, b)]
    while todo:
        x, y = todo.pop()
        if not isinstance(x, Tree):  # a kid that is not a tree
            if type(x) is not type(y) or x != y:
                return False
            continue
        if type(x) is not type(y) or x.label != y.label or len(x.kids) != len(y.kids):
            return False
        todo += zip(x.kids, y.kids)
    return True


def test_deep_terms_pickle_both_ways():
    for t in (left_nested(DEEP), right_nested(DEEP)):
        back = round_trip(t)
        assert type(back) is Compose and back is not t
        assert back == t and hash(back) == hash(t) and same_shape(back, t)
        assert back.size() == t.size() == 2 * DEEP + 1


def test_deep_terms_copy_as_themselves():
    t = left_nested(DEEP)
    assert copy.deepcopy(t) is t and copy.copy(t) is t
    held = {"a": [t, right_nested(DEEP)]}
    copied = copy.deepcopy(held)
    assert copied["a"][0] is t and copied["a"] is not held["a"]


def test_deep_types_and_machine_values_pickle():
    ty: Type = Int
    for i in range(DEEP):
        ty = Prod(ty, Unit) if i % 2 else Sum(Unit, ty)
    back = round_trip(ty)
    assert back == ty and hash(back) == hash(ty) and same_shape(back, ty) and copy.deepcopy(ty) is ty
    v: Value = UnitV
    for _ in range(DEEP):
        v = Pair(v, L(UnitV))
    w = round_trip(v)
    assert w == v and same_shape(w, v)
    assert w.kids[1].kids[0] is UnitV  # the machine's unit is still the singleton it tests with `is`


def test_sharing_is_kept_and_sent_once():
    s: Term = Compose(Add, Fst)
    for _ in range(300):  # 2**300 occurrences, 301 distinct nodes with kids
        s = Par(s, s)
    data = pickle.dumps(s)
    assert len(data) < 20_000
    back = pickle.loads(data)
    assert back == s and back.kids[0] is back.kids[1]
    # a subtree shared across levels (not only by siblings)
    x = Compose(Add, Copy)
    t = Par(Compose(x, Par(x, Fst)), x)
    u = round_trip(t)
    assert u == t and u.kids[1] is u.kids[0].kids[0] is u.kids[0].kids[1].kids[0]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 24), st.sampled_from(list(PROTOCOLS)))
def test_small_terms_and_types_round_trip_exactly(seed, fuel, protocol):
    g = Generator.seeded(seed, embed=False)
    s, a, b = g.type(), g.type(), g.type()
    t = g.term(s, a, b, fuel)
    for x in (t, s, a, b):
        back = round_trip(x, protocol)
        assert back == x and hash(back) == hash(x) and repr(back) == repr(x) and same_shape(back, x)


def _double(x: int) -> int:
    return 2 * x


def test_leaves_of_every_kind_inside_a_deep_tree():
    embed = Embed(_double, "Int", "Int")
    t: Term = Case(Compose(embed, Const(-(2**63))), Inl)
    for _ in range(1000):
        t = Compose(t, Case(Const(7), embed))
    back = round_trip(t)
    assert back == t and repr(back) == repr(t)
    assert back.kids[1].kids[1].fn is _double


def test_kids_that_are_not_trees():
    class Node(Tree):
        __slots__ = ()

    t = Tree(Tree(1, int, None, label="odd"), Tree(label=(2, "x")), Tree(Tree(), label=int))
    flat = flatten(t)
    back = unflatten(flat)
    assert back == t and same_shape(back, t)
    assert back.kids[0].kids == (1, int, None)
    # records' classes and the ints that refer back are not confused with kids of those kinds
    assert unflatten(flatten(Tree(Tree(3, 3), Tree(3, 3)))) == Tree(Tree(3, 3), Tree(3, 3))
    assert unflatten(flatten(Tree(Node, Node()))).kids[0] is Node
    # a leaf alone, and an empty-kids tree
    assert unflatten(flatten(Tree(label="leaf"))) == Tree(label="leaf")


def test_a_pickle_made_in_another_process_has_this_process_hashes():
    # the cached hash hashes the class name (a str: salted per process), so it must be computed on loading
    script = ("import pickle, sys; from catlib.types import parse; from catlib.free import Compose, Add, Fst;"
              "t = Add\nfor _ in range(5000): t = Compose(t, Fst)\n"
              "sys.stdout.buffer.write(pickle.dumps((t, parse('Either () (Int, Int)'))))")
    data = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                          env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout
    t, ty = pickle.loads(data)
    expected: Term = Add
    for _ in range(5000):
        expected = Compose(expected, Fst)
    assert t == expected and hash(t) == hash(expected)
    assert ty == parse("Either () (Int, Int)") and hash(ty) == hash(parse("Either () (Int, Int)"))
    assert {t: 1}[expected] == 1



def test_deeply_nested_bytecode_pickles_and_compiled_code_round_trips():
    from cam.code import Code, Instr
    from cam.compiler import compile
    from cam.text import parse_code
    from catlib.examples.counter import counter_sm

    block = parse_code("[ID,RETURN]")
    for _ in range(5_000):  # (Instr and Code pickled their operands themselves: a RecursionError at 3,000)
        block = Code([Instr("CURRY", block), Instr("RETURN")])
    back = pickle.loads(pickle.dumps(block))
    assert back == block and hash(back) == hash(block)
    code = compile(counter_sm)
    again = pickle.loads(pickle.dumps(code))
    assert str(again) == str(code) and again == code and type(again.kids[1]) is Instr and again.kids[1].op == "BRANCH"
    assert copy.deepcopy(code) is code
