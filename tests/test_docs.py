"""The documentation site builds without a warning, runs its tutorials, documents every public name and
links only to what exists.

The build (``python -m sphinx -W --keep-going -b html docs ...``, see ``docs/conf.py``)
runs once per test run, beside the other tests (`tests/docs_build.py`); the tests
here wait for it (`site`).  ``DOCS_SITE=DIR`` tests a site already built in DIR
instead; ``DOCS_BUILD=0`` leaves the build out of a run (the tests then fail,
saying so).
"""

from __future__ import annotations

import functools
import html
import importlib
import os
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests import docs_build

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site() -> Path:
    """The built site's folder, once the build started for this run has finished."""
    if os.environ.get("DOCS_SITE"):
        return Path(os.path.realpath(os.environ["DOCS_SITE"]))
    if os.environ.get("DOCS_BUILD") == "0":
        pytest.fail("DOCS_BUILD=0: the documentation was not built")
    # started by the controlling pytest process (conftest); else (a run it did not foresee) here
    out = Path(os.environ[docs_build.ENV]) if os.environ.get(docs_build.ENV) else docs_build.start()
    try:
        code, log = docs_build.wait(out)
    except TimeoutError as e:
        pytest.fail(str(e))
    assert code == 0, f"sphinx -W failed:\n{log}"
    return Path(os.path.realpath(out / "html"))  # real: a link's target is found by normpath, not resolve()


class _Parsed(HTMLParser):
    """The ids, links and images of one HTML page, as the standard library's HTML parser sees them (the
    reference `Page` is checked against, `test_pages_are_read_as_the_html_parser_reads_them`)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])  # type: ignore[arg-type]
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])  # type: ignore[arg-type]
        if tag in ("a", "link") and a.get("href"):
            self.links.append(a["href"])  # type: ignore[arg-type]
        if tag in ("img", "script") and a.get("src"):
            (self.images if tag == "img" else self.links).append(a["src"])  # type: ignore[arg-type]


_MARKUP = re.compile(r"""<!--.*?-->|<![^>]*>|<\?[^>]*>|<([a-zA-Z][^\s/>]*)((?:"[^"]*"|'[^']*'|[^'">])*)>""", re.S)
"""A comment, a declaration, a processing instruction, or a start tag (its name and attributes)."""
_ATTRIBUTE = re.compile(r"""([^\s/>"'=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_RAW_TEXT = {"script": re.compile(r"</script\s*>", re.I), "style": re.compile(r"</style\s*>", re.I)}
_WANTED = {"a", "link", "img", "script"}
_HAS_ID = re.compile(r"id\s*=", re.I)


class Page:
    """The ids, links and images of one HTML page: what `_Parsed` finds, read with regular expressions (a
    fifth of the time: the site is ~10 MB of HTML, ~200,000 tags, read by two tests)."""

    def __init__(self, text: str) -> None:
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.images: list[str] = []
        pos = 0
        while (m := _MARKUP.search(text, pos)) is not None:
            pos = m.end()
            if m[1] is None:
                continue
            tag = m[1].lower()
            if tag in _RAW_TEXT:  # its text is not markup
                end = _RAW_TEXT[tag].search(text, pos)
                pos = end.end() if end else len(text)
            if tag not in _WANTED and not _HAS_ID.search(m[2]):
                continue
            a: dict[str, str] = {}
            for name, value in _ATTRIBUTE.findall(m[2]):  # the last of a repeated attribute counts, as in dict()
                a[name.lower()] = html.unescape(value[1:-1] if value[:1] in ("'", '"') else value)
            if a.get("id"):
                self.ids.add(a["id"])
            if tag == "a" and a.get("name"):
                self.ids.add(a["name"])
            if tag in ("a", "link") and a.get("href"):
                self.links.append(a["href"])
            if tag in ("img", "script") and a.get("src"):
                (self.images if tag == "img" else self.links).append(a["src"])


_pages: dict[Path, Page] = {}


def page(path: Path) -> Page:
    if path not in _pages:
        _pages[path] = Page(path.read_text(errors="replace"))
    return _pages[path]


def public_modules() -> list[str]:
    sys.path.insert(0, str(DOCS))
    try:
        conf = importlib.import_module("conf")
    finally:
        sys.path.remove(str(DOCS))
    return conf.public_modules()  # type: ignore[no-any-return]


def test_the_site_has_its_parts(site: Path) -> None:
    for part in ("index.html", "getting-started.html", "tutorials/index.html", "gallery/index.html",
                 "api/index.html", "background/paper.html", "background/references.html", "reference.html",
                 "mutation.html", "guides.html"):
        assert (site / part).is_file(), part
    for guide in ("language", "frontend", "upgrades", "migrations"):  # guides join when they exist
        assert (site / f"{guide}.html").is_file() == (DOCS / f"{guide}.md").is_file(), guide


def test_the_tutorials_ran(site: Path) -> None:
    notebooks = sorted((DOCS / "tutorials").glob("[0-9]*.md"))
    assert len(notebooks) >= 5
    for nb in notebooks:
        html = (site / "tutorials" / f"{nb.stem}.html").read_text()
        cells = nb.read_text().count("```{code-cell}")
        assert html.count('class="cell docutils container"') == cells, nb.name
        assert html.count("cell_output") >= cells // 2, f"{nb.name}: too few outputs"
        assert "Traceback" not in html, nb.name


def test_every_public_name_is_in_the_api_reference(site: Path) -> None:
    missing = []
    for name in public_modules():
        html = site / "api" / "generated" / f"{name}.html"
        assert html.is_file(), name
        ids = page(html).ids
        assert name in ids or f"module-{name}" in ids, f"{name}: no module entry"
        for member in getattr(importlib.import_module(name), "__all__", []):
            if f"{name}.{member}" not in ids:
                missing.append(f"{name}.{member}")
    assert not missing, f"not in the API reference: {missing}"


def test_the_api_reference_shows_the_doctests(site: Path) -> None:
    html = (site / "api" / "generated" / "catlib.free.html").read_text()
    assert "&gt;&gt;&gt;" in html and "Compose(Par(Snd, Fst), Copy)" in html


def test_the_gallery_draws_every_example(site: Path) -> None:
    from catlib.program import Program

    modules = sorted(p.stem for p in (ROOT / "catlib" / "examples").glob("[a-z]*.py"))
    drawn = 0
    for m in modules:
        mod = importlib.import_module(f"catlib.examples.{m}")
        programs = [n for n in getattr(mod, "__all__", []) if isinstance(getattr(mod, n), Program)]
        path = site / "gallery" / "generated" / f"{m}.html"
        if not programs:
            continue
        assert path.is_file(), m
        p = page(path)
        for n in programs:
            assert f"string diagram of {n}" in path.read_text(), (m, n)
        for src in p.images:
            img = (path.parent / unquote(src)).resolve()
            assert img.is_file() and img.stat().st_size > 500, src
            assert img.read_bytes().lstrip().startswith((b"<?xml", b"<svg")), src
            drawn += 1
    assert drawn >= 20


def test_pages_are_read_as_the_html_parser_reads_them(site: Path) -> None:
    """`Page` (regular expressions) finds on real pages what the standard library's parser finds."""
    api = max((site / "api" / "generated").glob("*.html"), key=lambda p: p.stat().st_size)
    for path in (site / "index.html", site / "tutorials" / "01-writing-a-machine.html", api):
        text = path.read_text(errors="replace")
        mine, reference = Page(text), _Parsed(text)
        assert (mine.ids, mine.links, mine.images) == (reference.ids, reference.links, reference.images), path
        assert len(mine.ids) > 10 and len(mine.links) > 20, path
    tricky = """<!-- <a href="commented.html"> --><script>if (a <b) x = '<a href="scripted.html">'</script>
    <a HREF='one.html' title="a > b" id=x1><img src=p.svg alt='<img src="no.svg">'><a name="n" href="two.html"
    href="three.html"><link rel=stylesheet href="s.css"><script src="j.js"></script><style>p { x: '<a href=s>' }
    </style><div id="&lt;d&gt;" class=c>"""
    mine, reference = Page(tricky), _Parsed(tricky)
    assert (mine.ids, mine.links, mine.images) == (reference.ids, reference.links, reference.images)
    assert mine.links == ["one.html", "three.html", "s.css", "j.js"] and mine.ids == {"x1", "n", "<d>"}


def test_every_local_link_resolves(site: Path) -> None:
    broken, external = [], 0
    exists, isdir = functools.cache(os.path.exists), functools.cache(os.path.isdir)  # many links, few targets
    for path in sorted(site.rglob("*.html")):
        p = page(path)
        for ref in p.links + p.images:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https", "mailto"):
                external += 1  # not checked: no network here
                continue
            if parts.scheme or ref.startswith("//"):
                broken.append(f"{path.relative_to(site)}: {ref} (unexpected scheme)")
                continue
            # `site` is a real path and Sphinx writes no symbolic links: normpath finds what resolve() would
            target = str(path) if not parts.path else os.path.normpath(os.path.join(path.parent, unquote(parts.path)))
            if isdir(target):
                target = os.path.join(target, "index.html")
            if not exists(target):
                broken.append(f"{path.relative_to(site)}: {ref}")
                continue
            if parts.fragment and target.endswith(".html") and unquote(parts.fragment) not in page(Path(target)).ids:
                broken.append(f"{path.relative_to(site)}: {ref} (no such anchor)")
    assert not broken, "\n".join(broken[:40])
    assert external < 500


def test_the_module_analyzer_finds_definitions_when_asked() -> None:
    """docs/conf.py's `_definitions_when_asked`: what autodoc reads is Sphinx's own parse, and `find_tags`
    (``literalinclude :pyobject:``) still answers, with what Sphinx's full parse finds."""
    sys.path.insert(0, str(DOCS))
    try:
        conf = importlib.import_module("conf")
    finally:
        sys.path.remove(str(DOCS))
    from sphinx.pycode import ModuleAnalyzer
    from sphinx.pycode.parser import Parser

    conf._definitions_when_asked()
    conf._definitions_when_asked()  # once is enough; twice changes nothing
    source = (ROOT / "catlib" / "free.py").read_text()
    full = Parser(source)
    full.parse()
    analyzer = ModuleAnalyzer.for_string(source, "catlib.free")
    analyzer.analyze()
    assert analyzer.tagorder == full.deforders and analyzer.annotations == full.annotations
    assert analyzer.attr_docs == {k: [*v.splitlines(), ""] if v else [""] for k, v in full.comments.items()}
    assert analyzer.tags == {}  # not yet looked for
    assert analyzer.find_tags() == full.definitions and len(full.definitions) > 20


# ---------------------------------------------------------------- the sidebar, built once per folder

_UNMARKED = """<p class="caption" role="heading"><span class="caption-text">Guides</span></p>
<ul>
<li class="toctree-l1"><a class="reference internal" href="../a.html">A</a></li>
<li class="toctree-l1 has-children"><a class="reference internal" href="index.html">T</a><input aria-label="Toggle navigation of T" class="toctree-checkbox" id="toctree-checkbox-1" name="toctree-checkbox-1" role="switch" type="checkbox"/><label for="toctree-checkbox-1"><span class="icon"><svg><use href="#svg-arrow-right"></use></svg></span></label><ul>
<li class="toctree-l2"><a class="reference internal" href="one.html">One</a></li>
<li class="toctree-l2"><a class="reference internal" href="two.html#part">Two</a></li>
</ul>
</li>
</ul>
"""


def _sidebar() -> type:
    sys.path.insert(0, str(DOCS))
    try:
        return importlib.import_module("furo_sidebar")
    finally:
        sys.path.remove(str(DOCS))


def test_the_sidebar_is_marked_where_the_page_is() -> None:
    """`docs/furo_sidebar.py` marks a folder's tree as Sphinx and furo mark it (a build compares one page per
    folder with their own; the site's pages came out byte for byte the same when it was written)."""
    tree = _sidebar().Tree(_UNMARKED)
    one = tree.marked("one.html")
    assert one == (_UNMARKED.replace("<ul>", '<ul class="current">')
                   .replace('"toctree-l1 has-children"', '"toctree-l1 current has-children"')
                   .replace('aria-label="Toggle navigation of T" ', 'aria-label="Toggle navigation of T" checked="" ')
                   .replace('<li class="toctree-l2"><a class="reference internal" href="one.html">',
                            '<li class="toctree-l2 current current-page"><a class="current reference internal" '
                            'href="#">'))
    index = tree.marked("index.html")  # a page with pages under it: its own list is not marked
    assert '<li class="toctree-l1 current has-children current-page"><a class="current reference internal" ' \
           'href="#">T</a>' in index and index.count('class="current"') == 1 and 'checked=""' in index
    assert tree.marked("two.html") == _UNMARKED.replace('href="two.html#part"', 'href="#part"')  # an anchor only
    assert tree.marked("elsewhere.html") == _UNMARKED


def test_a_sidebar_that_differs_from_furos_fails_the_build(caplog: pytest.LogCaptureFixture) -> None:
    """The first page of each folder is built the slow way too, and a difference is a warning (``-W``: an error)."""
    from types import SimpleNamespace

    sidebar = _sidebar().Sidebar()
    calls = []

    def toctree(**kwargs: object) -> str:
        calls.append(kwargs)
        return "<ul><li class=\"toctree-l1\"><a class=\"reference internal\" href=\"one.html\">One</a></li></ul>"

    builder = SimpleNamespace(_get_local_toctree=lambda docname, **kw: toctree(**kw),
                              get_relative_uri=lambda a, b: b.rsplit("/", 1)[-1] + ".html")
    app = SimpleNamespace(builder=builder)
    first: dict[str, object] = {"toctree": toctree}
    sidebar.before_furo(app, "t/one", "page.html", first, None)
    assert first["toctree"] is toctree  # furo builds the first page's tree itself
    first["furo_navigation_tree"] = "<ul>not what Sphinx and furo make</ul>"
    sidebar.after_furo(app, "t/one", "page.html", first, None)
    assert sidebar.checked == ["t/one"] and "t/one" in caplog.text and "furo_sidebar" in caplog.text
    second: dict[str, object] = {"toctree": toctree}
    sidebar.before_furo(app, "t/two", "page.html", second, None)
    assert second["toctree"] is not toctree and len(calls) == 1  # the folder's tree, made once
    second["furo_navigation_tree"] = sidebar.folders["t"][1].html
    sidebar.after_furo(app, "t/two", "page.html", second, None)
    assert second["furo_navigation_tree"] == sidebar.folders["t"][1].html  # two.html is not in it: unmarked


# ---------------------------------------------------------------- in a real browser


def _chromium() -> str | None:
    import shutil

    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


LOOK = """() => {
  const imgs = [...document.querySelectorAll('article img')];
  const spans = [...document.querySelectorAll('article .highlight span')];
  const body = getComputedStyle(document.querySelector('article')).color;
  const colored = spans.filter(s => getComputedStyle(s).color !== body).length;
  const inBox = e => {  // inside an element that scrolls (or clips) sideways by itself
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  const wide = [...document.querySelectorAll('article *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.right > document.documentElement.clientWidth + 1 && !inBox(e);
  }).map(e => e.tagName + '.' + e.className);
  return {images: imgs.length, broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
          spans: spans.length, colored: colored,
          pageWidth: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth,
          wide: wide.slice(0, 5)};
}"""


@pytest.fixture(scope="module")
def browser() -> Any:
    """Headless Chromium, launched once for the widths below (a launch is about a CPU-second)."""
    chromium = _chromium()
    if chromium is None or importlib.util.find_spec("playwright") is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs Chromium (apt) and playwright (the docs extra): one is missing")
        pytest.skip("needs Chromium on the PATH and the playwright package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.mark.parametrize("width", [1280, 420])
def test_the_site_in_a_browser(site: Path, browser: Any, width: int) -> None:
    """Chromium (headless) opens the landing page, a tutorial and the gallery: every picture loads, code is
    highlighted, and nothing is wider than the window (a wide picture or code block scrolls in its own box).
    Screenshots are left beside the built site, in ``screenshots/``."""
    shots = site.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    pages = {"index.html": (1, False), "tutorials/01-writing-a-machine.html": (1, True),
             "gallery/generated/bank.html": (6, False)}
    tab = browser.new_page(viewport={"width": width, "height": 900})
    try:
        for rel, (images, code) in pages.items():
            tab.goto((site / rel).as_uri())
            tab.wait_for_load_state("load")
            seen = tab.evaluate(LOOK)
            tab.screenshot(path=str(shots / f"{rel.replace('/', '_')}-{width}.png"), full_page=False)
            assert seen["images"] >= images and not seen["broken"], (rel, seen)
            if code:
                assert seen["spans"] > 20 and seen["colored"] > 10, (rel, seen)
            assert seen["pageWidth"] <= seen["viewport"] + 1 and not seen["wide"], (rel, seen)
    finally:
        tab.close()
