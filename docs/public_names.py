"""The public names of the package that the API reference must document: every function and class defined at the
top of a module whose path has no part starting with an underscore. Used by the build (`conf.py`: one warning,
so one failure under -W, for each such name without a docstring) and by `tests/test_docs.py`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil


def public_names(package: str = "ssvae") -> dict[str, object]:
    """Dotted name -> object, for every public function and class defined in a public module of `package`."""
    root = importlib.import_module(package)
    names = {}
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            defined_here = getattr(obj, "__module__", None) == info.name
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj)) and defined_here:
                names[f"{info.name}.{name}"] = obj
    return names


def undocumented(package: str = "ssvae") -> list[str]:
    """The public names without a docstring of their own."""
    return sorted(name for name, obj in public_names(package).items() if not (obj.__doc__ or "").strip())
