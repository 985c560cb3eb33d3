"""Build an .ipynb from a percent-format script (``# %%`` code cells, ``# %% [markdown]`` text,
``# %% tags=["parameters"]`` for papermill's parameters cell). The notebooks in notebooks/ are
generated from notebooks/src/*.py with ``python tools/py2nb.py``, so their source diffs cleanly."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=\[(?P<tags>[^\]]*)\])?\s*$")


def convert(src: Path) -> nbformat.NotebookNode:
    cells, kind, tags, lines = [], None, [], []

    def flush():
        if kind is None:
            return
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in text.splitlines())
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text)
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)

    for line in src.read_text().splitlines():
        m = HEADER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = [t.strip().strip("\"'") for t in m.group("tags").split(",")] if m.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{src.stem.replace('_', '-')}-{i}"
    return nb


def main(paths: list[str]) -> None:
    root = Path(__file__).resolve().parents[1]
    sources = [Path(p) for p in paths] or sorted((root / "notebooks" / "src").glob("*.py"))
    for src in sources:
        out = root / "notebooks" / (src.stem + ".ipynb")
        nbformat.write(convert(src), out)
        print(f"wrote {out.relative_to(root)}")


if __name__ == "__main__":
    main(sys.argv[1:])
