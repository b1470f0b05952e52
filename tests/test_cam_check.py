"""cam.check: the campaign runner, end to end, including the failure path and its reproducer."""

import subprocess
import sys

import pytest

import cam.compiler
import catlib.free
from cam.__main__ import main as cam_main
from cam.check import (
    _SMALL_TERMS,
    Trial,
    _positions,
    _replace,
    _smallest,
    disagreement,
    main,
    make_case,
    run_campaign,
    shrink,
    term_seed,
)
from cam.code import SND, unquote
from cam.text import parse_value
from catlib.free import Add, Compose, Copy, Fst, Id, Par, Snd
from catlib.strategies import CONSTRUCTORS
from catlib.typecheck import Signature, check
from catlib.types import parse
from catlib.values import Left, has_type


def test_campaign_passes_and_reports(capsys):
    assert main(["--terms", "400", "--seed", "3", "--jobs", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("checked 400 terms (seed 3, max size 16, 1 job) in ")
    assert "terms/s; all agree" in out
    for op in CONSTRUCTORS:
        if op != "Embed":
            assert f"\n  {op} " in out
    assert "never generated" not in out and "Embed" not in out
    assert "term sizes:" in out and "nodes" in out and "#" in out


def test_cam_check_command(capsys):
    assert cam_main(["check", "--terms", "30", "--seed", "1", "--jobs", "1", "--no-progress"]) == 0
    assert "checked 30 terms" in capsys.readouterr().out


def test_python_dash_m():
    r = subprocess.run([sys.executable, "-m", "cam.check", "--terms", "50", "--seed", "2", "--jobs", "2"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "checked 50 terms (seed 2, max size 16, 2 jobs)" in r.stdout


def test_terms_are_reproducible_from_seed_and_index():
    assert make_case(5, 17, 16) == make_case(5, 17, 16)
    assert make_case(5, 17, 16) != make_case(5, 18, 16)
    assert term_seed(5, 17) == term_seed(5, 17) != term_seed(17, 5)
    c = make_case(5, 17, 16)
    assert has_type(c.input, c.signature.input) and has_type(c.state, c.signature.state)


def test_parallel_campaign_sees_the_same_terms():
    one = run_campaign(300, seed=4, jobs=1, progress=False)
    two = run_campaign(300, seed=4, jobs=2, progress=False)
    assert (one.terms, one.occurrences, one.sizes, one.failures) == (two.terms, two.occurrences, two.sizes, [])
    part = run_campaign(100, seed=4, jobs=1, start=200, progress=False)
    rest = run_campaign(200, seed=4, jobs=1, progress=False)
    rest.add(part)
    assert rest.occurrences == one.occurrences


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_broken_compiler_is_caught_with_a_minimal_reproducer(monkeypatch, capsys, jobs):
    # A deliberately wrong compiler: Fst compiles to SND.
    monkeypatch.setitem(cam.compiler.TEMPLATES, "Fst", (SND,))
    assert main(["--terms", "300", "--seed", "1", "--jobs", jobs, "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "DISAGREE" in out and "FAILED: machine and interpreter disagree on terms " in out
    lines = dict(line.strip().split(":", 1) for line in out[out.index("minimal reproducer"):].splitlines()[1:])
    assert set(lines) == {"term", "signature", "code", "input", "state", "interpreter", "machine", "unshrunk"}
    assert "Fst" in lines["term"] and "SND" in lines["code"]
    assert lines["interpreter"] != lines["machine"]
    # shrunk, and locally minimal: no subterm can be replaced by one of its
    # children or a small primitive (keeping the signature) and still fail
    header = out[out.index("minimal reproducer"):].splitlines()[0]
    before, after = (int(x.split()[0]) for x in header.split("shrunk from ")[1].split(" to "))
    assert after < before
    term = eval(lines["term"].strip(), vars(catlib.free))
    sig = Signature(*(parse(t) for t in _split_signature(lines["signature"].strip())))
    case = Trial(term, sig, unquote(parse_value(lines["input"].strip())), unquote(parse_value(lines["state"].strip())))
    assert disagreement(case) is not None
    for path, sub in _positions(term):
        for new in (*sub.kids, *_SMALL_TERMS):
            if new.size() >= sub.size():
                continue
            smaller = _replace(term, path, new) if path else new
            try:
                check(smaller, state=sig.state, input=sig.input, output=sig.output)
            except TypeError:
                continue
            assert disagreement(Trial(smaller, sig, case.input, case.state)) is None, smaller


def _split_signature(text: str) -> tuple[str, str, str]:
    state, rest = text.split(" / ", 1)
    depth = 0
    for i, ch in enumerate(rest):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and rest.startswith(" -> ", i):
            return state, rest[:i], rest[i + 4:]
    raise ValueError(text)


def test_broken_compiler_shrinks_to_fst(monkeypatch):
    monkeypatch.setitem(cam.compiler.TEMPLATES, "Fst", (SND,))
    sig = Signature(parse("()"), parse("(Int, Int)"), parse("Int"))
    big = Trial(Compose(Add, Compose(Par(Fst, Id), Copy)) >> Id, Signature(sig.state, parse("((Int, Int), Int)"),
                parse("Int")), ((5, -7), 12), ())
    assert disagreement(big) is not None
    small = shrink(big)
    assert disagreement(small) is not None
    assert small.term.size() < big.term.size()
    assert "Fst" in repr(small.term)


def test_disagreement_is_none_when_correct():
    c = Trial(Compose(Add, Copy), Signature(parse("()"), parse("Int"), parse("Int")), 3, ())
    assert disagreement(c) is None


def test_exceptions_count_as_disagreements(monkeypatch):
    def boom(term):
        raise RuntimeError("compiler crashed")

    monkeypatch.setattr(cam.compiler, "compile", boom)
    out = disagreement(Trial(Id, Signature(parse("()"), parse("Int"), parse("Int")), 3, ()))
    assert out is not None and out.got == "raised RuntimeError: compiler crashed"
    assert out.expected == "state Unit, output Int 3"


def test_shrink_helpers():
    t = Compose(Par(Fst, Snd), Copy)
    assert _replace(t, (0, 1), Id) == Compose(Par(Fst, Id), Copy)
    assert _replace(t, (1,), Id) == Compose(Par(Fst, Snd), Id)
    assert _smallest(parse("(Either Int (), (Int, ()))")) == (Left(0), (0, ()))


def test_bad_arguments_exit_2():
    with pytest.raises(SystemExit) as e:
        main(["--terms", "-1"])
    assert e.value.code == 2
