"""Mutation testing, one module at a time: ``python tools/mutation.py [MODULE ...]`` (see docs/mutation.md).

For each module asked for (default: all of `SUBSETS`), runs mutmut 3 in a
scratch copy of the repository with only that module mutated and only its
test subset selected, hypothesis capped by the ``mutation`` profile
(tests/conftest.py: 20 examples, derandomised), then prints the score and
the surviving mutants (``mutmut show NAME`` in the scratch directory shows
each one's diff).  Needs the ``dev`` extra: ``pip install -e '.[dev]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SUBSETS: dict[str, list[str]] = {
    "cam/compiler.py": ["tests/test_central.py", "tests/test_examples.py", "tests/test_mutation_gaps.py",
                        "tests/test_proofs.py", "tests/test_verifier_properties.py", "tests/test_syntax.py",
                        "tests/test_mutation_gaps_compiler.py"],
    "cam/machine.py": ["tests/test_cam_machine.py", "tests/test_machine_load.py", "tests/test_mutation_gaps.py",
                       "tests/test_central.py", "tests/test_examples.py", "tests/test_machine_cache.py",
                       "tests/test_fresh_caches.py", "tests/test_mutation_gaps_machine.py"],
    "cam/verifier.py": ["tests/test_verifier.py", "tests/test_verifier_properties.py", "tests/test_mutation_gaps.py",
                        "tests/test_mutation_gaps_verifier.py"],
    "catlib/interpreter.py": ["tests/test_central.py", "tests/test_examples.py", "tests/test_instances.py",
                              "tests/test_laws.py", "tests/test_mutation_gaps.py", "tests/test_symbolic.py",
                              "tests/test_syntax.py", "tests/test_deep.py"],
    "catlib/typecheck.py": ["tests/test_typecheck.py", "tests/test_types.py", "tests/test_mutation_gaps.py",
                            "tests/test_mutation_gaps_typecheck.py", "tests/test_origin.py",
                            "tests/test_examples.py", "tests/test_instances.py", "tests/test_syntax.py",
                            "tests/test_verifier.py", "tests/test_deep.py"],
}
SUBSETS["cam/jit.py"] = SUBSETS["cam/machine.py"]  # the machine's translator to Python (its fast path)
SUBSETS["cam/decoded.py"] = SUBSETS["cam/machine.py"]  # the machine's decoded code and its cache
SUBSETS["cam/loaded.py"] = SUBSETS["cam/machine.py"]  # the machine's loaded (bound) code
SUBSETS["catlib/types.py"] = SUBSETS["catlib/typecheck.py"]  # the type checker's types and substitutions
SUBSETS["cam/absmachine.py"] = SUBSETS["cam/verifier.py"]  # the verifier's abstract machine
SUBSETS["cam/typeengine.py"] = SUBSETS["cam/verifier.py"]  # the verifier's unification engine
"""Each module mutated, and the tests that speak about it (its own doctests are added)."""

TIMEOUT_MULTIPLIER = 3
"""A mutant that runs longer than this many times its tests' clean time (plus a second) is stopped and counted as
killed (mutmut's default, 15, lets a mutant that loops, e.g. a parser that stops advancing, hold the run for half an
hour; the tests run in the order fastest first and stop at the first failure, so a mutant that is not stuck stays
well under it)."""

COPIED = ["catlib", "cam", "proofs", "tests", "docs", "README.md", "pyproject.toml"]


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def configure(pyproject: Path, modules: list[str], tests: list[str]) -> None:
    """Point the copy's [tool.mutmut] at `modules` and the test files `tests`."""
    text = pyproject.read_text()
    section = (f"[tool.mutmut]\nsource_paths = [\"catlib\", \"cam\"]\nonly_mutate = {toml_list(modules)}\n"
               f"also_copy = [\"tests\", \"proofs\", \"docs\", \"README.md\"]\n"
               f"pytest_add_cli_args = [\"-p\", \"no:cacheprovider\", \"-q\"]\n"
               f"timeout_multiplier = {TIMEOUT_MULTIPLIER}\n"
               f"pytest_add_cli_args_test_selection = {toml_list([*tests, *modules])}\n\n")
    text, n = re.subn(r"\[tool\.mutmut\]\n.*?(?=^\[tool\.(?!mutmut))", section, text, flags=re.S | re.M)
    if n != 1:
        raise SystemExit("pyproject.toml: no [tool.mutmut] section to replace")
    pyproject.write_text(text)


def subset(modules: list[str]) -> list[str]:
    """The test files of `modules`' subsets, each once, in order."""
    return list(dict.fromkeys(t for m in modules for t in SUBSETS[m]))


def run_modules(modules: list[str], work: Path, children: int, only: list[str], tests: list[str]) -> dict[str, int]:
    """Run mutmut once on `modules` in `work` (only the mutants matching `only`, if any); the counts of each status."""
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
        else:
            shutil.copy2(src, work / name)
    configure(work / "pyproject.toml", modules, tests or subset(modules))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # mutmut puts its mutants first itself
    env["HYPOTHESIS_PROFILE"] = "mutation"
    env["DOCS_BUILD"] = "0"  # no Sphinx build in the background of every run
    mutmut = [sys.executable, "-m", "mutmut"]
    start = time.monotonic()
    subprocess.run([*mutmut, "run", "--max-children", str(children), *only], cwd=work, env=env, check=False)
    minutes = (time.monotonic() - start) / 60
    out = subprocess.run([*mutmut, "results", "--all", "true"], cwd=work, env=env, capture_output=True,
                         text=True, check=True).stdout
    total: dict[str, int] = {}
    by_module: dict[str, dict[str, int]] = {m: {} for m in modules}
    survivors = []
    for line in out.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            if status == "not checked":  # left out by --only
                continue
            module = next((m for m in modules if name.startswith(m.removesuffix(".py").replace("/", ".") + ".")),
                          None)
            for counts in (total, by_module.get(module, {}) if module else {}):
                counts[status] = counts.get(status, 0) + 1
            if status in ("survived", "no tests"):
                survivors.append(name)
    for label, counts in [*by_module.items(), *([("all", total)] if len(modules) > 1 else [])]:
        killed = counts.get("killed", 0) + counts.get("timeout", 0)
        judged = killed + counts.get("survived", 0) + counts.get("no tests", 0)
        score = f"{100 * killed / judged:.1f}%" if judged else "n/a"
        print(f"\n{label}: {killed} of {judged} mutants killed ({score}); all statuses: {counts}")
    print(f"{minutes:.1f} minutes wall time for {', '.join(modules)}")
    for name in survivors:
        print(f"  survived or untested: {name}   (cd {work} && python -m mutmut show {name})")
    return total


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python tools/mutation.py", description=__doc__.split("\n\n")[0])
    p.add_argument("modules", nargs="*", default=list(SUBSETS),
                   help=f"modules to mutate (default: {', '.join(SUBSETS)})")
    p.add_argument("--max-children", type=int, default=max(1, (os.cpu_count() or 2) // 2),
                   help="mutants tested at once (default: half the cores)")
    p.add_argument("--only", action="append", default=[], metavar="GLOB",
                   help="test only the mutants whose name matches (repeatable), e.g. a sample: "
                        "'*__mutmut_*[05]' is one mutant in five of every function")
    p.add_argument("--tests", nargs="+", default=[], metavar="FILE",
                   help="run these test files instead of the module's subset (a quick, partial trial: "
                        "check each survivor against the whole subset before calling it a gap)")
    p.add_argument("--together", action="store_true",
                   help="mutate the modules in one run, with the union of their subsets (one clean run for all)")
    p.add_argument("--workdir", type=Path, help="where to keep the scratch copies (default: a new temporary directory)")
    args = p.parse_args(argv)
    unknown = [m for m in args.modules if m not in SUBSETS]
    if unknown:
        p.error(f"no test subset for {unknown}; known modules: {', '.join(SUBSETS)}")
    base = args.workdir or Path(tempfile.mkdtemp(prefix="hotswap-mutation-"))
    survived = 0
    for group in [args.modules] if args.together else [[m] for m in args.modules]:
        work = base / "+".join(m.replace("/", "_").removesuffix(".py") for m in group)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        counts = run_modules(group, work, args.max_children, args.only, args.tests)
        survived += counts.get("survived", 0) + counts.get("no tests", 0)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
