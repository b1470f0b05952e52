"""Drawing the graphs of `catlib.graph` and `cam.graph`: DOT, SVG and PNG.

DOT text is always available (written here, no system dependency).  SVG
and PNG go through Graphviz's ``dot`` when it is on the PATH; without it, a
pure-Python fallback lays the graph out in layers (topological generations,
ordered by the barycentre of their predecessors) and draws it with
matplotlib.  Both read the same attributes:

- graph: ``rankdir`` (``LR`` or ``TB``), ``clusters`` (id -> ``label``,
  ``parent``, ``kind``), ``title``;
- node: ``kind`` (picks the shape and colours, see `NODE_STYLE`), ``label``,
  ``ports_in``/``ports_out`` (a box with several wires gets ordered ports),
  ``cluster``, and for boxes ``role`` (picks a fill colour);
- edge: ``label``, ``kind`` (``state`` wires are bold and red; wires of type
  ``()`` are dashed), ``tailport``/``headport`` (port numbers), ``back``
  (an edge drawn against the flow, such as a ``RETURN``).

>>> import networkx as nx
>>> g = nx.MultiDiGraph(rankdir="LR")
>>> g.add_node(0, kind="input", label="input", ports_out=1)
>>> g.add_node(1, kind="output", label="output", ports_in=1)
>>> _ = g.add_edge(0, 1, label="Int", tailport=0, headport=0)
>>> print(to_dot(g).splitlines()[0])
digraph G {
"""

from __future__ import annotations

import html
import math
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Hashable
from typing import Any

import networkx as nx

from catlib.layout import layered_layout

__all__ = ["to_dot", "to_svg", "to_png", "render", "have_dot", "RenderError", "RenderWarning", "NODE_STYLE",
           "DOT_TIMEOUT"]

FONT = "Helvetica"
STATE_COLOR = "#c0392b"
UNIT_COLOR = "#9a9a9a"
WIRE_COLOR = "#34495e"

ROLE_FILL = {"get": "#fadbd8", "put": "#fadbd8", "applied_state": "#fadbd8", "const": "#fdf2c7", "add": "#d6eaf8",
             "inject": "#d5f5e3", "distr": "#e8daef", "embed": "#eeeeee", "fold": "#fdebd0"}
"""Fill colours of boxes by ``role``: effects red, constants yellow, injections green, folded parts orange."""

NODE_STYLE: dict[str, dict[str, str]] = {
    "box": {"shape": "box", "style": "rounded,filled", "fillcolor": "#d6eaf8"},
    "fork": {"shape": "point", "width": "0.14", "color": "black"},
    "cap": {"shape": "box", "style": "filled", "fillcolor": "black", "width": "0.07", "height": "0.32",
            "fixedsize": "true", "label": ""},
    "unpair": {"shape": "point", "width": "0.06", "color": "#555555"},
    "split": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff"},
    "merge": {"shape": "box", "style": "filled", "fillcolor": "#555555", "width": "0.1", "label": ""},
    "input": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff"},
    "output": {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff"},
    "state_in": {"shape": "cylinder", "style": "filled", "fillcolor": "#fadbd8", "color": STATE_COLOR},
    "state_out": {"shape": "cylinder", "style": "filled", "fillcolor": "#fadbd8", "color": STATE_COLOR},
    "syntax": {"shape": "box", "style": "rounded,filled", "fillcolor": "#eaf2f8"},
    "instr": {"shape": "box", "style": "filled", "fillcolor": "#eaf2f8", "fontname": "Courier"},
    "control": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fdebd0", "fontname": "Courier-Bold"},
    "return": {"shape": "box", "style": "filled", "fillcolor": "#f2f3f4", "fontname": "Courier"},
    "terminal": {"shape": "ellipse", "style": "filled", "fillcolor": "#ffffff"},
}
"""DOT attributes of each node kind (a node's own ``dot`` dict overrides them)."""

CLUSTER_STYLE: dict[str, dict[str, str]] = {
    "case": {"style": "rounded,filled", "fillcolor": "#fbfbfb", "color": "#7f8c8d"},
    "left": {"style": "rounded,filled", "fillcolor": "#eef8f0", "color": "#52a36b"},
    "right": {"style": "rounded,filled", "fillcolor": "#eef2fb", "color": "#5276b3"},
    "block": {"style": "rounded,filled", "fillcolor": "#fbfbfb", "color": "#7f8c8d"},
}

PORTED = ("box", "split", "merge", "input", "output")
"""Node kinds drawn with ordered ports when they have several wires on a side."""


DOT_TIMEOUT = 30.0
"""Seconds Graphviz's ``dot`` may take on one picture; beyond, the matplotlib fallback draws it."""


class RenderError(RuntimeError):
    """Graphviz failed or took too long, or an output format is unknown."""


class DotTimeout(RenderError):
    """Graphviz's ``dot`` did not finish within its time limit (it was stopped)."""


class RenderWarning(UserWarning):
    """A picture was drawn otherwise than asked (Graphviz took too long: the fallback drew it)."""


def have_dot() -> bool:
    """True when Graphviz's ``dot`` is on the PATH."""
    return shutil.which("dot") is not None


# ---------------------------------------------------------------- DOT


def _q(s: object) -> str:
    """A DOT double-quoted string."""
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(d: dict[str, str]) -> str:
    return ", ".join(f"{k}={v if v.startswith('<') else _q(v)}" for k, v in d.items())


def _uses_ports(g: nx.Graph, n: Hashable) -> bool:
    a = g.nodes[n]
    return (g.graph.get("rankdir", "TB") == "LR" and a.get("kind") in PORTED
            and (a.get("ports_in", 0) > 1 or a.get("ports_out", 0) > 1))


def _port_label(a: dict[str, Any], fill: str) -> str:
    """An HTML-like label: input ports, the box, output ports, left to right."""
    def column(prefix: str, n: int, names: list[str] | None) -> str:
        rows = "".join(
            f'<TR><TD PORT="{prefix}{i}" HEIGHT="14" WIDTH="4" FIXEDSIZE="FALSE">'
            + (f'<FONT POINT-SIZE="8" COLOR="#555555">{html.escape(names[i])}</FONT>' if names and names[i] else "")
            + "</TD></TR>"
            for i in range(n))
        return f'<TD><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="0">{rows}</TABLE></TD>'

    cells = []
    if a.get("ports_in", 0):
        cells.append(column("i", a["ports_in"], a.get("in_names")))
    text = html.escape(str(a.get("label", ""))).replace("\n", "<BR/>") or " "
    cells.append(f'<TD BORDER="1" STYLE="ROUNDED" BGCOLOR="{fill}" CELLPADDING="6">{text}</TD>')
    if a.get("ports_out", 0):
        cells.append(column("o", a["ports_out"], a.get("out_names")))
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>{"".join(cells)}</TR></TABLE>>'


def _node_attrs(g: nx.Graph, n: Hashable) -> dict[str, str]:
    a = g.nodes[n]
    kind = a.get("kind", "box")
    style = dict(NODE_STYLE.get(kind, NODE_STYLE["box"]))
    if kind == "box" and a.get("role") in ROLE_FILL:
        style["fillcolor"] = ROLE_FILL[a["role"]]
    style.setdefault("label", str(a.get("label", "")))
    if _uses_ports(g, n):
        fill = style.get("fillcolor", "#ffffff")
        style = {"shape": "plain", "label": _port_label(a, fill)}
    style.update(a.get("dot", {}))
    return style


def _edge_attrs(g: nx.Graph, u: Hashable, v: Hashable, a: dict[str, Any]) -> dict[str, str]:
    d: dict[str, str] = {}
    if "label" in a:
        d["label"] = str(a["label"])
    if a.get("kind") == "state":
        d.update(color=STATE_COLOR, fontcolor=STATE_COLOR, penwidth="2.2")
    elif a.get("label") == "()":
        d.update(color=UNIT_COLOR, fontcolor=UNIT_COLOR, style="dashed")
    if a.get("back"):
        d.update(style="dashed", constraint="false", color="#7f8c8d")
    if "tailport" in a and _uses_ports(g, u):
        d["tailport"] = f"o{a['tailport']}:e"
    if "headport" in a and _uses_ports(g, v):
        d["headport"] = f"i{a['headport']}:w"
    d.update(a.get("dot", {}))
    return d


def _title(g: nx.Graph) -> str:
    """The graph's title and legend as an HTML-like DOT label (empty when it has neither)."""
    title, legend = g.graph.get("title"), g.graph.get("legend")
    if not title and not legend:
        return ""
    text = f'<FONT POINT-SIZE="13">{html.escape(str(title or ""))}</FONT>'
    if legend:
        text += f'<BR/><FONT POINT-SIZE="9" COLOR="#566573">{html.escape(str(legend))}</FONT>'
    return f", label=<{text}>, labelloc=t"


def to_dot(g: nx.Graph, name: str = "G") -> str:
    """The graph in Graphviz's DOT language, clusters nested as subgraphs (iteratively)."""
    ids = {n: f"n{i}" for i, n in enumerate(g.nodes)}
    rankdir = g.graph.get("rankdir", "TB")
    lines = [
        f"digraph {name} {{",
        f'  graph [rankdir={rankdir}, fontname="{FONT}", fontsize=11, nodesep=0.25, ranksep=0.35, '
        f"newrank=true{_title(g)}];",
        f'  node [fontname="{FONT}", fontsize=11, margin="0.08,0.03", height=0.3];',
        f'  edge [fontname="{FONT}", fontsize=9, color="{WIRE_COLOR}", fontcolor="#566573", arrowsize=0.6];',
    ]
    clusters: dict[Any, dict[str, Any]] = g.graph.get("clusters", {})
    members: dict[Any, list[Hashable]] = {}
    for n, a in g.nodes(data=True):
        members.setdefault(a.get("cluster"), []).append(n)
    children: dict[Any, list[Any]] = {}
    for c, info in clusters.items():
        children.setdefault(info.get("parent"), []).append(c)
    # explicit stack of ("open", cluster, depth) / ("close", depth)
    todo: list[tuple[str, Any, int]] = [("body", None, 1)]
    while todo:
        what, c, depth = todo.pop()
        pad = "  " * depth
        if what == "close":
            lines.append(pad + "}")
            continue
        if c is not None:
            info = clusters[c]
            style = CLUSTER_STYLE.get(info.get("kind", ""), CLUSTER_STYLE["block"])
            lines.append(f"{pad}subgraph cluster_{c} {{")
            lines.append(f"{pad}  graph [{_attrs({'label': str(info.get('label', '')), **style})}, fontsize=10];")
            pad += "  "
            todo.append(("close", c, depth))
        for n in members.get(c, []):
            lines.append(f"{pad}{ids[n]} [{_attrs(_node_attrs(g, n))}];")
        for k in reversed(children.get(c, [])):
            todo.append(("body", k, depth + (c is not None)))
    edges = g.edges(data=True)
    for u, v, a in edges:
        lines.append(f"  {ids[u]} -> {ids[v]} [{_attrs(_edge_attrs(g, u, v, a))}];")
    ins = [ids[n] for n, a in g.nodes(data=True) if a.get("kind") in ("input", "state_in")]
    outs = [ids[n] for n, a in g.nodes(data=True) if a.get("kind") in ("output", "state_out")]
    if len(ins) > 1:
        lines.append(f"  {{rank=same; {'; '.join(ins)}}}")
    if len(outs) > 1:
        lines.append(f"  {{rank=same; {'; '.join(outs)}}}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _run_dot(dot: str, fmt: str, timeout: float | None = None) -> bytes:
    exe = shutil.which("dot")
    if exe is None:  # pragma: no cover - callers check have_dot first
        raise RenderError("Graphviz's dot is not installed")
    limit = DOT_TIMEOUT if timeout is None else timeout
    try:
        p = subprocess.run([exe, f"-T{fmt}"], input=dot.encode(), capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:  # subprocess.run has killed it
        nodes = dot.count(" [") - 3
        raise DotTimeout(f"Graphviz's dot did not finish within {limit:g} s on a graph of about {nodes:,} nodes "
                         "and was stopped") from None
    if p.returncode != 0:
        raise RenderError(f"dot -T{fmt} failed: {p.stderr.decode(errors='replace').strip()}")
    return p.stdout


# ---------------------------------------------------------------- the matplotlib fallback


def _figure(g: nx.Graph) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    pos = layered_layout(g)
    lr = g.graph.get("rankdir", "TB") == "LR"
    sx, sy = (2.2, 1.1) if lr else (2.4, 1.3)

    def xy(n: Hashable) -> tuple[float, float]:
        layer, k = pos[n]
        return (layer * sx, -k * sy) if lr else (k * sx, -layer * sy)

    pts = [xy(n) for n in g] or [(0.0, 0.0)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    width = min(60.0, max(4.0, (max(xs) - min(xs)) * 0.9 + 3))
    height = min(60.0, max(3.0, (max(ys) - min(ys)) * 0.9 + 3))
    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_axis_off()
    # clusters: rounded rectangles around their members, outer ones drawn first (bigger padding)
    clusters: dict[Any, dict[str, Any]] = g.graph.get("clusters", {})
    depth: dict[Any, int] = {}
    for c in clusters:
        d, p = 0, clusters[c].get("parent")
        while p is not None:
            d, p = d + 1, clusters[p].get("parent")
        depth[c] = d
    inside: dict[Any, list[tuple[float, float]]] = {c: [] for c in clusters}
    for n, a in g.nodes(data=True):
        c = a.get("cluster")
        while c is not None:
            inside[c].append(xy(n))
            c = clusters[c].get("parent")
    colors = {"case": "#7f8c8d", "left": "#52a36b", "right": "#5276b3"}
    fills = {"case": "#fbfbfb", "left": "#eef8f0", "right": "#eef2fb"}
    for c in sorted(clusters, key=lambda c: depth[c]):
        if not inside[c]:
            continue
        kind = clusters[c].get("kind", "")
        pad = 0.9 - 0.2 * min(depth[c], 3)
        x0, x1 = min(p[0] for p in inside[c]) - pad, max(p[0] for p in inside[c]) + pad
        y0, y1 = min(p[1] for p in inside[c]) - pad * 0.7, max(p[1] for p in inside[c]) + pad * 0.9
        ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0.02,rounding_size=0.2",
                                    fc=fills.get(kind, "#fbfbfb"), ec=colors.get(kind, "#7f8c8d"), lw=1, zorder=0))
        ax.text(x0 + 0.1, y1 - 0.08, str(clusters[c].get("label", "")), fontsize=8, va="top", ha="left",
                color=colors.get(kind, "#555555"), zorder=1)
    seen: dict[tuple[Hashable, Hashable], int] = {}
    for u, v, a in g.edges(data=True):
        (x0, y0), (x1, y1) = xy(u), xy(v)
        state, unit = a.get("kind") == "state", a.get("label") == "()"
        color = STATE_COLOR if state else (UNIT_COLOR if unit else WIRE_COLOR)
        # a wire skipping layers, or a second wire between the same boxes, bends (state wires
        # the other way) so that it does not run under the boxes and wires of its row
        k = seen[(u, v)] = seen.get((u, v), -1) + 1
        span = abs(pos[v][0] - pos[u][0])
        bend = 0.0 if span <= 1 and k == 0 else (0.12 + 0.03 * min(span, 6) + 0.1 * k) * (-1 if state else 1)
        if a.get("back"):
            bend = 0.3
        dx, dy = x1 - x0, y1 - y0
        length = math.hypot(dx, dy) or 1.0
        h = math.copysign(min(abs(bend) * length, 0.9), bend) / length  # bounded sag
        cx, cy = (x0 + x1) / 2 + h * dy, (y0 + y1) / 2 - h * dx
        curve = [((1 - t) ** 2 * x0 + 2 * (1 - t) * t * cx + t**2 * x1,
                  (1 - t) ** 2 * y0 + 2 * (1 - t) * t * cy + t**2 * y1) for t in [i / 24 for i in range(25)]]
        # trim the ends so that wires stop at the boxes, not at their centres
        inner = [p for p in curve if math.dist(p, (x0, y0)) > 0.3 and math.dist(p, (x1, y1)) > 0.35] or curve
        style = "--" if unit or a.get("back") else "-"
        ax.plot([p[0] for p in inner], [p[1] for p in inner], style, color=color, lw=2.2 if state else 1.0, zorder=2)
        if len(inner) >= 2:
            ax.annotate("", xy=inner[-1], xytext=inner[-2], zorder=2,
                        arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.0, "shrinkA": 0, "shrinkB": 0})
        if a.get("label"):
            mx, my = curve[12]
            ax.text(mx, my, str(a["label"]), fontsize=7, color=color, ha="center", va="center", zorder=3,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.85})
    for n, a in g.nodes(data=True):
        x, y = xy(n)
        kind = a.get("kind", "box")
        if kind in ("fork", "unpair"):
            ax.plot([x], [y], "o", color="black", markersize=7 if kind == "fork" else 3, zorder=4)
        elif kind in ("cap", "merge"):
            ax.plot([x, x], [y - 0.25, y + 0.25], color="black" if kind == "cap" else "#555555", lw=5, zorder=4)
        else:
            box_style = NODE_STYLE.get(kind, NODE_STYLE["box"])
            fill = ROLE_FILL.get(a.get("role", ""), box_style.get("fillcolor", "#ffffff"))
            ec = STATE_COLOR if kind.startswith("state") else "#2c3e50"
            ax.text(x, y, str(a.get("label", "")), fontsize=9, ha="center", va="center", zorder=5,
                    family="monospace" if kind in ("instr", "control", "return") else "sans-serif",
                    bbox={"boxstyle": "round,pad=0.35", "fc": fill, "ec": ec, "lw": 1})
    ax.set_xlim(min(xs) - 1.5, max(xs) + 1.5)
    ax.set_ylim(min(ys) - 1.2, max(ys) + 1.2)
    if g.graph.get("title") or g.graph.get("legend"):
        ax.set_title("\n".join(str(g.graph[k]) for k in ("title", "legend") if g.graph.get(k)), fontsize=11)
    fig.tight_layout()
    return fig


def _fallback(g: nx.Graph, fmt: str) -> bytes:
    import io

    import matplotlib
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    # SVG text stays text (searchable, and the browser's fonts), not glyph outlines
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig = _figure(g)
        try:
            fig.savefig(buf, format=fmt, dpi=110)
        finally:
            plt.close(fig)
    return buf.getvalue()


# ---------------------------------------------------------------- entry points


def _engine(engine: str | None) -> str:
    if engine is None:
        return "dot" if have_dot() else "matplotlib"
    if engine not in ("dot", "matplotlib"):
        raise RenderError(f"unknown engine {engine!r}; expected 'dot' or 'matplotlib'")
    if engine == "dot" and not have_dot():
        raise RenderError("engine 'dot' asked for, but Graphviz's dot is not on the PATH")
    return engine


def _draw(g: nx.Graph, fmt: str, engine: str | None, timeout: float | None) -> tuple[bytes, str]:
    """The picture and its engine.  Graphviz over its time limit is stopped; the fallback then draws,
    with a `RenderWarning`, unless ``engine="dot"`` was asked for: then it is a `RenderError`."""
    used = _engine(engine)
    if used == "dot":
        try:
            return _run_dot(to_dot(g), fmt, timeout), used
        except DotTimeout as e:
            if engine == "dot":
                raise RenderError(f"{e}; draw it with engine 'matplotlib', allow more time, or fold it "
                                  "(catlib.folding)") from None
            warnings.warn(RenderWarning(f"{e}; drawn with matplotlib instead"), stacklevel=3)
    return _fallback(g, fmt), "matplotlib"


def to_svg(g: nx.Graph, engine: str | None = None, timeout: float | None = None) -> str:
    """The graph as SVG text: Graphviz when installed (`timeout`: `DOT_TIMEOUT`), else the fallback."""
    return _draw(g, "svg", engine, timeout)[0].decode()


def to_png(g: nx.Graph, engine: str | None = None, timeout: float | None = None) -> bytes:
    """The graph as PNG bytes: Graphviz when installed (within `timeout` seconds), else the matplotlib fallback."""
    return _draw(g, "png", engine, timeout)[0]


def render(g: nx.Graph, path: str, engine: str | None = None, timeout: float | None = None) -> str:
    """Write `g` to `path`, in the format its extension names (``.dot``, ``.gv``, ``.svg``, ``.png``).

    Returns the engine used (``"dot"``, ``"matplotlib"``, or ``"text"`` for DOT); Graphviz gets
    `timeout` seconds (`DOT_TIMEOUT`).  The file is written whole or not at all.
    """
    ext = os.path.splitext(path)[1].lower()
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):  # said before drawing, which may take long (and mkstemp's error names no file)
        raise RenderError(f"cannot write {path}: the directory {folder} does not exist")
    if ext in (".dot", ".gv"):
        data, used = to_dot(g).encode(), "text"
    elif ext in (".svg", ".png"):
        data, used = _draw(g, ext[1:], engine, timeout)
    else:
        raise RenderError(f"cannot tell the format of {path!r}: use .dot, .svg or .png")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=ext)
    except OSError as e:  # e.g. a folder this user may not write to; its message names no file
        raise RenderError(f"cannot write {path}: {e.strerror or e} (in {folder})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        mask = os.umask(0)  # mkstemp makes the file private; give it the usual permissions
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return used


