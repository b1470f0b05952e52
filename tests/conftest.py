"""Hypothesis profiles: ``ci`` (default), ``thorough`` (``HYPOTHESIS_PROFILE=thorough``) and ``mutation``.

``mutation`` (used by ``tools/mutation.py``, see docs/mutation.md) caps every
property at a few examples, the same ones on every run, so that each mutant
is judged quickly and reproducibly.

Every test starts with the package's module-level caches empty (`fresh_caches`),
so that no test passes or fails by the accident of what ran before it.
"""

import atexit
import gc
import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests import docs_build

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", max_examples=100_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "mutation", max_examples=20, deadline=None, derandomize=True, database=None,
    suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CI_EXAMPLES = 200


def scaled(n: int) -> int:
    """At least `n` examples under the ci profile, more under ``thorough``; a smaller profile caps it."""
    default = settings.default.max_examples
    return default if default < CI_EXAMPLES else max(n, default)


PACKAGES = ("catlib", "cam", "proofs")


def clear_caches() -> list[str]:
    """Empty every module-level cache of the package; the names of those cleared.

    The machine's decoded-code cache (with the translations and run counts it
    holds) is emptied through its public `clear_cache`; every memoised function
    (`functools.lru_cache` / `functools.cache`) found at module level in
    catlib, cam or proofs through its `cache_clear`.  Found by looking, so a
    module split or a renamed function keeps being covered.
    """
    cleared = []
    # a worker holds ~1,400 modules, ~110 of them ours: a prefix test first (a split per name was most of the
    # ~1 ms this took per test)
    for name, module in [(n, m) for n, m in list(sys.modules.items()) if n.startswith(PACKAGES)]:
        if module is None or name.split(".")[0] not in PACKAGES:
            continue
        for attr in _clearers(name, module):
            obj = getattr(module, attr, None)
            if not _clears(name, attr, obj):
                continue
            if attr == "clear_cache":
                obj()  # type: ignore[misc]
                cleared.append(f"{name}.{attr}()")
            else:
                obj.cache_clear()  # type: ignore[union-attr]
                cleared.append(f"{name}.{attr}")
    return cleared


_found: dict[str, tuple[int, int, list[str]]] = {}
"""Per module name: (its id, how many names it had, the names that looked like caches then)."""


def _clears(name: str, attr: str, obj: object) -> bool:
    if attr == "clear_cache":
        return callable(obj) and getattr(obj, "__module__", None) == name
    return callable(getattr(obj, "cache_clear", None)) and getattr(obj, "__module__", None) == name


def _clearers(name: str, module: object) -> list[str]:
    """The names in `module` that are caches to empty, looked for again whenever its namespace grew or shrank.

    Looking at every name of every module before each of ~1,450 tests took ~3 ms a test (a
    ``getattr(obj, "cache_clear")`` per name, some objects answering through ``__getattr__``); the names are
    read again when the module's dict changes size (a late import, a new function), and each is checked again
    when it is used (`clear_caches`), so a name rebound to something else is not cleared by mistake.
    """
    names = vars(module)
    known = _found.get(name)
    if known is None or known[0] != id(module) or known[1] != len(names):
        known = _found[name] = (id(module), len(names),
                                [a for a, obj in list(names.items()) if _clears(name, a, obj)])
    return known[2]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Under the ``mutation`` profile the suite runs in one process, whatever ``-n`` says (pyproject's addopts
    asks pytest-xdist for a worker per core): mutmut watches, in its own process, which tests reach which
    function."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "mutation" and getattr(config.option, "numprocesses", None):
        config.option.numprocesses, config.option.dist = 0, "no"
    if not hasattr(config, "workerinput"):
        _bytecode_for_this_run()
    # The documentation build, once per run, in the controlling process (xdist's workers have `workerinput`),
    # which passes its folder on to the workers it starts afterwards (tests/docs_build.py).
    if (not hasattr(config, "workerinput") and docs_build.ENV not in os.environ
            and os.environ.get("DOCS_BUILD") != "0" and not os.environ.get("DOCS_SITE")
            and docs_build.wanted(list(config.args) or [str(config.rootpath)])):
        os.environ[docs_build.ENV] = str(docs_build.start())
    if not hasattr(config, "workerinput"):
        _rewritten_ahead(config)


def _bytecode_for_this_run() -> None:
    """When the environment asks Python not to write bytecode (``PYTHONDONTWRITEBYTECODE``), the processes this run
    starts (xdist's workers, the documentation build and its notebook kernels, the nodes and commands the tests run)
    keep theirs in a folder of their own for the run, removed at its end, instead of compiling every module again.

    Without it each of them compiled the package's modules from source (~0.2 s of CPU per process that imports the
    node), and each worker rewrote and compiled hypothesis's ~75 modules for pytest's assertion rewriting (its
    plugin's package is rewritten whole).  Nothing is written beside the sources (``PYTHONPYCACHEPREFIX``), so
    what the setting is for holds; with bytecode allowed, nothing changes.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE") or os.environ.get("PYTHONPYCACHEPREFIX"):
        return
    # in memory where the system has a tmpfs for that: making ~14,000 links on the disk's /tmp took 1.5 to 20 s
    # of system CPU as the machine's other work varied, 0.4 s on /dev/shm
    shm = "/dev/shm"
    memory = shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None
    prefix = tempfile.mkdtemp(prefix="pycache-", dir=memory)
    atexit.register(shutil.rmtree, prefix, ignore_errors=True)
    _installed_bytecode(prefix)
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    del os.environ["PYTHONDONTWRITEBYTECODE"]


def _rewritten_ahead(config: pytest.Config) -> None:
    """Before pytest-xdist starts its workers, rewrite the run's test modules for pytest's assertion messages once,
    into the run's bytecode folder (`_bytecode_for_this_run`), where each worker's import finds them.

    Each worker rewrote every test module itself as it collected them, and hypothesis's modules (pytest rewrites
    its plugins' packages) as the conftest imported them: ~7 of a worker's ~13 CPU-s of collection (December
    2026), both workers at once, so neither found the other's.  The rewriting and the file are
    pytest's own (its rewrite hook reads the file as it reads any it wrote: checked against the source's size and
    time, a stale one rewritten again); meanwhile the documentation build, started just before, has the other
    core.  Nothing is done without workers, or without a run's own bytecode folder.
    """
    prefix = os.environ.get("PYTHONPYCACHEPREFIX")
    if (not prefix or not getattr(config.option, "numprocesses", None) or config.option.dist == "no"
            or config.option.collectonly):  # (pytest-xdist collects in this process then)
        return
    try:  # pytest's internals: if they move, the workers rewrite as before
        from _pytest.assertion import rewrite
        state = config.stash[rewrite.assertstate_key]
    except (ImportError, KeyError, AttributeError):
        return
    if config.getoption("assertmode") != "rewrite":
        return
    files: set[Path] = set()
    for arg in list(config.args) or [str(config.rootpath)]:
        path = Path(arg.split("::")[0]).resolve()
        if path.is_dir():
            files.update(path.rglob("test_*.py"))
            files.update(path.rglob("conftest.py"))
        elif path.suffix == ".py" and (path.name.startswith("test_") or path.name == "conftest.py"):
            files.add(path)
    # and the modules this process has imported through pytest's rewriting (hypothesis's, its plugin's package),
    # which each worker imports too
    files.update(Path(m.__spec__.origin) for m in list(sys.modules.values())
                 if isinstance(getattr(m, "__loader__", None), rewrite.AssertionRewritingHook)
                 and getattr(m, "__spec__", None) is not None and m.__spec__.origin)
    for fn in sorted(files):
        folder = Path(prefix, *fn.parts[1:-1])
        try:
            folder.mkdir(parents=True, exist_ok=True)
            stat, code = rewrite._rewrite_test(fn, config)
            rewrite._write_pyc(state, code, stat, folder / (fn.name[:-3] + rewrite.PYC_TAIL))
        except (OSError, SyntaxError):  # the worker meets it and says so, as without this
            continue
        except Exception:  # noqa: BLE001 - pytest's internals changed: the workers rewrite as before
            return


def _installed_bytecode(prefix: str) -> None:
    """Link, into the bytecode folder `prefix`, the bytecode that the installation already has beside its sources
    (the standard library's and site-packages' ``__pycache__``).

    Python reads bytecode only from the prefix once one is set, so without these links every module of the
    standard library and of the installed packages that the run imports (~2,900 modules: Sphinx, docutils,
    IPython, sympy, hypothesis, numpy, ...) was compiled from source again: ~25 s of CPU per run, more where two
    processes started together compiled the same module.  A link is only read: Python checks it against its
    source as it checks any bytecode, and replaces a stale one in the prefix (a new file, never the linked one).
    Packages' own test folders are left out (the run imports none of them).
    """
    tag = f".{sys.implementation.cache_tag}.pyc"
    roots = {p for p in sys.path if p and p.startswith((sys.base_prefix, sys.prefix)) and os.path.isdir(p)}
    seen: set[str] = set()
    for root in sorted(roots, key=len):
        for folder, dirs, files in os.walk(root):
            if folder in seen:  # a root inside another (lib-dynload, site-packages)
                dirs.clear()
                continue
            seen.add(folder)
            dirs[:] = [d for d in dirs if d not in ("tests", "test")]
            if os.path.basename(folder) != "__pycache__":
                continue
            dirs.clear()
            names = [f for f in files if f.endswith(tag)]
            if not names:
                continue
            target = prefix + os.path.dirname(folder)
            os.makedirs(target, exist_ok=True)
            for f in names:
                try:
                    os.symlink(os.path.join(folder, f), os.path.join(target, f))
                except OSError:  # already there, or links not allowed here: compiled as before
                    pass


LONG_FIRST = (
    "tests/test_papers.py::test_quick_build",
    "tests/test_style.py::test_mypy_clean",
    "tests/test_deep.py::test_deep_nested_curry",
    "tests/test_cam_code.py::test_deeply_nested_text",
    "tests/test_machine_load.py::test_large_code_is_translated_and_runs",
    "tests/test_central.py::test_machine_agrees_with_interpreter",
    "tests/test_central.py::test_a_planted_bug_shrinks",
    "tests/test_node_model.py::",
    "tests/test_machine_load.py::test_load_agrees_with_the_checked_loop_on_arbitrary_code",
    "tests/test_cam_code.py::test_parse_fuzz",
    "tests/test_deep.py::",
    "tests/test_graph.py::test_deep_terms_have_diagrams",
    "tests/test_verifier.py::test_deeply_nested_branches",
    "tests/test_graph.py::test_dot_is_accepted_by_graphviz",
    "tests/test_laws.py::test_check_instance",
    "tests/test_verifier_properties.py::test_random_code_that_verifies",
    "tests/test_frontend_random.py::test_random_plain_machines",
    "tests/test_central.py::test_deep_par_nesting",
    "tests/test_machine_load.py::test_the_examples_against_the_interpreter",
    "tests/test_node_bundle.py::test_the_bundle_runs_a_node_in_a_bare_virtual_environment",
    "tests/test_cam_machine.py::test_fast_path_agrees",
    "tests/test_verifier.py::test_deeply_nested_closures_and_values",
    "tests/test_machine_load.py::",
    "tests/test_examples_lang.py::test_family_against_its_model",
    "tests/test_closures.py::test_the_law_checker",
    "tests/test_cam_code.py::test_json_round_trip",
    "tests/test_lang_checks.py::test_verified_code_with_the_extensions_does_not_go_wrong",
    "tests/test_verifier_properties.py::test_arbitrary_code_is_rejected_or_runs",
    "tests/test_cam_machine.py::test_arbitrary_code_halts_or_raises_machine_errors",
    "tests/test_cam_code.py::test_digest_differs_exactly_for_different_code",
    "tests/test_verifier_properties.py::test_fuzz_cases_are_rejected_or_run",
    "tests/test_types.py::test_deep_types_parse_and_print",
    "docs/checking.md::",
    "tests/test_syntax.py::test_port_programs",
    "tests/test_cam_machine.py::test_translation_agrees_with_the_checked_loop_on_every_small_stack_code",
)
"""Node-id prefixes of the longest tests, longest first, run first: by CPU seconds (the test's process and the
processes it waited for) in a whole run (December 2026: every test of about 1.3 CPU-s or more, 1.3 to 17 s; an
xdist run on a loaded machine, where a test's wall time said more about the machine than about the test).

pytest-xdist's ``worksteal`` first splits the collection into one contiguous block per
worker, in order, and later re-balances only the tests not yet started: a one-minute
test collected last keeps one worker busy while the other idles.  So the long tests
are dealt round-robin to the front of each worker's block (`pytest_collection_modifyitems`):
each worker starts on its share of them and the short ones fill in around them (put
all at the front of the collection, they were all in the first worker's block, one
after another).  The order is otherwise the collection order, so a run stays repeatable.
"""


WAIT_FOR_DOCS = "tests/test_docs.py::"
"""Node-id prefix of the tests that wait for the documentation build (tests/docs_build.py): run last."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deal the tests of `LONG_FIRST` (in the order listed) to the fronts of the blocks that pytest-xdist's
    ``worksteal`` first gives each worker (without xdist: one block, so they come first); `WAIT_FOR_DOCS` last."""

    def rank(item: pytest.Item) -> int:
        return next((i for i, p in enumerate(LONG_FIRST) if item.nodeid.startswith(p)), len(LONG_FIRST))

    ranks = {item.nodeid: rank(item) for item in items}
    long = sorted((item for item in items if ranks[item.nodeid] < len(LONG_FIRST)), key=lambda i: ranks[i.nodeid])
    others = [item for item in items if ranks[item.nodeid] == len(LONG_FIRST)]
    # the tests that wait for the documentation build (started beside the tests) last: run early, a worker would
    # sit idle until the build ends
    rest = iter(sorted(others, key=lambda item: item.nodeid.startswith(WAIT_FOR_DOCS)))
    workers = max(1, int(getattr(config, "workerinput", {}).get("workercount", 1)))
    out: list[pytest.Item] = []
    remaining = len(items)
    for w in range(workers):  # block sizes as worksteal's first split makes them: an even share of what is left
        size = remaining // (workers - w)
        remaining -= size
        mine = long[w::workers]
        out += mine + list(itertools.islice(rest, max(0, size - len(mine))))
    out += rest
    items[:] = out


def pytest_collection_finish(session: pytest.Session) -> None:
    """Make the cyclic garbage collector cheaper for the rest of the run (each xdist worker collects too).

    Once every test module is imported, its objects (modules, functions, hypothesis strategies) are moved
    out of the collector's reach (`gc.freeze`), and the youngest generation is collected every 20,000
    allocations instead of 700, so that the tests' millions of short-lived term nodes are not traversed
    again and again.  Measured on tests/test_laws.py and tests/test_verifier_properties.py (80 tests):
    164 -> 157 s user time.  Only when cycles are freed changes; no test depends on that.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


@pytest.fixture
def no_gc() -> Iterator[None]:
    """The cyclic garbage collector off for a test that builds 100,000-deep structures (no cycles in them).

    Reference counting frees such terms; the collector's generation-2 passes
    re-traverse the whole growing heap, a fifth to a third of such a test's CPU
    (tests/test_deep.py's closures, then one test: 59 s -> 48 s user time).  Nothing depends on
    when cycles are freed.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Each test starts from empty caches (the decoded and translated code above all)."""
    clear_caches()
    yield
