"""The code base stays ruff-clean and mypy-clean (both come with the test extra)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_clean():
    """`python -m mypy` with pyproject.toml's settings (strict defs, unused ignores reported) finds nothing."""
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and "Success: no issues found" in result.stdout, result.stdout + result.stderr


def test_catlib_never_imports_cam():
    """The layering rule: the algebra does not depend on the machine (the CLI may, lazily)."""
    import ast

    offenders = []
    for path in sorted((ROOT / "catlib").rglob("*.py")):
        if path.name == "__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n.split(".")[0] == "cam"]
        if ">>> from cam" in path.read_text() or ">>> import cam" in path.read_text():
            offenders.append(f"{path.relative_to(ROOT)}: doctest")
    assert offenders == []


def test_mutation_subsets_name_existing_tests():
    """tools/mutation.py and [tool.mutmut] select tests that exist (a renamed test file would silently drop out)."""
    import importlib.util
    import tomllib

    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    named = {m for m in tool.SUBSETS} | {t for ts in tool.SUBSETS.values() for t in ts}
    named |= set(config["only_mutate"]) | set(config["pytest_add_cli_args_test_selection"])
    assert sorted(n for n in named if not (ROOT / n).is_file()) == []


def test_long_first_names_existing_tests():
    """Every prefix of conftest's `LONG_FIRST` still names a test (a renamed one would silently lose its place)."""
    import re

    from tests.conftest import LONG_FIRST

    missing = []
    for prefix in LONG_FIRST:
        path, _, name = prefix.partition("::")
        text = (ROOT / path).read_text() if (ROOT / path).is_file() else None
        if text is None or (name and not re.search(rf"^(def|class) {re.escape(name)}", text, re.M)):
            missing.append(prefix)
    assert missing == []
