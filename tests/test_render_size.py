"""Pictures of any size: folding big terms and graphs, Graphviz's time limit and its fallback."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from benchmarks.render import additive_bank, chain
from cam.code import Code, to_text
from cam.compiler import compile
from cam.graph import bytecode
from cam.strategies import codes
from cam.text import parse_code
from catlib.examples.bank import BALANCE, deposit, withdraw
from catlib.examples.counter import counter_sm
from catlib.folding import FOLD_LIMIT, folded_diagram
from catlib.free import Add, Compose, Copy, Get, Id, Put
from catlib.graph import diagram, syntax_tree
from catlib.interpreter import run
from catlib.render import RenderError, RenderWarning, render, to_svg
from catlib.repeats import fold_runs, prune_tree, tandem_repeats
from catlib.strategies import terms

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bank():  # the 1,553-node machine of issue 13 (this recipe: about 1,700 nodes)
    return additive_bank()


def kinds(g, kind):
    return [n for n in g if g.nodes[n].get("kind") == kind]


def test_the_additive_bank_is_the_big_machine(bank):
    assert bank.size() > 1_500
    assert run(bank, [deposit(100), withdraw(30), withdraw(500), BALANCE], 0) == (-430, [100, 70, -430, -430])


def test_the_additive_bank_folds_to_a_picture_a_reader_can_follow(bank):
    d = folded_diagram(bank)
    g = d.graph
    assert g.graph["folds"] == {"A": 63}  # the doubling, drawn once, run 63 times
    assert g.number_of_nodes() < 80  # against 788 unfolded
    folded = [n for n in g if g.nodes[n].get("role") == "fold"]
    assert [g.nodes[n]["label"] for n in folded] == ["A ×63"]
    (box,) = folded
    assert [g.edges[e]["label"] for e in g.in_edges(box, keys=True)] == ["Int", "Int"]
    assert [g.edges[e]["label"] for e in g.out_edges(box, keys=True)] == ["Int", "Int"]
    where = [c for c, info in g.graph["clusters"].items() if info["label"].startswith("where A :")]
    assert len(where) == 1 and "(Int, Int) -> (Int, Int)" in g.graph["clusters"][where[0]]["label"]
    # the block drawn beside is the doubling step, box for box
    inside = [n for n in g if g.nodes[n].get("cluster") == where[0]]
    assert sorted(g.nodes[n]["kind"] for n in inside).count("box") == 2  # acc + d, d + d
    assert str(d.signature) == "Int / Either Int (Either Int a) -> Int"


def test_the_additive_bank_renders_from_the_command_line_within_10_seconds(bank, tmp_path):
    out = tmp_path / "bank.svg"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    started = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "catlib", "render", "benchmarks.render:ADDITIVE_BANK", "-o", str(out)],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    took = time.monotonic() - started
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "folded: A x63" in p.stderr
    assert took < 10, f"{took:.1f} s"
    assert "A ×63" in out.read_text()


def test_small_terms_are_drawn_as_before():
    plain, folded = diagram(counter_sm).graph, folded_diagram(counter_sm).graph
    assert [plain.nodes[n]["label"] for n in plain] == [folded.nodes[n]["label"] for n in folded]
    assert folded.graph["folds"] == {}


def test_a_folded_block_with_effects_threads_the_state():
    bump = Compose(Put, Compose(Add, Compose(Copy, Get)))  # state := 2 * state, twice each
    term = Id
    for _ in range(30):
        term = Compose(bump, term)
    g = folded_diagram(term, limit=20).graph
    (box,) = [n for n in g if g.nodes[n].get("role") == "fold"]
    assert g.nodes[box]["label"] == "A ×30"
    assert [a["kind"] for _, _, a in g.in_edges(box, data=True)].count("state") == 1
    assert [a["kind"] for _, _, a in g.out_edges(box, data=True)].count("state") == 1


def test_a_big_term_without_repeats_gets_an_overview():
    big = chain(5_000)
    g = folded_diagram(big).graph
    hidden = [g.nodes[n]["label"] for n in g if g.nodes[n].get("role") == "fold"]
    assert hidden and all(label.startswith("⋯ ") for label in hidden)
    assert g.number_of_nodes() <= FOLD_LIMIT
    assert g.number_of_nodes() > FOLD_LIMIT // 4  # it shows as much as it may, not one box


def test_deep_terms_fold_without_recursion():
    term = Id  # far deeper than Python's recursion limit; type inference dominates the time
    for _ in range(5_000):
        term = Compose(Compose(Add, Copy), term)
    g = folded_diagram(term).graph
    assert g.graph["folds"] == {"A": 5_000}
    assert g.number_of_nodes() < 20


def test_bytecode_runs_fold(bank):
    g = bytecode(compile(bank))
    f = fold_runs(g)
    assert g.number_of_nodes() > 1_500 and f.number_of_nodes() < 60
    labels = [f.nodes[n]["label"] for n in f]
    assert any(label.startswith("×63\n") for label in labels)
    # every instruction is either shown or counted in a folded node
    assert sum(f.nodes[n].get("folded", 1) for n in f) == g.number_of_nodes()


def test_big_trees_are_pruned(bank):
    t = syntax_tree(bank)
    p = prune_tree(t)
    assert p.number_of_nodes() < 500
    assert sum(p.nodes[n].get("hidden", 1) for n in p) == t.number_of_nodes()


@pytest.mark.parametrize("keys, expect", [
    ("abcabcabcx", [(0, 3, 3)]),
    ("xyz", []),
    ("aaaa", [(0, 1, 4)]),
    ("abab" "cc", [(0, 2, 2), (4, 1, 2)]),
])
def test_tandem_repeats(keys, expect):
    assert tandem_repeats(list(keys)) == expect


def test_tandem_repeats_cover_what_they_claim():
    import random

    rng = random.Random(3)
    for _ in range(300):
        keys = [rng.choice("ab") for _ in range(rng.randrange(0, 40))]
        found = tandem_repeats(keys)
        ends = 0
        for start, p, count in found:
            assert start >= ends and count >= 2  # in order, not overlapping
            block = keys[start:start + p]
            assert keys[start:start + p * count] == block * count
            ends = start + p * count


# ---------------------------------------------------------------- Graphviz's time limit


@pytest.fixture
def slow_dot(tmp_path, monkeypatch):
    """A `dot` on the PATH that takes 30 s (and is stopped long before)."""
    exe = tmp_path / "dot"
    exe.write_text("#!/bin/sh\nsleep 30\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    return tmp_path


def test_a_slow_dot_is_stopped_and_the_fallback_draws(slow_dot):
    g = diagram(counter_sm).graph
    started = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        svg = to_svg(g, timeout=0.5)
    assert time.monotonic() - started < 20
    assert svg.lstrip().startswith("<?xml") and "matplotlib" in svg
    (w,) = [w for w in caught if issubclass(w.category, RenderWarning)]
    assert "did not finish within 0.5 s" in str(w.message) and "matplotlib instead" in str(w.message)


def test_a_slow_dot_asked_for_by_name_is_a_clear_error(slow_dot, tmp_path):
    g = diagram(counter_sm).graph
    with pytest.raises(RenderError, match="did not finish within 0.5 s.*engine 'matplotlib'"):
        render(g, str(tmp_path / "x.svg"), engine="dot", timeout=0.5)
    assert not (tmp_path / "x.svg").exists()


def test_the_command_line_says_so_and_draws_without_a_traceback(slow_dot, tmp_path):
    out = tmp_path / "c.svg"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-m", "catlib", "render", "catlib.examples.counter:counter_sm",
                        "-o", str(out), "--timeout", "0.5"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0 and "Traceback" not in p.stderr
    assert "did not finish within 0.5 s" in p.stderr and "(diagram, matplotlib)" in p.stderr
    assert out.read_text().lstrip().startswith("<?xml")
    p = subprocess.run([sys.executable, "-m", "catlib", "render", "catlib.examples.counter:counter_sm",
                        "-o", str(out), "--timeout", "0.5", "--engine", "dot"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "did not finish" in p.stderr


@st.composite
def long_codes(draw: Any) -> Code:
    """Codes with long straight runs, repeated blocks and nested blocks (what folding is for)."""
    parts = draw(st.lists(st.tuples(codes(max_len=5), st.integers(1, 40)), min_size=1, max_size=4))
    flat = [ins for c, k in parts for ins in list(c) * k]
    if draw(st.booleans()):  # the same runs inside a branch and a closure body
        inner = to_text(Code(flat))
        flat = list(parse_code(f"[GET,BRANCH {inner} [CURRY {inner},RETURN],ADD]")) + flat
    return Code(flat)


@settings(max_examples=150, deadline=None)
@given(long_codes(), st.sampled_from([0, 3, 12, 60, 400]))
def test_bytecode_folded_as_it_is_built_is_fold_runs_of_the_whole_graph(code, limit):
    whole = bytecode(code)
    built, folded = bytecode(code, limit=limit), fold_runs(whole, limit)
    event(f"folded: {folded is not whole}")
    assert list(built.nodes(data=True)) == list(folded.nodes(data=True))
    assert sorted(map(repr, built.edges(data=True))) == sorted(map(repr, folded.edges(data=True)))
    assert built.graph == folded.graph


def test_a_bytecode_picture_of_a_million_instructions_is_made_folded():
    code = Code(list(parse_code("[COPY,ADD,SND]")) * 300_000 + list(parse_code("[GET]")))
    t0 = time.process_time()
    g = bytecode(code, limit=400)
    took = time.process_time() - t0
    assert [g.nodes[n]["label"] for n in g] == ["start", "×300000\nCOPY\nADD\nSND", "GET", "stop"]
    assert took < 5, took  # the unfolded graph alone took about 10 s (and 1.5 GB) here


@settings(max_examples=150, deadline=None)
@given(terms(max_size=60), st.sampled_from([1, 2, 5, 12, 40]), st.booleans())
def test_a_syntax_tree_pruned_as_it_is_built_is_prune_tree_of_the_whole_tree(term, limit, types):
    whole = syntax_tree(term, types=types)
    built, pruned = syntax_tree(term, types=types, limit=limit), prune_tree(whole, limit)
    event(f"pruned: {pruned is not whole}")
    # (the same nodes; prune_tree's order is that of a set's iteration, the built tree's is pre-order)
    assert dict(built.nodes(data=True)) == dict(pruned.nodes(data=True))
    assert list(built) == sorted(built)
    assert sorted(map(repr, built.edges(data=True))) == sorted(map(repr, pruned.edges(data=True)))
    assert built.graph == pruned.graph
