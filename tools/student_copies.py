"""Write solution-free copies of the book's notebooks for students.

    python tools/student_copies.py [--out dist/student] [NOTEBOOK ...]

Without NOTEBOOK arguments, every notebook in the table of contents
(_toc.yml) is copied, keeping its path: book/x.ipynb becomes
dist/student/book/x.ipynb. In each copy

* every ``{solution}`` block (MyST fences of backticks or colons, and the
  gated ``{solution-start}`` ... ``{solution-end}`` form) is cut out of the
  Markdown cells; the exercise text stays;
* a code cell for the answer, ``# Your answer to exercise ...``, follows each
  cell with an exercise;
* solution cells are removed with their outputs: code cells tagged
  ``solution``, code cells whose first line is a ``# Solution`` comment, and
  code cells that glue only results shown inside solutions;
* everything else is left as it is, and the files of the repository that
  the code opens by a relative path (``../tests/reference/...``) are copied
  to the same place beside the copies.

The copy must not use anything a removed cell computed: a glue reference
left in the text to a name only a removed cell defined is an error here, and
``make student`` then runs every copy from top to bottom.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent

FENCE_OPEN = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}\s*(?P<arg>.*)$")
GLUE_REF = re.compile(r"\{glue(?::\w+)?\}`(?P<name>[^`]+)`|\{glue(?::\w+)?\}\s+(?P<block>[\w.-]+)")
GLUE_CALL = re.compile(r"""\bglue\(\s*["'](?P<name>[^"']+)["']""")
SOLUTION_COMMENT = re.compile(r"^\s*#\s*solution\b", re.IGNORECASE)
ANSWER_TAG = "answer"


@dataclass
class Exercise:
    label: str
    title: str


@dataclass
class Stripped:
    text: str
    exercises: list[Exercise] = field(default_factory=list)
    solutions: list[str] = field(default_factory=list)  # the removed blocks


def _closes(line: str, fence: str) -> bool:
    s = line.strip()
    return len(s) >= len(fence) and set(s) == {fence[0]}


def strip_solutions(markdown: str) -> Stripped:
    """Cut the solution blocks out of one Markdown cell; list its exercises."""
    lines = markdown.splitlines(keepends=True)
    out: list[str] = []
    result = Stripped("")
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        name, fence = m["name"], m["fence"]
        # the whole directive, up to its closing fence
        j = i + 1
        while j < len(lines) and not _closes(lines[j], fence):
            j += 1
        block = lines[i : j + 1]
        if name in ("exercise", "exercise-start"):
            label = next(
                (ln.split(":label:", 1)[1].strip() for ln in block[1:] if ln.strip().startswith(":label:")),
                "",
            )
            result.exercises.append(Exercise(label, m["arg"].strip()))
            out.extend(block)
            i = j + 1
            continue
        if name == "solution-start":
            # gated form: drop everything up to and including {solution-end}
            k = j + 1
            while k < len(lines):
                mk = FENCE_OPEN.match(lines[k])
                if mk and mk["name"] == "solution-end":
                    end = k + 1
                    while end < len(lines) and not _closes(lines[end], mk["fence"]):
                        end += 1
                    k = end
                    break
                k += 1
            result.solutions.append("".join(lines[i : k + 1]))
            i = k + 1
            continue
        if name == "solution":
            result.solutions.append("".join(block))
            i = j + 1
            continue
        out.extend(block)
        i = j + 1
    result.text = re.sub(r"\n{3,}", "\n\n", "".join(out)).strip("\n")
    return result


def glue_refs(text: str) -> set[str]:
    return {m["name"] or m["block"] for m in GLUE_REF.finditer(text)}


def is_solution_cell(cell, solution_only_names: set[str]) -> bool:
    if cell.cell_type != "code":
        return False
    if "solution" in cell.metadata.get("tags", []):
        return True
    first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
    if SOLUTION_COMMENT.match(first):
        return True
    glued = set(GLUE_CALL.findall(cell.source))
    return bool(glued) and glued <= solution_only_names


def student_copy(nb) -> tuple[object, dict]:
    """Return the student copy of a notebook and a summary of what changed."""
    stripped = {i: strip_solutions(c.source) for i, c in enumerate(nb.cells) if c.cell_type == "markdown"}
    in_solutions = set().union(*(glue_refs(s) for st in stripped.values() for s in st.solutions))
    in_text = set().union(*(glue_refs(st.text) for st in stripped.values()))
    solution_only = in_solutions - in_text

    cells, removed, placeholders = [], 0, 0
    for i, cell in enumerate(nb.cells):
        if is_solution_cell(cell, solution_only):
            removed += 1
            continue
        if cell.cell_type != "markdown":
            cells.append(cell)
            continue
        st = stripped[i]
        if st.text.strip():
            cell.source = st.text
            cells.append(cell)
        for ex in st.exercises:
            name = f"{ex.title} ({ex.label})" if ex.title and ex.label else ex.title or ex.label
            answer = nbformat.v4.new_code_cell(f"# Your answer to exercise {name}\n", metadata={"tags": [ANSWER_TAG]})
            # a stable id, so that a new copy differs from the old one only where the book did
            answer["id"] = re.sub(r"[^A-Za-z0-9_-]", "-", f"answer-{ex.label or placeholders}")[:64]
            cells.append(answer)
            placeholders += 1

    kept_code = "\n".join(c.source for c in cells if c.cell_type == "code")
    defined = set(GLUE_CALL.findall(kept_code))
    all_defined = set(GLUE_CALL.findall("\n".join(c.source for c in nb.cells if c.cell_type == "code")))
    dangling = (in_text & all_defined) - defined
    if dangling:
        raise ValueError(f"the text uses glued results of removed solution cells: {sorted(dangling)}")
    n_solutions = sum(len(st.solutions) for st in stripped.values())
    nb.cells = cells
    nbformat.validator.normalize(nb)
    return nb, {
        "solutions": n_solutions,
        "cells removed": removed,
        "answer cells": placeholders,
    }


STRING = re.compile(r"""(?P<q>["'])(?P<path>[^"'\n]+?)(?P=q)""")


def data_files(path: Path, nb, root: Path = ROOT) -> list[Path]:
    """Files of the repository that the notebook's code opens by a relative path.

    A copy keeps its place in the tree (dist/student/labs/x.ipynb), so such a
    file is copied to the same place relative to the copy.
    """
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for m in STRING.finditer(cell.source):
            candidate = (path.parent / m["path"]).resolve()
            if "/" in m["path"] and candidate.is_file() and candidate.is_relative_to(root):
                found.append(candidate)
    return sorted(set(found))


def toc_notebooks(root: Path = ROOT) -> list[Path]:
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    notebooks = []
    for f in [toc.get("root", "")] + files:
        path = root / f
        if path.suffix != ".ipynb":
            path = path.with_suffix(".ipynb")
        if path.is_file() and path not in notebooks:
            notebooks.append(path)
    return notebooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "student")
    args = parser.parse_args(argv)
    notebooks = [p.resolve() for p in args.notebooks] or toc_notebooks()
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        try:
            copy, summary = student_copy(nb)
        except ValueError as err:
            print(f"{path.relative_to(ROOT)}: {err}", file=sys.stderr)
            return 1
        target = args.out / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        for data in data_files(path, copy):
            (args.out / data.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(data, args.out / data.relative_to(ROOT))
        nbformat.write(copy, target)
        info = ", ".join(f"{v} {k}" for k, v in summary.items())
        print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: {info}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
