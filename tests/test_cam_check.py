"""cam.check: the campaign runner, end to end, including the failure path and its reproducer."""

import gc
import subprocess
import sys
import threading

import pytest

import cam.compiler
import catlib.free
from cam import machine
from cam.__main__ import main as cam_main
from cam.campaign_dist import ClusterUnavailable, DaskCluster, campaign_settings, machine_knobs
from cam.check import (
    _SMALL_TERMS,
    FUNCTIONS_EVERY,
    Trial,
    _positions,
    _replace,
    _smallest,
    disagreement,
    main,
    make_case,
    on_code,
    run_campaign,
    shrink,
    term_seed,
)
from cam.code import SND
from cam.decoded import decode
from cam.hostvalue import unquote
from cam.text import parse_value
from cam.trial import same_blocks
from catlib.free import Add, Case, Compose, Const, Copy, Curry, Fst, Id, Par, Snd
from catlib.strategies import CONSTRUCTORS
from catlib.tree import fold
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


def break_fst(monkeypatch):
    """A deliberately wrong compiler: `Fst` compiles to ``SND`` (the ``FST`` inside `Distr`'s code stays), in
    both of its forms (code, and the decoded form most campaign terms run in)."""
    monkeypatch.setitem(cam.compiler.TEMPLATES, "Fst", (SND,))


def test_a_compiler_wrong_in_its_code_alone_is_caught_on_the_terms_checked_through_code(monkeypatch):
    """Most terms run in decoded form (`cam.compiler.compile_decoded`); the terms checked through their code
    (`cam.trial.on_code`, and those with functions in their signature) catch a compiler whose code alone is
    wrong, whether it gives other answers or the same answers by other instructions."""
    right = cam.compiler.compile

    def wrong(term):
        return right(fold(term, lambda t, kids: Snd if t == Fst else type(t)(*kids) if kids else t))

    monkeypatch.setattr(cam.compiler, "compile", wrong)
    report = run_campaign(300, seed=1, jobs=1, progress=False)
    assert report.failures and all(on_code(i) for i in report.failures)
    assert any(i % FUNCTIONS_EVERY == 0 for i in report.failures) and any(i % FUNCTIONS_EVERY for i in report.failures)
    monkeypatch.setattr(cam.compiler, "compile", lambda term: right(Compose(Id, term)))  # one ID more
    report = run_campaign(100, seed=1, jobs=1, progress=False)
    assert report.failures == [i for i in range(100) if on_code(i)]
    outcome = disagreement(make_case(1, 1, 16))  # first order: its answers agree, its decoded forms do not
    assert outcome is not None and "decoded form differs from the decoding of its code" in outcome.got
    assert disagreement(make_case(1, 1, 16), full=False) is None


def test_closures_are_compared_by_their_code_and_environment_in_decoded_form(monkeypatch):
    """On the fast path a closure from the machine must have the code ``CURRY`` makes of the interpreter's
    closure's body, and the same environment."""
    sig = Signature(parse("()"), parse("Int"), parse("Int -> Int"))
    case = Trial(Compose(Curry(Fst), Id), sig, 3, ())
    assert disagreement(case, full=False) is None
    right = cam.compiler.compile_decoded

    def more(term):  # a closure's body gets one ID more, the term's own code not
        return right(Curry(Compose(Id, term.f)) if isinstance(term, Curry) else term)

    monkeypatch.setattr(cam.compiler, "compile_decoded", more)
    outcome = disagreement(case, full=False)
    assert outcome is not None and "Closure" in outcome.got


def test_the_decoded_form_is_the_decoding_of_the_code():
    for i in range(300):
        term = make_case(4, i, 24).term
        assert same_blocks(cam.compiler.compile_decoded(term), decode(cam.compiler.compile(term))), term
        assert cam.compiler.compile_decoded(term) == decode(cam.compiler.compile(term))
    assert not same_blocks(cam.compiler.compile_decoded(Fst), cam.compiler.compile_decoded(Snd))
    assert not same_blocks(cam.compiler.compile_decoded(Const(1)), cam.compiler.compile_decoded(Const(2)))
    assert not same_blocks(cam.compiler.compile_decoded(Case(Id, Fst)), cam.compiler.compile_decoded(Case(Id, Snd)))
    assert not same_blocks(cam.compiler.compile_decoded(Curry(Fst)), cam.compiler.compile_decoded(Curry(Snd)))
    assert not same_blocks(cam.compiler.compile_decoded(Compose(Id, Id)), cam.compiler.compile_decoded(Id))


def test_subterms_met_again_compile_as_first_met():
    """`cam.compiler` records the code of a subterm met a second time and copies it when met again: under new
    parents each time (a record once held its parent's first instruction), both forms stay what they were."""
    for i in range(60):
        term = make_case(5, i, 16).term
        for parent in (lambda t: Par(t, Id), lambda t: Compose(Id, Case(t, t)), lambda t: Curry(Compose(t, Fst))):
            codes = [cam.compiler.compile(parent(term)) for _ in range(3)]
            blocks = [cam.compiler.compile_decoded(parent(term)) for _ in range(3)]
            assert codes[0] == codes[1] == codes[2] and blocks[0] == blocks[1] == blocks[2] == decode(codes[0])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_broken_compiler_is_caught_with_a_minimal_reproducer(monkeypatch, capsys, jobs):
    break_fst(monkeypatch)
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
    break_fst(monkeypatch)
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


def same(a, b):
    return (a.terms, a.occurrences, a.terms_with, a.sizes, a.failures) == (b.terms, b.occurrences, b.terms_with,
                                                                             b.sizes, b.failures)


def test_the_report_does_not_depend_on_the_chunks():
    whole = run_campaign(200, seed=6, jobs=1, chunk=200, progress=False)
    assert whole.terms == 200 and not whole.failures and whole.reproducer is None
    for chunk in (1, 7, 64):
        assert same(run_campaign(200, seed=6, jobs=1, chunk=chunk, progress=False), whole), chunk
    assert same(run_campaign(200, seed=6, jobs=2, chunk=13, progress=False), whole)


def test_a_failure_comes_back_shrunk_from_a_pool_worker(monkeypatch):
    break_fst(monkeypatch)
    one = run_campaign(120, seed=1, jobs=1, progress=False)
    two = run_campaign(120, seed=1, jobs=2, chunk=11, progress=False)
    assert one.failures and same(one, two)
    for r in (one.reproducer, two.reproducer):
        assert r is not None and r.index == one.failures[0]
        assert r.shrunk.term.size() < r.original.term.size() and "SND" in r.code
        assert r.outcome == disagreement(r.shrunk) and r.outcome.expected != r.outcome.got
    assert one.reproducer == two.reproducer


@pytest.fixture(scope="module")
def dask_scheduler():
    distributed = pytest.importorskip("distributed")  # the test extra installs it; see pyproject.toml
    # threads in this process: the workers see a test's monkeypatches, and start in a second or two
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        yield c.scheduler_address


def test_dask_cluster_sees_the_same_terms_as_the_local_pool(dask_scheduler):
    local = run_campaign(150, seed=4, jobs=1, progress=False)
    remote = run_campaign(150, seed=4, scheduler=dask_scheduler, chunk=17, progress=False)
    assert same(local, remote) and not remote.failures


def test_dask_cluster_brings_a_failure_back_shrunk(monkeypatch, capsys, dask_scheduler):
    break_fst(monkeypatch)
    local = run_campaign(120, seed=1, jobs=1, progress=False)
    assert main(["--terms", "120", "--seed", "1", "--scheduler", dask_scheduler, "--chunk", "9",
                 "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"checked 120 terms (seed 1, max size 16, Dask at {dask_scheduler}) in ")
    assert f"{len(local.failures)} DISAGREE" in out
    assert local.reproducer is not None
    assert f"minimal reproducer (term {local.reproducer.index} of seed 1, shrunk from " in out
    assert f"  term:        {local.reproducer.shrunk.term!r}\n" in out


def test_without_dask_scheduler_is_a_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    assert main(["--terms", "5", "--scheduler", "tcp://127.0.0.1:1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler needs Dask's distributed scheduler" in err and "hotswap-cat[cluster]" in err


def test_unreachable_scheduler_is_a_clear_error():
    pytest.importorskip("distributed")
    with pytest.raises(ClusterUnavailable, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        DaskCluster("tcp://127.0.0.1:1", timeout=0.5)


def test_campaign_settings_are_restored_and_shared_by_threads():
    before = (machine_knobs(), gc.get_threshold(), gc.get_freeze_count() > 0)
    inside = []

    def work():
        with campaign_settings():
            inside.append(machine_knobs())

    with campaign_settings():
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        inside.append(machine_knobs())
    assert inside == [{"JIT_AFTER": 0, "CACHE_BUDGET": 0}] * 5
    assert before[0]["JIT_AFTER"] > 0 and before[0]["CACHE_BUDGET"] > 0
    assert (machine_knobs(), gc.get_threshold(), gc.get_freeze_count() > 0) == before



def test_campaigns_run_each_code_without_translating_or_keeping_it(monkeypatch):
    # Each term's code runs once: translation (cam.machine.JIT_AFTER) and the decoded-code cache
    # (CACHE_BUDGET) would only cost time and memory, so chunks run with both off, in process and in workers.
    seen = []

    def watched(real):
        def run(*args):
            seen.append((real.__name__, machine_knobs()))
            return real(*args)
        return run

    monkeypatch.setattr(machine, "step", watched(machine.step))
    monkeypatch.setattr(machine, "run_decoded", watched(machine.run_decoded))
    report = run_campaign(30, seed=2, jobs=1, chunk=7, progress=False)
    assert report.terms == 30 and {knobs["JIT_AFTER"] for _, knobs in seen} == {0}
    assert {knobs["CACHE_BUDGET"] for _, knobs in seen} == {0} and len(seen) >= 30
    assert all(v > 0 for v in machine_knobs().values())
