"""Sphinx configuration: ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.

Pages are MyST Markdown; the tutorials are MyST notebooks (``docs/tutorials/*.md``)
executed at every build by myst-nb, so they cannot rot.  Two parts are generated
at build time, before Sphinx reads anything (`generate`):

- ``api/generated/``: one autodoc page per public module of ``catlib``, ``cam`` and
  ``proofs``, and the API index;
- ``gallery/generated/``: every example machine of ``catlib.examples``, its string
  diagram and its bytecode picture (`catlib.render`), one page per module.
  Pictures are kept between builds when the machine has not changed (a digest
  of its term and of the renderer's version names each file).

Guides that other pages add (``language.md``, ``frontend.md``, ``upgrades.md``,
``migrations.md``) join the "Guides" table of contents when they exist.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import pkgutil
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))  # furo_sidebar.py

project = "hotswap-cat"
author = "the hotswap-cat authors"
copyright = "the hotswap-cat authors, MIT licence"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**/.ipynb_checkpoints", "jupyter_execute"]
root_doc = "index"
html_theme = "furo"
html_title = "hotswap-cat"
html_static_path = ["_static"]
html_css_files = ["site.css"]
pygments_style = "friendly"
pygments_dark_style = "monokai"

# `name` in a docstring links to the object when it can be found (nothing warns when it cannot)
default_role = "py:obj"
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_preserve_defaults = True
# The package writes annotations, never signature type comments (``# type: (int) -> str``): not looking for them
# spares a third reading and parse of every documented function's source (~2 s of the build's CPU).
autodoc_use_type_comments = False
# No table-of-contents entry per documented object: the API pages' ~1,800 objects made every page's navigation
# tree (furo resolves the whole site's toctree for each of the ~140 pages) a third of the build's CPU.  The
# objects keep their anchors (the links and tests/test_docs.py's "every public name" check use those).
toc_object_entries = False
napoleon_google_docstring = False
napoleon_numpy_docstring = False

myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
myst_heading_anchors = 3
nb_execution_mode = "force"  # every build runs the tutorials
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_timeout = 300
nb_execution_show_tb = True
nb_merge_streams = True

# a short name in a docstring that several modules define (``Node``, ``type``) stays plain text
suppress_warnings = ["ref.python"]

GUIDES = ("frontend", "ports", "language", "node", "upgrades", "versions", "migrations", "checking", "pictures",
          "layout")
"""Guides written beside this site (docs/NAME.md); each joins the table of contents once it exists."""

PACKAGES = ("catlib", "cam", "proofs")
SKIP = {"catlib.__main__", "cam.__main__", "proofs.__main__"}


@functools.cache
def public_modules() -> list[str]:
    """Every module of the packages whose name has no part starting with ``_`` (and no ``__main__``)."""
    out = []
    for name in PACKAGES:
        pkg = importlib.import_module(name)
        out.append(name)
        for m in pkgutil.walk_packages(pkg.__path__, f"{name}."):
            if m.name not in SKIP and not any(part.startswith("_") for part in m.name.split(".")):
                out.append(m.name)
    return sorted(out)


def _write(path: Path, text: str) -> None:
    """Write only when the text changed (Sphinx then rereads only what changed)."""
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _assigns(module: str, name: str) -> bool:
    """Whether `module`'s source assigns `name` at top level (where a constant is at home)."""
    import inspect
    import re

    source = inspect.getsource(importlib.import_module(module))
    return re.search(rf"^{re.escape(name)}\s*(:[^=\n]*)?=", source, re.M) is not None


def _entry(module: str, name: str, obj: Any) -> str:
    """The directive that documents `obj`, public as `name` in `module`."""
    import inspect

    kind = "class" if inspect.isclass(obj) else "function" if inspect.isfunction(obj) else None
    home = getattr(obj, "__module__", None) if kind else None
    if kind is None and not _assigns(module, name):  # a constant imported from elsewhere: find where it is assigned
        home = next((m for m in public_modules() if m != module and getattr(importlib.import_module(m), name, None)
                     is obj and _assigns(m, name)), None)
        kind = "data" if home else None
    if kind is not None and home not in (module, None) and not home.startswith(module + "._"):
        # a re-export: one line pointing at its home, where it is documented
        where = f"{home}.{getattr(obj, '__qualname__', name)}"
        return f".. py:{kind}:: {name}\n   :module: {module}\n\n   Re-exported from `{where}`.\n"
    if kind == "class":
        return f".. autoclass:: {module}.{name}\n   :members:\n   :undoc-members:\n   :show-inheritance:\n"
    if kind == "function":
        return f".. autofunction:: {module}.{name}\n"
    small = isinstance(obj, (int, float, str, bool)) and len(repr(obj)) < 80
    return f".. autodata:: {module}.{name}\n" + ("" if small else "   :no-value:\n")


def api_page(module: str) -> str:
    """An API page: the module's docstring, then each name of its ``__all__`` (or, without one, autodoc's
    choice of its public members)."""
    mod = importlib.import_module(module)
    title = f"``{module}``"
    head = f"{title}\n{'=' * len(title)}\n\n.. automodule:: {module}\n"
    names = getattr(mod, "__all__", None)
    if names is None:
        return head + "   :members:\n   :undoc-members:\n   :show-inheritance:\n"
    return head + "   :no-members:\n\n" + "\n".join(_entry(module, n, getattr(mod, n)) for n in names)


def generate_api() -> None:
    out = HERE / "api" / "generated"
    modules = public_modules()
    for name in modules:
        _write(out / f"{name}.rst", api_page(name))
    keep = {f"{name}.rst" for name in modules}
    for f in out.glob("*.rst"):
        if f.name not in keep:
            f.unlink()


def _machines() -> list[tuple[str, list[tuple[str, Any]]]]:
    """Each example module with its machines: `Program`s, and terms that no program of it wraps."""
    from catlib.free import Term
    from catlib.program import Program

    pkg = importlib.import_module("catlib.examples")
    out = []
    for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"catlib.examples.{m.name}")
        names = getattr(mod, "__all__", [n for n in vars(mod) if not n.startswith("_")])
        objs = [(n, getattr(mod, n)) for n in names]
        wrapped = {id(o.term) for _, o in objs if isinstance(o, Program)}
        found = [(n, o) for n, o in objs
                 if isinstance(o, Program) or (isinstance(o, Term) and id(o) not in wrapped)]
        if found:
            out.append((m.name, found))
    return out


def _picture(src: str, alt: str, kind: str) -> list[str]:
    """A picture at its own size in a box that scrolls sideways when it is wider than the page; a click
    opens it alone."""
    # Sphinx copies each picture to _images/ under its own (unique: a digest) name
    target = "../../_images/" + src.rsplit("/", 1)[-1]
    return ["````{container} picture", f"```{{image}} {src}", f":alt: {alt}", f":class: {kind}", f":target: {target}",
            "```", "````", ""]


def generate_gallery() -> None:
    from cam.compiler import CompileError, compile
    from cam.graph import bytecode
    from catlib.folding import folded_diagram
    from catlib.program import Program
    from catlib.render import to_svg
    from catlib.repeats import RUN_LIMIT
    from catlib.typecheck import TermTypeError

    out = HERE / "gallery" / "generated"
    pictures = out / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    renderer = (ROOT / "catlib" / "render.py").read_bytes() + (ROOT / "catlib" / "folding.py").read_bytes()
    used: set[str] = set()
    pages = []

    def picture(key: str, make: Any) -> str:
        name = hashlib.sha256(renderer + key.encode()).hexdigest()[:16] + ".svg"
        used.add(name)
        if not (pictures / name).exists():
            (pictures / name).write_text(make())
        return f"pictures/{name}"

    for module, machines in _machines():
        lines = [f"# `catlib.examples.{module}`", "",
                 f"Generated from `catlib.examples.{module}` at build time: each machine's string diagram "
                 "(`catlib.graph.diagram`, folded when big) and its compiled bytecode (`cam.graph.bytecode`).", ""]
        for name, obj in machines:
            term = obj.term if isinstance(obj, Program) else obj
            at = {p: getattr(obj, p) for p in ("state", "input", "output")} if isinstance(obj, Program) else {}
            try:
                d = folded_diagram(term, **at)
            except TermTypeError:  # an example that is a fragment, not a machine
                continue
            sig = d.signature
            lines += [f"## `{name}`", "", f"`{sig}` — {term.size():,} term nodes", ""]
            key = repr(term) + repr(sorted((k, str(v)) for k, v in at.items()))
            src = picture("diagram" + key, lambda d=d: to_svg(d.graph))
            lines += _picture(src, f"string diagram of {name}", "diagram")
            try:
                code = compile(term)
            except CompileError as e:
                lines += [f"Not compiled: {e}", ""]
                continue
            src = picture("bytecode" + key, lambda code=code: to_svg(bytecode(code, RUN_LIMIT)))
            lines += ["Its bytecode:", "", *_picture(src, f"bytecode of {name}", "bytecode")]
        _write(out / f"{module}.md", "\n".join(lines))
        pages.append(module)
    for f in pictures.glob("*.svg"):
        if f.name not in used:
            f.unlink()
    for f in out.glob("*.md"):
        if f.stem not in pages:
            f.unlink()


_HARMLESS = ("Unknown interpreted text role", "Unknown directive type", "No role entry", "Unknown target name",
             "No directive entry", "Duplicate")
"""docutils messages that only mean "Sphinx-specific markup", not "this is not reStructuredText"."""


_rst_settings: dict[int, Any] = {}
"""The docutils settings `_verbatim_when_not_rst` parses with, per Sphinx environment (by id)."""
_rst_verdicts: dict[int, dict[str, bool]] = {}
"""Per Sphinx environment (by id): whether a docstring's text is valid reStructuredText, by text (inherited
methods repeat texts: the public modules' 1,789 docstrings are 1,182 texts; a parse is ~2 ms)."""


def _verbatim_when_not_rst(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Show a docstring as written when it is not valid reStructuredText.

    Docstrings here are written for readers of the source and for doctest;
    a few use plain-text layout that reStructuredText rejects (an unmatched
    ````` ``[`` `````, a ``*`` in prose).  Those are shown verbatim, as a literal
    block, instead of failing the build or being garbled.
    """
    text = "\n".join(lines)
    if not text.strip():
        return
    verdicts = _rst_verdicts.setdefault(id(app.env), {})
    if text not in verdicts:
        verdicts[text] = _valid_rst(app, text)
    if not verdicts[text]:
        lines[:] = ["::", "", *("    " + line for line in lines), ""]


def _valid_rst(app: Any, text: str) -> bool:
    """Whether docutils parses `text` without a warning (or only with one of the `_HARMLESS` ones)."""
    import io

    from docutils.core import publish_doctree
    from docutils.nodes import system_message

    # Sphinx's roles (`name` is ``py:obj`` here) need its environment in the settings.  The settings are made
    # once per build and reused: making them (an option parser of every docutils component) was half of this
    # check's CPU, ~1,500 docstrings.
    settings = _rst_settings.get(id(app.env))
    if settings is None:
        tree = publish_doctree(text, settings_overrides={"report_level": 5, "halt_level": 5, "env": app.env,
                                                         "warning_stream": io.StringIO()})
        _rst_settings[id(app.env)] = tree.settings
    else:
        settings.warning_stream = io.StringIO()
        tree = publish_doctree(text, settings=settings)
    return not any(m["level"] >= 2 and not any(h in m.astext() for h in _HARMLESS)
                   for m in tree.findall(system_message))


def guides() -> list[str]:
    return [g for g in GUIDES if (HERE / f"{g}.md").exists()]


def _guides_toctree(app: Any, docname: str, source: list[str]) -> None:
    """Put the guides that exist into the "Guides" table of contents (see `GUIDES`)."""
    if docname == "guides":
        source[0] = source[0].replace("<!-- GUIDES -->", "\n".join(f"{g}" for g in guides()))


def _indexed_python_domain() -> type:
    """Sphinx's Python domain with its "fuzzy" search answered from an index of the objects by last name part.

    A `name` in a docstring (``default_role = "py:obj"``) that names no object exactly is searched for as any
    object whose full name ends in ``.name``: Sphinx scans every documented object (~2,000) for each such
    reference (~11,000), an eighth of the build's CPU.  The index gives the same objects in the same order (the
    candidates sharing the last part, filtered by the same test); the exact matches are left to Sphinx itself.
    """
    from sphinx.domains.python import PythonDomain

    class IndexedPythonDomain(PythonDomain):
        _index: tuple[int, int, dict[str, list[str]]] | None = None

        def _by_last_part(self) -> dict[str, list[str]]:
            objects = self.objects
            if self._index is None or self._index[:2] != (id(objects), len(objects)):
                index: dict[str, list[str]] = {}
                for oname in objects:  # in the dict's order, which the scan follows
                    index.setdefault(oname.rsplit(".", 1)[-1], []).append(oname)
                self._index = (id(objects), len(objects), index)
            return self._index[2]

        def find_obj(self, env: Any, modname: str, classname: str, name: str, type: str | None,
                     searchmode: int = 0) -> list[tuple[str, Any]]:
            bare = name.removesuffix("()")
            objtypes = None
            if searchmode == 1 and bare:
                objtypes = list(self.object_types) if type is None else self.objtypes_for_role(type)
            if objtypes is None:
                return super().find_obj(env, modname, classname, name, type, searchmode)
            objects = self.objects
            exact = [f"{modname}.{classname}.{bare}" if modname and classname else "",
                     f"{modname}.{bare}" if modname else "", bare]
            if any(n in objects and objects[n].objtype in objtypes for n in exact if n):
                return super().find_obj(env, modname, classname, name, type, searchmode)
            searchname = f".{bare}"
            return [(o, objects[o]) for o in self._by_last_part().get(bare.rsplit(".", 1)[-1], ())
                    if o.endswith(searchname) and objects[o].objtype in objtypes]

    return IndexedPythonDomain


def _definitions_when_asked() -> None:
    """Sphinx's module analyzer finds the line range of every ``def`` and ``class`` (`find_tags`) only when asked.

    Reading a module's attribute comments (autodoc, for every documented module) also ran a second, token by
    token pass over the module for those ranges: 2 of the build's CPU seconds, for ~110 modules.  Only
    ``literalinclude :pyobject:`` and ``sphinx.ext.viewcode`` read them, through `find_tags`, and neither is
    used here; `find_tags` still answers, running that pass on its first call.
    """
    from sphinx.pycode import ModuleAnalyzer
    from sphinx.pycode.parser import Parser

    if getattr(ModuleAnalyzer, "_definitions_when_asked", False):
        return
    analyze = ModuleAnalyzer.analyze

    def analyze_comments(self: Any) -> None:
        parse, Parser.parse = Parser.parse, Parser.parse_comments  # type: ignore[method-assign]
        try:
            analyze(self)
        finally:
            Parser.parse = parse  # type: ignore[method-assign]

    def find_tags(self: Any) -> dict[str, tuple[str, int, int]]:
        self.analyze()
        if not getattr(self, "_definitions_found", False):
            parser = Parser(self.code)
            parser.parse_definition()
            self.tags, self._definitions_found = parser.definitions, True
        return self.tags  # type: ignore[no-any-return]

    ModuleAnalyzer.analyze, ModuleAnalyzer.find_tags = analyze_comments, find_tags  # type: ignore[method-assign]
    ModuleAnalyzer._definitions_when_asked = True  # type: ignore[attr-defined]


def _drop_unshown_messages(app: Any) -> None:
    """Sphinx's messages below what this build shows (debug messages unless ``-vv``) are not made at all.

    Sphinx lets every message through its logger and drops the unshown ones in its handlers, so each of its
    ~30,000 debug messages (one per event emitted, one per object autodoc imports) was made into a record and
    filtered: 3 of the build's CPU seconds.  The logger's level now drops them first; what is shown, and every
    warning that ``-W`` turns into an error, is the same.
    """
    import logging

    from sphinx.util.logging import NAMESPACE, VERBOSITY_MAP

    # beyond -vv the map says NOTSET (show everything), which as a logger's level would mean "ask the root logger"
    logging.getLogger(NAMESPACE).setLevel(VERBOSITY_MAP[max(app.verbosity, 0)] or logging.DEBUG)


def setup(app: Any) -> dict[str, Any]:
    os.environ.setdefault("HYPOTHESIS_PROFILE", "default")
    _drop_unshown_messages(app)
    generate_api()
    generate_gallery()
    app.add_domain(_indexed_python_domain(), override=True)
    _definitions_when_asked()
    app.connect("source-read", _guides_toctree)
    app.connect("autodoc-process-docstring", _verbatim_when_not_rst)
    from furo_sidebar import Sidebar

    sidebar = Sidebar()  # furo's handler has the default priority, 500
    app.connect("html-page-context", sidebar.before_furo, priority=400)
    app.connect("html-page-context", sidebar.after_furo, priority=600)
    return {"parallel_read_safe": True}
