"""Sphinx configuration: user guide (MyST Markdown), API reference (autodoc + autosummary, numpydoc docstrings).

Built by ``make docs`` (``sphinx -W --keep-going -b html docs build/docs``): every warning fails the build.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# documents the checkout, also when myovox is not installed in the interpreter running Sphinx
sys.path.insert(0, str(ROOT / "src"))
# building the docs must never compile the C training kernels or start threads
os.environ.setdefault("MYOVOX_C_KERNELS", "0")

project = "myovox"
author = "the myovox developers"
copyright = "2026, the myovox developers"
try:
    release = _dist_version("myovox")
except PackageNotFoundError:  # not installed: the docs still build from src/
    release = "unknown"
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: the README-style Markdown pages (guide, benchmarks, results, int8 accuracy)
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# API reference: one page per public module, written below at build time (docs/api/generated, not in git)
# and filled by autodoc from the docstrings. autosummary's own stub generation is not used: it resolves
# `myovox.recording` as the attribute `recording` of `myovox` and fails to import it.
API_MODULES = [  # the public API; myovox.cli (a thin layer) and myovox.bench (benchmarks) are not part of it
    "myovox",
    "myovox.recording",
    "myovox.dataset",
    "myovox.windows",
    "myovox.exceptions",
    "myovox.io",
    "myovox.datasets",
    "myovox.preprocessing",
    "myovox.features",
    "myovox.models",
    "myovox.evaluation",
    "myovox.adaptation",
    "myovox.streams",
    "myovox.realtime",
    "myovox.acquisition",
    "myovox.export",
    "myovox.testing",
    "myovox.sweep",
]


def _write_api_pages(out: Path) -> None:
    import importlib
    import pkgutil

    out.mkdir(parents=True, exist_ok=True)
    written = set()

    def page(name: str, recurse: bool) -> None:
        module = importlib.import_module(name)
        children = []
        if recurse and hasattr(module, "__path__"):
            children = sorted(
                f"{name}.{m.name}" for m in pkgutil.iter_modules(module.__path__) if not m.name.startswith("_")
            )
        lines = [name, "=" * len(name), "", f".. automodule:: {name}", ""]
        if children:
            lines += [".. rubric:: Modules", "", ".. toctree::", "   :maxdepth: 1", ""]
            lines += [f"   {child}" for child in children] + [""]
        text = "\n".join(lines)
        path = out / f"{name}.rst"
        if not path.exists() or path.read_text() != text:  # unchanged pages keep their time: no rebuild
            path.write_text(text)
        written.add(path.name)
        for child in children:
            page(child, True)

    for name in API_MODULES:
        page(name, name != "myovox")
    for stale in out.glob("*.rst"):
        if stale.name not in written:
            stale.unlink()
    index = ["", ".. toctree::", "   :maxdepth: 1", ""] + [f"   generated/{n}" for n in API_MODULES]
    (out.parent / "_modules.rst.inc").write_text("\n".join(index) + "\n")


_write_api_pages(Path(__file__).parent / "api" / "generated")

# a package's page documents what the package itself defines; what it re-exports (its __all__) is documented
# once, on the page of the module that defines it (else: "duplicate object description" warnings)
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types; signatures stay readable
autodoc_member_order = "bysource"

numpydoc_show_class_members = False  # autosummary lists the members; numpydoc would list them again
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# no intersphinx: the build machines and CI are offline, and an unreachable inventory is a warning (-W: an error)

html_theme = "furo"
html_title = f"myovox {release}"
html_static_path: list[str] = []


def _skip_sklearn_routing(app, what, name, obj, skip, options):
    # scikit-learn generates set_fit_request/set_score_request/... on every estimator; their docstrings refer
    # to scikit-learn's own glossary, unresolvable here (warnings). They are scikit-learn's API, not ours.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_routing)
