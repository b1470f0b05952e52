"""The site's navigation sidebar, built once per folder instead of once per page (used by ``docs/conf.py``).

furo shows the whole site's table of contents in every page's sidebar: for each of the ~150 pages Sphinx
resolves the global toctree as seen from that page (a copy of every document's entries, marked where the page
is), renders it to HTML, and furo parses that HTML again (BeautifulSoup) to add its expand buttons.  That was a
third of the build's CPU (25 of 78 s), the same work each time: two pages of one folder see the same tree
(links are relative to the folder) except for where it is marked as the current page.

So, per folder, Sphinx and furo build the tree once, as a page of that folder that no toctree includes sees it
(nothing marked), and each page gets a copy marked as Sphinx and furo mark it (`Tree.marked`):

- a link to the page itself becomes ``href="#"`` with the class ``current`` (Sphinx), a link to an anchor of it
  ``href="#anchor"``;
- every ``<li>`` and ``<ul>`` around such a link gets the class ``current`` (Sphinx), the expand checkbox of such
  an ``<li>`` is checked, and the last ``<li>`` marked ``current`` gets ``current-page`` (furo).

The first page of each folder is still built the slow way and compared with its marked copy: a difference
(a Sphinx or furo release that marks otherwise) is a build warning, an error under ``-W``, and that page keeps
the slow way's tree.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

FURO = {"collapse": False, "titles_only": True, "maxdepth": -1, "includehidden": True}
"""The arguments furo passes to the page's ``toctree()`` for its sidebar."""

UNLISTED = "__navigation_seen_from_here__"
"""Name of a page that no toctree includes: the tree as it sees it is marked nowhere."""

_TAG = re.compile(r"<(/?)(ul|li|a|input)\b([^>]*)>")
_CLASS = re.compile(r'\bclass="([^"]*)"')
_HREF = re.compile(r'\bhref="([^"]*)"')
_LEVEL = re.compile(r"\btoctree-l\d+")


@dataclass
class _Element:
    parent: int | None
    """Index of the enclosing ``<ul>``/``<li>`` in `Tree.elements`, None at the top."""
    tag: str
    start: int
    """Offset of the tag's ``<``."""
    current: tuple[int, str] = (-1, "")
    """Where the class ``current`` goes and how (Sphinx's classes come first: it ends them)."""
    end_of_class: int = -1
    """``<li>``: end of the class value (where furo's `` current-page`` goes)."""
    checkbox: int = -1
    """``<li>``: where `` checked=""`` goes in its expand checkbox, if it has one."""


@dataclass
class _Link:
    li: int | None
    """Index of the enclosing ``<li>`` (its ancestors follow from it)."""
    href: tuple[int, int, str]
    """The ``href`` value's span and text."""
    cls: int
    """Offset of the class value's first character (where ``current `` goes)."""


@dataclass
class Tree:
    """furo's sidebar HTML for a folder, unmarked, with where each mark goes."""

    html: str
    elements: list[_Element] = field(default_factory=list)
    links: list[_Link] = field(default_factory=list)

    def __post_init__(self) -> None:
        open_: list[int] = []
        for m in _TAG.finditer(self.html):
            closing, tag, attrs = m[1], m[2], m[3]
            if closing:
                if tag in ("ul", "li"):
                    assert open_ and self.elements[open_[-1]].tag == tag, f"unbalanced </{tag}> at {m.start()}"
                    open_.pop()
                continue
            at = m.start(3)
            cls = _CLASS.search(attrs)
            if tag in ("ul", "li"):
                e = _Element(open_[-1] if open_ else None, tag, m.start())
                if tag == "ul":
                    e.current = (at + cls.end(1), " current") if cls else (at, ' class="current"')
                else:
                    level = _LEVEL.search(cls[1]) if cls else None
                    assert cls and level, f"<li> without a toctree level at {m.start()}"
                    e.current = (at + cls.start(1) + level.end(), " current")
                    e.end_of_class = at + cls.end(1)
                self.elements.append(e)
                open_.append(len(self.elements) - 1)
            elif tag == "input":
                li = self._innermost_li(open_)
                if li is not None and self.elements[li].checkbox < 0 and cls and cls[1] == "toctree-checkbox":
                    self.elements[li].checkbox = at + cls.start()
            else:
                href = _HREF.search(attrs)
                if href and cls:
                    self.links.append(_Link(self._innermost_li(open_), (at + href.start(1), at + href.end(1),
                                                                        href[1]), at + cls.start(1)))
        assert not open_, "unclosed <ul>/<li>"

    def _innermost_li(self, open_: list[int]) -> int | None:
        return next((i for i in reversed(open_) if self.elements[i].tag == "li"), None)

    def marked(self, here: str) -> str:
        """The tree as the page at `here` (its address relative to the folder, ``name.html``) shows it."""
        edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
        current: set[int] = set()
        for link in self.links:
            a, b, href = link.href
            if href == here:
                edits += [(a, b, "#"), (link.cls, link.cls, "current ")]
                e = link.li
                while e is not None:
                    current.add(e)
                    e = self.elements[e].parent
            elif href.startswith(here + "#"):
                edits.append((a, b, href[len(here):]))
        for i in current:
            e = self.elements[i]
            edits.append((e.current[0], e.current[0], e.current[1]))
            if e.checkbox >= 0:
                edits.append((e.checkbox, e.checkbox, 'checked="" '))
        lis = [self.elements[i] for i in current if self.elements[i].tag == "li"]
        if lis:
            last = max(lis, key=lambda e: e.start)
            edits.append((last.end_of_class, last.end_of_class, " current-page"))
        parts, done = [], 0
        for a, b, text in sorted(edits):
            parts += [self.html[done:a], text]
            done = b
        return "".join(parts) + self.html[done:]


class Sidebar:
    """The ``html-page-context`` handlers that give each page its marked copy of its folder's tree."""

    def __init__(self) -> None:
        self.folders: dict[str, tuple[str, Tree]] = {}
        """Per folder: Sphinx's unmarked toctree HTML, and furo's tree made from it."""
        self.checked: list[str] = []
        """Pages whose tree was built the slow way and compared."""

    def before_furo(self, app: Any, pagename: str, templatename: str, context: dict[str, Any],
                    doctree: Any) -> None:
        """On a folder's first page, make its tree (the page itself is built as before, and compared later);
        on the others, give furo the folder's unmarked tree."""
        toctree = context.get("toctree")
        if toctree is None:
            return
        folder = posixpath.dirname(pagename)
        if folder not in self.folders:
            from furo.navigation import get_navigation_tree

            unmarked = app.builder._get_local_toctree(posixpath.join(folder, UNLISTED), **FURO)
            self.folders[folder] = (unmarked, Tree(get_navigation_tree(unmarked)))
            context["_navigation_check"] = True
            return
        unmarked = self.folders[folder][0]

        def cheap(**kwargs: Any) -> Any:
            # furo's call gets the same text on every page of the folder: furo's own cache answers it
            return unmarked if kwargs == FURO else toctree(**kwargs)

        context["toctree"] = cheap

    def after_furo(self, app: Any, pagename: str, templatename: str, context: dict[str, Any],
                   doctree: Any) -> None:
        """Mark the page's place in furo's tree (on a folder's first page: compare with furo's own)."""
        folder = posixpath.dirname(pagename)
        if "furo_navigation_tree" not in context or folder not in self.folders:
            return
        here = app.builder.get_relative_uri(posixpath.join(folder, UNLISTED), pagename)
        mine = self.folders[folder][1].marked(here)
        if context.pop("_navigation_check", False):
            self.checked.append(pagename)
            if mine != context["furo_navigation_tree"]:
                from sphinx.util import logging

                logging.getLogger(__name__).warning(
                    "docs/furo_sidebar.py: the sidebar marked for %s is not the one Sphinx and furo build (did "
                    "their marking change?); leave Sidebar out of docs/conf.py to build without it", pagename)
            return
        context["furo_navigation_tree"] = mine
