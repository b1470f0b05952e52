"""The paper builds from the package's own commands, and links only figures that exist."""

from pathlib import Path

from papers.build import TEMPLATE, linked_figures, main
from proofs.catalog import broken, theorems

PAPERS = Path(__file__).resolve().parents[1] / "papers"


def test_quick_build_fills_every_slot_and_draws_every_figure(tmp_path):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    paper = (tmp_path / "hot-swapping.md").read_text()
    assert "{{" not in paper and "}}" not in paper
    figures = linked_figures(paper)
    assert len(figures) >= 6
    for f in figures:
        data = (tmp_path / f).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000, f
    # the tables are the commands' real output
    assert "Output:    R (Int 2)" in paper and "all agree" in paper and "stuck: 0" in paper.replace("  ", " ")
    # `python -m proofs` and `--self-check`, run here as the real command line, are checked here too (so
    # tests/test_proofs.py runs the CLI's main in-process on one group only, not every proof a third time)
    n, k = len(theorems()), len(broken())
    assert f"{n}/{n} theorems proved" in paper and "FAILED" not in paper
    assert f"{k}/{k} broken variants rejected with a counterexample" in paper and "NOT REJECTED" not in paper


def test_committed_paper_is_built_from_the_current_template():
    paper = (PAPERS / "hot-swapping.md").read_text()
    for f in linked_figures(paper):
        assert (PAPERS / f).exists(), f
    body = TEMPLATE.read_text().split("-->", 1)[1]
    for line in body.splitlines():
        if line.strip() and "{{" not in line:
            assert line in paper, f"template line missing from the committed paper (rerun python -m papers): {line!r}"
