"""catlib.graph, catlib.render, cam.graph and ``catlib render``: structure of the graphs, and valid pictures."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import given, settings

from cam.code import Code
from cam.compiler import compile
from cam.graph import bytecode
from cam.text import parse_code
from catlib import render as R
from catlib.__main__ import main
from catlib.context import subterm_types
from catlib.examples.generic import add_constant, counter
from catlib.free import FREE, Case, Compose, Const, Fst, Get, Id, Inl, Par, Prim, Put, Term
from catlib.graph import diagram, syntax_tree
from catlib.graph_category import GraphCategory, type_leaves
from catlib.strategies import Generator, typed_terms
from catlib.tree import walk
from catlib.typecheck import check, infer
from catlib.types import Int, parse
from tests.conftest import scaled

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_text(svg: str) -> list[str]:
    """Every text in an SVG document (it must parse as XML)."""
    root = ET.fromstring(svg)
    return ["".join(e.itertext()) for e in root.iter() if e.tag in (f"{SVG_NS}text", "text")]


def effects_in_order(term: Term) -> list[str]:
    """Get/Put occurrences in the order a run performs them (Compose: f then g; Par: f then g)."""
    out, todo = [], [term]
    while todo:
        t = todo.pop()
        if isinstance(t, Compose):
            todo += [t.g, t.f]
        elif t.kids:
            todo += reversed(t.kids)
        elif isinstance(t, Prim) and t.op in ("Get", "Put"):
            out.append(t.op.lower())
    return out


# ---------------------------------------------------------------- the syntax tree


@given(typed_terms(max_size=10))
def test_syntax_tree_has_one_node_per_constructor_occurrence(pair: tuple[Term, Any]) -> None:
    term, _ = pair
    g = syntax_tree(term)
    assert g.number_of_nodes() == term.size()
    assert Counter(a["constructor"] for _, a in g.nodes(data=True)) == Counter(t.op for t in walk(term))
    assert nx.is_arborescence(g)
    assert [g.nodes[n]["constructor"] for n in sorted(g)] == [t.op for t in walk(term)]


@settings(max_examples=scaled(60))
@given(typed_terms(max_size=8))
def test_syntax_tree_types_are_the_subterms_types_in_context(pair: tuple[Term, Any]) -> None:
    term, _ = pair
    g = syntax_tree(term)
    sig = g.graph["signature"]
    assert str(sig) == str(infer(term))
    assert (g.nodes[0]["dom"], g.nodes[0]["cod"]) == (sig.input, sig.output)
    for n, t in zip(sorted(g), walk(term)):
        a = g.nodes[n]
        # the subterm has (at least) the type its context gives it
        check(t, state=sig.state, input=a["dom"], output=a["cod"])  # type: ignore[arg-type]
        assert a["type"] == f"{a['dom']} -> {a['cod']}"
        assert a["constant"] == (t.k if isinstance(t, Const) else None)


def test_subterm_types_at_a_declared_signature() -> None:
    sig, types = subterm_types(counter(FREE), input="Either () ()")
    assert str(sig) == "Int / Either () () -> Either () Int"
    assert str(types[0][0]) == "Either () ()"
    with pytest.raises(TypeError, match="declared"):
        subterm_types(counter(FREE), output="Int")


def test_syntax_tree_of_an_ill_typed_term() -> None:
    bad = Compose(Fst, Inl)
    with pytest.raises(TypeError, match="ill-typed"):
        syntax_tree(bad)
    assert syntax_tree(bad, types=False).number_of_nodes() == 3


# ---------------------------------------------------------------- the diagram


def check_diagram(term: Term) -> None:
    """The properties every diagram has."""
    d = diagram(term)
    g = d.graph
    sig = infer(term)
    assert nx.is_directed_acyclic_graph(g)
    assert d.arity == (len(type_leaves(sig.input)), len(type_leaves(sig.output)))
    for u, v, a in g.edges(data=True):
        assert a["label"] and a["label"] == str(a["type"]), (u, v, a)
    # wires are linear: every port is fed by one wire and every output port feeds one
    for n, a in g.nodes(data=True):
        heads = sorted(e["headport"] for _, _, e in g.in_edges(n, data=True))
        tails = sorted(e["tailport"] for _, _, e in g.out_edges(n, data=True))
        assert heads == list(range(a["ports_in"])), (n, a)
        assert tails == list(range(a["ports_out"])), (n, a)
    ops = Counter(t.op for t in walk(term))
    roles = Counter(a.get("role") for _, a in g.nodes(data=True))
    for op, role in (("Get", "get"), ("Put", "put"), ("Const", "const"), ("Add", "add"), ("Distr", "distr"),
                     ("Embed", "embed")):
        assert roles[role] == ops[op], op
    assert roles["inject"] == ops["Inl"] + ops["Inr"]
    kinds = Counter(a["kind"] for _, a in g.nodes(data=True))
    assert kinds["fork"] >= ops["Copy"]
    assert kinds["cap"] >= ops["Consume"] + ops["Fst"] + ops["Snd"]
    assert kinds["split"] == kinds["merge"] == ops["Case"]
    assert len(g.graph["clusters"]) == 3 * ops["Case"] + ops["Curry"]  # a case's frame and branches; a closure
    stateful = ops["Get"] + ops["Put"] + ops["Apply"] > 0  # applying a closure may read or write the state
    assert kinds["state_in"] == kinds["state_out"] == int(stateful)
    # (a closure's effects happen where it is applied, not where it is written: no term order to compare with)
    if stateful and not ops["Case"] and not ops["Curry"] and not ops["Apply"]:
        # the state is one wire threaded through the effects, in the order they happen
        n = next(n for n, a in g.nodes(data=True) if a["kind"] == "state_in")
        seen = []
        while g.nodes[n]["kind"] != "state_out":
            (n,) = [v for _, v, e in g.out_edges(n, data=True) if e["kind"] == "state"]
            seen.append(g.nodes[n].get("role", "end"))
        assert seen == [*effects_in_order(term), "end"]


@given(typed_terms(max_size=12, embed=True))
def test_diagram_structure(pair: tuple[Term, Any]) -> None:
    check_diagram(pair[0])


@settings(max_examples=scaled(60))
@given(typed_terms(max_size=12, max_type_depth=3))
def test_diagram_structure_wider_types(pair: tuple[Term, Any]) -> None:
    check_diagram(pair[0])


def test_diagram_of_the_counter() -> None:
    d = diagram(counter(FREE), input="Either () ()")
    g = d.graph
    assert str(d.signature) == "Int / Either () () -> Either () Int"
    labels = Counter(a["label"] for _, a in g.nodes(data=True))
    assert labels["get"] == 2 and labels["put"] == 1 and labels["const 1"] == 1 and labels["+"] == 1
    # one case, two branches; the state enters the case and leaves its merge
    assert sorted(c["kind"] for c in g.graph["clusters"].values()) == ["case", "left", "right"]
    split = next(n for n, a in g.nodes(data=True) if a["kind"] == "split")
    assert {e["kind"] for _, _, e in g.in_edges(split, data=True)} == {"data", "state"}
    assert g.nodes[split]["out_names"] == ["Left", "state", "Right", "state"]


def test_effect_order_is_the_state_wire() -> None:
    # put (get + 1), then read again: get, put, get along the state wire
    term = Get >> add_constant(FREE, 1) >> Put >> Get
    check_diagram(term)
    par = Par(Get, Compose(Put, Const(3)))  # Par runs its left side first
    check_diagram(par)
    assert effects_in_order(par) == ["get", "put"]


def test_graph_category_is_an_instance_on_its_own() -> None:
    C = GraphCategory()
    swap = C.then(C.copy(), C.cross(C.snd(), C.fst()))
    d = C.draw(swap, parse("(Int, ())"))
    assert d.arity == (2, 2)
    assert str(d.signature.output) == "((), Int)"
    kinds = Counter(a["kind"] for _, a in d.graph.nodes(data=True))
    assert kinds["fork"] == 2 and kinds["cap"] == 2
    with pytest.raises(TypeError, match="pair"):
        C.draw(C.fst(), Int)


@pytest.mark.usefixtures("no_gc")
def test_deep_terms_have_diagrams() -> None:
    deep: Term = Id
    for _ in range(100_000):
        deep = Compose(deep, Id)
    d = diagram(deep)
    assert d.arity == (1, 1)
    deep_case: Term = Id
    for _ in range(300):  # nested sums: the wires' type labels grow with depth, so keep it moderate
        deep_case = Case(deep_case, Id)
    check_diagram(deep_case)


def big_term(size: int, seed: int = 7) -> Term:
    """A chain of random `Int / Int -> Int` terms (cases, pairs, effects), `size` nodes or more."""
    gen = Generator.seeded(seed)
    term: Term = Id
    n = 1  # term.size(), kept up to date (not recounted each round: that was quadratic)
    while n < size:
        part = gen.term(Int, Int, Int, 25)
        term, n = Compose(part, term), n + 1 + part.size()
    return term


def test_a_10000_node_term_renders_to_dot() -> None:
    term = big_term(10_000)
    t0 = time.perf_counter()
    dot = diagram(term).to_dot()
    elapsed = time.perf_counter() - t0
    print(f"\n{term.size()}-node term: diagram + DOT in {elapsed:.2f} s ({len(dot) // 1000} kB)")
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    tree = R.to_dot(syntax_tree(term))
    assert len(re.findall(r"^  n\d+ -> n\d+ ", tree, re.M)) == term.size() - 1


# ---------------------------------------------------------------- bytecode


def count_instrs(code: Code) -> int:
    n, todo = 0, [code]
    while todo:
        for i in todo.pop():
            n += 1
            todo.extend(i.kids if i.op in ("BRANCH", "CURRY") else ())
    return n


@settings(max_examples=scaled(60))
@given(typed_terms(max_size=12))
def test_bytecode_graph_has_one_node_per_instruction(pair: tuple[Term, Any]) -> None:
    code = compile(pair[0])
    g = bytecode(code)
    instrs = [n for n, a in g.nodes(data=True) if "op" in a]
    assert len(instrs) == count_instrs(code)
    for n in instrs:
        if g.nodes[n]["op"] == "BRANCH":
            assert sorted(a["label"] for _, _, a in g.out_edges(n, data=True)) == ["L", "R"]
    assert nx.has_path(g, 0, g.number_of_nodes() - 1)  # start reaches stop


def test_bytecode_of_nested_blocks_and_closures() -> None:
    code = parse_code("[ID,BRANCH [BRANCH [GET,RETURN] [RETURN],RETURN] [CURRY [SND,RETURN],RETURN],INR]")
    g = bytecode(code)
    labels = {c["label"] for c in g.graph["clusters"].values()}
    assert labels == {"on L", "on R", "closure body"}
    inr = next(n for n, a in g.nodes(data=True) if a["label"] == "INR")
    # the outer blocks' RETURNs resume at INR
    assert sum(1 for u, _, a in g.in_edges(inr, data=True) if a["kind"] == "return") == 2
    assert bytecode(Code([])).number_of_nodes() == 3
    with pytest.raises(TypeError):
        bytecode("[ID]")  # type: ignore[arg-type]


# ---------------------------------------------------------------- rendering


def test_dot_is_accepted_by_graphviz_or_the_fallback_draws_it() -> None:
    gen = Generator.seeded(3)
    terms = [counter(FREE), *(gen.term(gen.type(), gen.type(), gen.type(), 12) for _ in range(15))]
    graphs = [g for t in terms for g in (diagram(t).graph, syntax_tree(t), bytecode(compile(t)))]
    if shutil.which("dot"):
        for g in graphs:
            p = subprocess.run(["dot", "-Tsvg"], input=R.to_dot(g).encode(), capture_output=True, timeout=60)
            assert p.returncode == 0 and not p.stderr, p.stderr.decode()
            svg_text(p.stdout.decode())
    else:  # CI installs graphviz; without it, the fallback must still draw every graph
        for g in graphs[:12]:
            svg_text(R.to_svg(g))


def test_dot_escapes_labels() -> None:
    g = nx.DiGraph()
    g.add_node(0, kind="syntax", label='say "hi"\\ \n<b>&')
    dot = R.to_dot(g)
    assert '"say \\"hi\\"\\\\ \\n<b>&"' in dot
    if shutil.which("dot"):
        assert subprocess.run(["dot", "-Tsvg"], input=dot.encode(), capture_output=True).returncode == 0


def test_svg_and_png_of_the_counter(tmp_path: Path) -> None:
    d = diagram(counter(FREE), input="Either () ()")
    texts = svg_text(d._repr_svg_())
    for label in ("get", "put", "const 1", "+", "inl", "inr", "Either () Int", "Left", "state"):
        assert label in texts, label
    assert svg_text(counter(FREE)._repr_svg_())  # type: ignore[arg-type]
    png = R.to_png(d.graph)
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    path = tmp_path / "c.png"
    d.render(str(path))
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_fallback_with_dot_hidden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "dot" else real_which(name, *a, **k))
    assert not R.have_dot()
    d = diagram(counter(FREE), input="Either () ()")
    texts = svg_text(d._repr_svg_())
    joined = " ".join(texts)
    for label in ("get", "put", "const 1", "inl", "Either () Int", "on Left ()"):
        assert label in joined, label
    png = R.to_png(d.graph)
    assert png.startswith(PNG_MAGIC) and len(png) > 10_000
    assert R.render(d.graph, str(tmp_path / "c.svg")) == "matplotlib"
    assert R.render(bytecode(compile(counter(FREE))), str(tmp_path / "b.png")) == "matplotlib"
    assert (tmp_path / "b.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(R.RenderError, match="not on the PATH"):
        R.to_svg(d.graph, engine="dot")
    # DOT needs no Graphviz
    assert R.render(d.graph, str(tmp_path / "c.dot")) == "text"


def test_layered_layout_keeps_clusters_apart() -> None:
    g = diagram(counter(FREE)).graph
    pos = R.layered_layout(g)
    left = [pos[n][1] for n, a in g.nodes(data=True) if g.graph["clusters"].get(a["cluster"], {}).get("kind") == "left"]
    right = [pos[n][1] for n, a in g.nodes(data=True) if g.graph["clusters"].get(a["cluster"], {}).get("kind") == "right"]
    assert max(left) < min(right)
    assert len(set(pos.values())) == len(pos)  # no two nodes on one spot


def test_render_rejects_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(R.RenderError, match="format"):
        R.render(syntax_tree(Id), str(tmp_path / "x.jpg"))
    with pytest.raises(R.RenderError, match="engine"):
        R.to_svg(syntax_tree(Id), engine="tikz")
    assert not list(tmp_path.iterdir())


def test_ill_typed_term_has_no_svg() -> None:
    assert Compose(Fst, Inl)._repr_svg_() is None


# ---------------------------------------------------------------- the command


@pytest.mark.parametrize("view", ["diagram", "tree", "bytecode"])
def test_cli_render(view: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"c.{'svg' if view != 'tree' else 'png'}"
    assert main(["render", "catlib.examples.generic:counter", "-o", str(out), "--view", view]) == 0
    data = out.read_bytes()
    if out.suffix == ".svg":
        texts = svg_text(data.decode())
        assert any("counter" in t for t in texts)
    else:
        assert data.startswith(PNG_MAGIC)
    assert main(["render", "catlib.examples.generic:counter", "--view", view]) == 0
    assert capsys.readouterr().out.startswith("digraph")


def test_cli_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["render", "nonsense"]) == 2
    assert main(["render", "catlib.nope:x"]) == 2
    assert main(["render", "catlib.free:Nope"]) == 2
    assert main(["render", "catlib.free:FREE"]) == 2
    assert main(["render", "catlib.free:Fst", "-o", str(tmp_path / "x.bmp")]) == 2
    err = capsys.readouterr().err
    assert "MODULE:NAME" in err and "cannot import" in err and "no 'Nope'" in err and ".svg" in err


def test_cli_declared_types(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c2.svg"
    args = ["render", "catlib.examples.counter:counter_sm2", "-o", str(out), "--input-type", "Either () ()"]
    assert main([*args, "--state-type", "(Int, Int)"]) == 0
    assert "counter_sm2 : (Int, Int) / Either () () -> Either () Int" in svg_text(out.read_text())
    assert main([*args, "--state-type", "Int"]) == 2
    assert main([*args, "--state-type", "(Int"]) == 2
    err = capsys.readouterr().err
    assert "declared state Int" in err and "--state-type" in err


def test_cli_tour_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tour"]) == 0
    assert "counter as a term" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["counter_sm", "counter_sm2", "upgrade_state", "COUNTER2", "MIGRATION"])
def test_cli_renders_the_seed_examples(name: str, tmp_path: Path) -> None:
    out = tmp_path / "x.dot"
    assert main(["render", f"catlib.examples.counter:{name}", "-o", str(out)]) == 0
    dot = out.read_text()
    assert name in dot
    if name == "COUNTER2":  # a Program is drawn at its declared type
        assert "(Int, Int) / Either () () -&gt; Either () Int" in dot
