"""Build ``papers/hot-swapping.md`` from its template, running the package's own commands.

Every table in the paper is the captured output of a command of this
package (the demo, the proofs, the campaign, the fuzzer, the benchmarks),
and every figure is drawn by ``catlib render`` or plotted with matplotlib
from those outputs.  No number in the paper is typed by hand: the template
holds ``{{name}}`` slots that this script fills.

    python -m papers            # full sizes, a few minutes on 2 cores
    python -m papers --quick    # small sizes (what the test suite runs)

Figures go to ``<out>/figures/``; the paper to ``<out>/hot-swapping.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "hot-swapping.template.md"

SIZES = {
    "full": {"terms": 100_000, "fuzz": 100_000, "inputs": 1_000_000, "repeats": 3, "campaign": 20_000,
             "central": 150, "verifier_max": 1_000_000, "requests": 20_000, "pauses": 20},
    "quick": {"terms": 100, "fuzz": 100, "inputs": 1_000, "repeats": 1, "campaign": 50,
              "central": 5, "verifier_max": 1_000, "requests": 80, "pauses": 1},
}
"""How much work each command does, per mode (``quick`` checks that every command runs and every slot fills,
its figures measure nothing: the suite runs the central property itself, tests/test_central.py).  The quick
sizes are the smallest that still give every table its rows; what is left of the quick build's ~25 CPU-s is
mostly the commands' fixed costs (a process each, benchmarks/node.py's client and server processes)."""


def command(*args: str) -> str:
    """Run ``python ARGS`` from the repository root; return its standard output."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"python {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def block(text: str, cmd: str) -> str:
    """A captured output as a fenced block, headed by the command that made it."""
    return f"```text\n$ {cmd}\n{text.rstrip()}\n```"


def captured(*args: str) -> tuple[str, str]:
    """(output, fenced block) of ``python ARGS``."""
    out = command(*args)
    return out, block(out, "python " + " ".join(args))


# ---------------------------------------------------------------- figures


def diagrams(figures: Path) -> dict[str, str]:
    """The seed's counter, version 2 and the migration, drawn by ``catlib render``."""
    c = "catlib.examples.counter"
    jobs = {
        "counter_sm": [f"{c}:counter_sm", "--input-type", "Either () ()"],
        "counter_sm2": [f"{c}:counter_sm2", "--state-type", "(Int, Int)", "--input-type", "Either () ()"],
        "upgrade_state": [f"{c}:upgrade_state", "--state-type", "()", "--input-type", "Int"],
        "counter_sm_bytecode": [f"{c}:counter_sm", "--view", "bytecode"],
    }
    argvs = [["render", *args, "-o", str(figures / f"{name}.png")] for name, args in jobs.items()]
    # `catlib render`'s own entry point, once per figure, all in one process: a process per figure paid the
    # interpreter's start and the renderer's imports four times (2.8 -> 0.8 CPU-s, the same PNG files)
    command("-c", RENDER_ALL, json.dumps(argvs))
    return {f"fig_{name}": f"figures/{name}.png" for name in jobs}


RENDER_ALL = """
import json, sys
from catlib.__main__ import main
for argv in json.loads(sys.argv[1]):
    if main(argv) != 0:
        sys.exit(f"python -m catlib {' '.join(argv)} failed")
"""
"""``catlib render`` (`catlib.__main__.main`) run for each argument list of the JSON list in ``argv[1]``."""


def _plot(path: Path, draw: Callable[[Axes], None]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=120)
    draw(ax)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _micros(number: str, unit: str) -> float:
    return float(number) * {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[unit]


def verifier_plot(table: str, path: Path) -> None:
    """Verification time per instruction against code size, one line per shape."""
    rows: dict[str, list[tuple[int, float]]] = {}
    shape = ""
    for line in table.splitlines():
        if re.match(r"(flat|stack|branch|closure):$", line):
            shape = line[:-1]
        m = re.match(r"verify ([\d,]+)\s+\S+ \S+\s+\S+ \S+\s+([\d.]+) (ns|us|ms|s)\s", line)
        if m and shape:
            rows.setdefault(shape, []).append((int(m[1].replace(",", "")), _micros(m[2], m[3])))

    def draw(ax: Axes) -> None:
        for shape, pts in rows.items():
            ax.plot(*zip(*pts), marker="o", label=shape)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("instructions")
        ax.set_ylabel("µs per instruction (median)")
        ax.set_title("cam.verifier: time per instruction against code size")
        ax.legend(loc="lower right", ncol=len(rows), fontsize="small")

    _plot(path, draw)


def machine_plot(table: str, path: Path) -> None:
    """Time per input of the counter: hand-written Python, interpreter, machine."""
    bars = []
    for line in table.splitlines():
        m = re.match(r"(python step|python inline loop|interpreter|machine)\s+\S+ \S+\s+\S+ \S+\s+([\d.]+) "
                     r"(ns|us|ms|s)\s", line)
        if m:
            bars.append((m[1], _micros(m[2], m[3])))

    def draw(ax: Axes) -> None:
        ax.barh([b[0] for b in bars], [b[1] for b in bars], color=["#888", "#bbb", "#4a7", "#c43"][: len(bars)])
        ax.set_xlabel("µs per input (median over rounds)")
        ax.set_title("the seed's counter, 3 incr : 1 count")

    _plot(path, draw)


# ---------------------------------------------------------------- the build


def fuzz_table(out: str) -> str:
    """The fuzzer's ``key: value`` counts as a Markdown table."""
    counts = dict(re.findall(r"^\s*([a-z][a-z -]*[a-z]):\s+([\d,]+)\s*$", out, re.M))
    keys = ["generated", "rejected", "accepted", "runs", "stuck", "crashed"]
    present = [k for k in keys if k in counts]
    return ("| " + " | ".join(present) + " |\n|" + "---|" * len(present) + "\n| "
            + " | ".join(counts[k] for k in present) + " |")


def build(out_dir: Path, mode: str) -> Path:
    """Run everything, write figures and the paper into `out_dir`; return the paper's path."""
    n = SIZES[mode]
    figures = out_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    slots: dict[str, str] = {
        "mode": mode,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                   f"{platform.system()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    slots.update(diagrams(figures))
    slots["demo"] = captured("-m", "cam", "demo")[1]
    slots["language"] = captured("-m", "papers.language")[1]
    proofs, slots["proofs"] = captured("-m", "proofs")
    slots["proofs_summary"] = proofs.strip().splitlines()[-1]
    selfcheck = command("-m", "proofs", "--self-check")
    summary = re.search(r"^\d+/\d+ broken variants rejected.*$", selfcheck, re.M)
    if summary is None:
        raise RuntimeError(f"no summary line in python -m proofs --self-check:\n{selfcheck}")
    slots["selfcheck_summary"] = f"`python -m proofs --self-check`: {summary[0]}"
    slots["selfcheck"] = block(selfcheck[: summary.end()], "python -m proofs --self-check   (details left out)")
    campaign, slots["campaign"] = captured("-m", "cam.check", "--terms", str(n["terms"]), "--seed", "1",
                                           "--jobs", "2", "--no-progress")
    slots["campaign_summary"] = campaign.strip().splitlines()[0]
    fuzz = command("-m", "cam", "verify", "--fuzz", str(n["fuzz"]), "--seed", "2026")
    counts = "\n".join(line for line in fuzz.splitlines() if not re.match(r"\s*\d+ cases:", line))
    slots["fuzz"] = block(counts, f"python -m cam verify --fuzz {n['fuzz']} --seed 2026   (progress lines left out)")
    slots["fuzz_table"] = fuzz_table(fuzz)
    machine, slots["machine_bench"] = captured("-m", "benchmarks.machine", "--inputs", str(n["inputs"]),
                                               "--rounds", str(n["repeats"]), "--campaign-terms",
                                               str(n["campaign"]), "--central-examples", str(n["central"]))
    machine_plot(machine, figures / "machine.png")
    verifier, slots["verifier_bench"] = captured("-m", "benchmarks.verifier", "--max", str(n["verifier_max"]),
                                                 "--rounds", str(n["repeats"]))
    verifier_plot(verifier, figures / "verifier.png")
    small = ("--small",) if mode == "quick" else ()  # snapshots and journals a tenth of the size
    slots["node_bench"] = captured("benchmarks/node.py", "--requests", str(n["requests"]),
                                   "--pauses", str(n["pauses"]), "--rounds", str(n["repeats"]), *small)[1]
    slots["fig_machine"], slots["fig_verifier"] = "figures/machine.png", "figures/verifier.png"
    slots["build_time"] = f"{time.perf_counter() - start:.0f} s"
    text = TEMPLATE.read_text()
    missing = sorted(set(re.findall(r"\{\{(\w+)\}\}", text)) - set(slots))
    if missing:
        raise KeyError(f"the template uses slots nobody fills: {missing}")
    text = re.sub(r"\A<!--.*?-->\n", "<!-- Generated by `python -m papers` from hot-swapping.template.md: "
                  "edit that file, not this one. -->\n", text, flags=re.S)
    paper = re.sub(r"\{\{(\w+)\}\}", lambda m: slots[m[1]], text)
    target = out_dir / "hot-swapping.md"
    target.write_text(paper)
    return target


def linked_figures(paper: str) -> list[str]:
    """Relative paths of the images a Markdown text links."""
    return re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", paper)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m papers [--quick] [--out DIR]``."""
    ap = argparse.ArgumentParser(prog="python -m papers", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (seconds, for tests)")
    ap.add_argument("--out", type=Path, default=HERE, help="where the paper and figures/ go (default papers/)")
    args = ap.parse_args(argv)
    paper = build(args.out, "quick" if args.quick else "full")
    missing = [f for f in linked_figures(paper.read_text()) if not (paper.parent / f).exists()]
    if missing:
        print(f"missing figures: {missing}", file=sys.stderr)
        return 1
    print(f"wrote {paper} and {len(linked_figures(paper.read_text()))} figures")
    return 0
