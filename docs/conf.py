"""Sphinx configuration of ssvae's manual: `sphinx-build -W --keep-going docs docs/_build/html` (what `.ci/run` runs).

Sphinx, because the projects our users know (scikit-learn, PyTorch, Pyro) build their manuals with it: the API
reference comes from the docstrings (autosummary, one page per module; numpydoc-style sections read by
napoleon, which leaves the plain-prose docstrings most functions have as they are), the CLI reference from the
parser itself (sphinx-argparse), the gallery from runnable scripts (sphinx-gallery, as scikit-learn's), and the
pages are Markdown (MyST), so the text moved out of the README reads the same.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))

import ssvae  # noqa: E402

project = "ssvae"
author = "the ssvae developers"
copyright = "2026, the ssvae developers"
release = version = ssvae.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.napoleon",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "results/**/runs", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

default_role = "literal"  # `name` in a docstring is code, as in the Markdown pages
napoleon_google_docstring = False
napoleon_numpy_docstring = True  # Parameters / Attributes sections, numpydoc style, where a docstring has them
napoleon_use_ivar = True

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_inherit_docstrings = False  # torch's and scikit-learn's docstrings are theirs to document
autodoc_mock_imports = ["ray", "graphlearning"]

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"ssvae {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_static_path: list[str] = []


def skip_foreign(app, what, name, obj, skip, options):
    """Members a class gets from its libraries (scikit-learn's metadata-routing `set_*_request`, torch's
    autograd hooks) are documented by those libraries, not here."""
    module = getattr(obj, "__module__", None) or ""
    if module and not module.startswith("ssvae"):
        return True
    return skip


def page_text(text: str, depth: int, title: str) -> str:
    """A results file as a page of the site: its links into the manual made relative to where the page now lives
    (`docs/results/...` instead of `results/...`), and a title where the file has none."""
    text = text.replace("../" * depth + "docs/", "../" * depth)
    return text if text.lstrip().startswith("#") else f"# {title}\n\n{text}"


def copy_results(app) -> None:
    """The committed results folders (their READMEs, tables and figures; never run directories) as pages of the
    site, so that a finding links to its evidence and the evidence is read beside it."""
    dst = Path(app.srcdir) / "results"
    shutil.rmtree(dst, ignore_errors=True)
    for src in sorted((ROOT / "results").iterdir()):
        if not src.is_dir() or not (src / "README.md").is_file():
            continue
        (dst / src.name).mkdir(parents=True)
        for f in src.iterdir():
            if f.is_file() and f.suffix == ".md":
                (dst / src.name / f.name).write_text(page_text(f.read_text(), 2, f"{src.name}/{f.name}"))
            elif f.is_file() and f.suffix in (".png", ".csv"):
                shutil.copy2(f, dst / src.name / f.name)
    index = page_text((ROOT / "results" / "README.md").read_text(), 1, "Results")
    (dst / "README.md").write_text(index + "\n```{toctree}\n:hidden:\n:glob:\n\n*/README\n*/*\n```\n")


def check_documented(app) -> None:
    """A public function or class without a docstring would be left out of the API reference without a word:
    one warning each, so that the strict build fails and names it."""
    from public_names import undocumented
    from sphinx.util import logging

    for name in undocumented():
        logging.getLogger(__name__).warning(f"{name} is public but has no docstring: document it or make it private")


def setup(app) -> None:
    app.connect("builder-inited", check_documented)
    app.connect("builder-inited", copy_results)
    app.connect("autodoc-skip-member", skip_foreign)
