"""Tests of the website's tools: student copies, launch settings, site check helpers."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
import yaml
from sphinx.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import check_site  # noqa: E402 (the tools are scripts, not a package)
import site_settings  # noqa: E402
import student_copies  # noqa: E402

EXERCISE_CELL = """Some text before.

````{exercise} The pooled gap
:label: ex-gap

Estimate the gap at `ses` = 0.
````

````{solution} ex-gap
:class: dropdown

```python
hl.wald(fit, "Sector")
```

```{glue} ex_gap_table
```

The gap is {glue:text}`ex_gap_value`.
````

Text after."""


def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def test_strip_solutions_keeps_the_exercise_and_cuts_the_solution_with_its_inner_fences():
    out = student_copies.strip_solutions(EXERCISE_CELL)
    assert "{exercise} The pooled gap" in out.text
    assert "Estimate the gap" in out.text
    assert "Some text before." in out.text and "Text after." in out.text
    assert "solution" not in out.text and "hl.wald" not in out.text and "glue" not in out.text
    assert [(e.label, e.title) for e in out.exercises] == [("ex-gap", "The pooled gap")]
    assert len(out.solutions) == 1


def test_strip_solutions_cuts_the_gated_form_and_colon_fences():
    text = (
        ":::{exercise} Colons\n:label: ex-c\n\nDo it.\n:::\n\n"
        "```{solution-start} ex-c\n```\nSecret answer.\n```{solution-end}\n```\n\n"
        ":::{solution} ex-c\nAnother secret.\n:::\nEnd."
    )
    out = student_copies.strip_solutions(text)
    assert "Do it." in out.text and "End." in out.text
    assert "secret" not in out.text.lower() and "solution" not in out.text
    assert len(out.solutions) == 2


def test_student_copy_removes_solution_cells_and_adds_an_answer_cell():
    nb = notebook(
        nbformat.v4.new_code_cell("x = 1\nglue('main_value', x)"),
        nbformat.v4.new_markdown_cell("The value is {glue:text}`main_value`."),
        nbformat.v4.new_code_cell("# Solution to the gap exercise\ny = 2"),
        nbformat.v4.new_code_cell("glue('ex_gap_table', t)\nglue('ex_gap_value', 3)"),
        nbformat.v4.new_code_cell("z = 3", metadata={"tags": ["solution"]}),
        nbformat.v4.new_markdown_cell(EXERCISE_CELL),
    )
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", text="secret output")]
    copy, summary = student_copies.student_copy(nb)
    sources = [c.source for c in copy.cells]
    assert summary == {"solutions": 1, "cells removed": 3, "answer cells": 1}
    assert sources[0].startswith("x = 1")  # ordinary cells stay, with their glue
    assert not any("Solution" in s or "ex_gap" in s or s == "z = 3" for s in sources)
    assert "secret output" not in nbformat.writes(copy)
    answer = copy.cells[-1]
    assert answer.cell_type == "code" and answer.source.startswith("# Your answer to exercise The pooled gap")
    assert answer.metadata["tags"] == ["answer"] and answer["id"] == "answer-ex-gap"
    nbformat.validate(copy)


def test_student_copy_refuses_text_that_needs_a_removed_solution_cell():
    nb = notebook(
        nbformat.v4.new_code_cell("# Solution\nglue('ex_value', 1)"),
        nbformat.v4.new_markdown_cell("Outside any solution: {glue:text}`ex_value`."),
    )
    with pytest.raises(ValueError, match="ex_value"):
        student_copies.student_copy(nb)


def test_every_notebook_in_the_table_of_contents_is_copied():
    notebooks = {p.relative_to(ROOT).as_posix() for p in student_copies.toc_notebooks()}
    toc = (ROOT / "_toc.yml").read_text()
    for entry in yaml.safe_load(toc)["parts"]:
        for chapter in entry["chapters"]:
            path = ROOT / (chapter["file"] + ".ipynb")
            if path.is_file():
                assert path.relative_to(ROOT).as_posix() in notebooks
    assert any(n.startswith("labs/") for n in notebooks)


def config(url: str, **launch):
    return SimpleNamespace(
        html_theme_options={
            "repository_url": url,
            "launch_buttons": {
                "binderhub_url": "https://mybinder.org",
                "jupyterhub_url": "",
                **launch,
            },
            "use_repository_button": False,
        },
        html_context={},
        nb_ipywidgets_js={"vendor/jupyter-widgets/embed.js": {}},
    )


def test_no_repository_means_no_launch_or_repository_buttons():
    cfg = config("")
    site_settings.apply_repository_setting(None, cfg)
    opts = cfg.html_theme_options
    assert opts["launch_buttons"] == {}
    assert not opts["use_repository_button"] and not opts["use_issues_button"]
    assert "repository_url" not in opts


def test_a_repository_turns_on_binder_and_a_hub_only_when_named():
    cfg = config("https://github.com/someone/course/")
    site_settings.apply_repository_setting(None, cfg)
    opts = cfg.html_theme_options
    assert opts["repository_url"] == "https://github.com/someone/course"
    assert opts["use_repository_button"] is True
    assert opts["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert "jupyterhub_url" not in opts["launch_buttons"]
    cfg = config("https://github.com/someone/course", jupyterhub_url="https://hub.example.edu")
    site_settings.apply_repository_setting(None, cfg)
    assert cfg.html_theme_options["launch_buttons"]["jupyterhub_url"] == "https://hub.example.edu"


def test_widget_scripts_from_a_cdn_are_refused():
    cfg = config("")
    cfg.nb_ipywidgets_js = {"https://cdn.example.org/embed.js": {}}
    with pytest.raises(ConfigError, match="offline"):
        site_settings.apply_repository_setting(None, cfg)


def test_the_shipped_configuration_is_offline_and_has_no_repository_yet():
    conf = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert conf["repository"]["url"] == ""
    sphinx = conf["sphinx"]["config"]
    static = [ROOT / p for p in sphinx["html_static_path"]]
    for name in sphinx["nb_ipywidgets_js"]:
        assert "://" not in name
        assert any((d / name).is_file() for d in static), name
    assert "sphinx-mathjax-offline" in conf["sphinx"]["extra_extensions"]
    assert (ROOT / conf["bibtex_bibfiles"][0]).is_file()


def test_redirect_pages_and_local_links_are_understood(tmp_path):
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=book/intro.html" />')
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "intro.html").write_text("<html>" + "x" * 3000 + "</html>")
    assert check_site.redirect_of(tmp_path / "index.html") == "book/intro.html"
    assert check_site.redirect_of(tmp_path / "book" / "intro.html") is None
    base = "http://127.0.0.1:8000/"
    target, fragment = check_site.local_target(tmp_path, base, base + "book/intro.html#what%20is")
    assert target == tmp_path / "book" / "intro.html" and fragment == "what%20is"
    assert check_site.local_target(tmp_path, base, "https://example.org/x.html") == (
        None,
        "",
    )


def test_files_a_notebook_opens_by_a_relative_path_go_with_the_copy(tmp_path):
    (tmp_path / "labs").mkdir()
    (tmp_path / "tests" / "reference").mkdir(parents=True)
    (tmp_path / "tests" / "reference" / "r.json").write_text("{}")
    nb = notebook(nbformat.v4.new_code_cell('with open("../tests/reference/r.json") as f:\n    pass\nx = "a/b"'))
    found = student_copies.data_files(tmp_path / "labs" / "lab.ipynb", nb, root=tmp_path)
    assert found == [(tmp_path / "tests" / "reference" / "r.json").resolve()]
