"""Sphinx extension: launch and repository buttons from one setting.

`repository: url:` in _config.yml is the one place the book's public git
repository is named. While it is empty, the pages show no Binder, JupyterHub
or repository buttons, so nothing links to a repository that does not exist.
Once it is filled in, every notebook page gets a Binder button (from
`launch_buttons: binderhub_url`), a JupyterHub button when
`launch_buttons: jupyterhub_url` names an institution's hub, and the header
gets a link to the repository.

Also checks that the site's saved widgets are served from the site itself
(`nb_ipywidgets_js` must name local files only).
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.errors import ConfigError
from sphinx.util.docutils import SphinxDirective

LAUNCH_KEYS = (
    "binderhub_url",
    "jupyterhub_url",
    "colab_url",
    "deepnote_url",
    "jupyterlite_url",
)
REPO_BUTTONS = ("use_repository_button", "use_issues_button", "use_edit_page_button")


def repository_url(config: Config) -> str:
    return str(config.html_theme_options.get("repository_url") or "").strip()


def apply_repository_setting(app: Sphinx, config: Config) -> None:
    opts = dict(config.html_theme_options)
    url = repository_url(config)
    launch = dict(opts.get("launch_buttons") or {})
    if not url:
        # No repository: nothing to launch and nothing to link to.
        opts["launch_buttons"] = {}
        for key in REPO_BUTTONS:
            opts[key] = False
        opts.pop("repository_url", None)
    else:
        opts["repository_url"] = url.rstrip("/")
        opts["use_repository_button"] = True
        # Keep only the launch services that are filled in; no Thebe.
        opts["launch_buttons"] = {k: v for k, v in launch.items() if k not in LAUNCH_KEYS or (v or "").strip()}
        opts["launch_buttons"]["thebe"] = False
    # An explicit colour mode: without one the theme's script logs
    # "Got invalid theme mode" as a console error on a reader's first visit.
    config.html_context = {"default_mode": "auto", **(config.html_context or {})}
    config.html_theme_options = opts

    for src in getattr(config, "nb_ipywidgets_js", {}) or {}:
        if "://" in src or src.startswith("//"):
            raise ConfigError(
                f"nb_ipywidgets_js names {src!r}: serve the widget manager from the "
                "site (book/_static/vendor/) so that pages work offline"
            )


# --- An index of the book's exercises, for the instructors' page ----------
#
#     ```{exercise-index}
#     ```
#
# lists every sphinx-exercise `exercise` of the book, page by page in the
# order of the table of contents, each linked to its exercise. It is built
# from the exercises themselves, so it follows the chapters as they change.


class exercise_index(nodes.General, nodes.Element):
    pass


class ExerciseIndex(SphinxDirective):
    has_content = False

    def run(self):
        return [exercise_index("")]


def _toc_order(env) -> list[str]:
    order: list[str] = []

    def walk(doc: str) -> None:
        if doc in order:
            return
        order.append(doc)
        for child in env.toctree_includes.get(doc, []):
            walk(child)

    walk(env.config.root_doc)
    return order


def _exercise_title(node) -> list[nodes.Node]:
    """The exercise's own title, as nodes (it may hold math), without "Exercise"."""
    title = node.children[0] if node.children else None
    for child in getattr(title, "children", []):
        if type(child).__name__ == "exercise_subtitle":
            return [c.deepcopy() for c in child.children]
    return [nodes.Text(node.get("label", ""))]


def resolve_exercise_index(app: Sphinx, doctree, fromdocname: str) -> None:
    env = app.env
    registry = getattr(env, "sphinx_exercise_registry", {})
    by_doc: dict[str, list] = {}
    for label, entry in registry.items():
        if entry.get("type") == "exercise":
            by_doc.setdefault(entry["docname"], []).append((label, entry["node"]))
    for placeholder in list(doctree.findall(exercise_index)):
        listing = nodes.bullet_list()
        for doc in _toc_order(env):
            if doc not in by_doc:
                continue
            item = nodes.list_item()
            para = nodes.paragraph()
            page = nodes.reference(
                "",
                "",
                internal=True,
                refuri=app.builder.get_relative_uri(fromdocname, doc),
            )
            page += nodes.strong(text=env.titles[doc].astext())
            para += page
            item += para
            exercises = nodes.bullet_list()
            ordered = sorted(by_doc[doc], key=lambda e: e[1].get("serial_number", 0))
            for label, node in ordered:
                ref = nodes.reference(
                    "",
                    "",
                    *_exercise_title(node),
                    internal=True,
                    refuri=app.builder.get_relative_uri(fromdocname, doc) + "#" + label,
                )
                entry_para = nodes.paragraph()
                entry_para += ref
                exercises += nodes.list_item("", entry_para)
            item += exercises
            listing += item
        if not len(listing):
            listing = nodes.paragraph(text="No exercises yet.")
        placeholder.replace_self(listing)


def setup_exercise_index(app: Sphinx) -> None:
    app.add_node(exercise_index)
    app.add_directive("exercise-index", ExerciseIndex)
    app.connect("doctree-resolved", resolve_exercise_index)


def dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Drop repeated <script> entries (sphinx-thebe's inline configuration is
    added twice in a jupyter-book build, and declaring its `const` twice is a
    JavaScript error on every page)."""
    seen, unique = set(), []
    for js in context.get("script_files", []):
        attrs = getattr(js, "attributes", {}) or {}
        key = (
            str(getattr(js, "filename", js) or ""),
            tuple(sorted((k, str(v)) for k, v in attrs.items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


def mathjax_only_where_needed(app: Sphinx, pagename, templatename, context, doctree) -> None:
    """Load MathJax only on pages that have mathematics.

    myst-nb asks Sphinx to load MathJax on every page (a notebook's outputs
    may hold LaTeX). MathJax is over 1 MB, so text pages without any math
    (the home page, the instructors' page, the index) leave it out; notebook
    pages always keep it. `make check-site` fails on any math left raw.
    """
    if doctree is not None:
        if str(app.env.doc2path(pagename)).endswith(".ipynb"):
            return
        if any(True for _ in doctree.findall(lambda n: isinstance(n, (nodes.math, nodes.math_block)))):
            return
    context["script_files"] = [
        js
        for js in context.get("script_files", [])
        if "mathjax" not in str(getattr(js, "filename", "") or "")
        and "window.MathJax" not in str((getattr(js, "attributes", {}) or {}).get("body", ""))
    ]


# Our own files in html_static_path that only some pages may load: if a
# `_static` folder ever appears at the book's root, jupyter-book adds every
# .js file of html_static_path to every page; keep these out of that.
PAGE_SPECIFIC_JS = ("vendor/", "widgets-mathjax3.js", "scripts/fontawesome.js")


def keep_page_specific_js(app: Sphinx, config: Config) -> None:
    config.html_js_files = [
        js
        for js in config.html_js_files
        if not str(js[0] if isinstance(js, tuple) else js).startswith(PAGE_SPECIFIC_JS)
    ]


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", apply_repository_setting, priority=100)
    app.connect("config-inited", keep_page_specific_js, priority=100)
    app.connect("html-page-context", dedupe_scripts, priority=900)
    app.connect("html-page-context", mathjax_only_where_needed, priority=900)
    # Offer MathJax to every page (the exercise index holds math from other
    # pages); mathjax_only_where_needed then drops it where there is none.
    app.set_html_assets_policy("always")
    setup_exercise_index(app)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
