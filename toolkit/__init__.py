"""optin-toolkit: one declarative spec -> lawful consent checkboxes, notices and SMS footers.

The pipeline runs one way, one module a step:
spec file -> ``load_spec`` (spec.py) -> locale (i18n.py) -> context (context.py)
-> template (templates/) -> ``render`` (render.py) -> ``Rendered`` artefact with its version.

The names below are imported on first use (PEP 562), so that ``import toolkit.cli`` and
``optin --version`` do not pay for Jinja2, pydantic and Babel.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import ArtefactError, LocaleError, Problem, SpecError, ToolkitError
    from .render import ARTEFACTS, Rendered, render
    from .spec import Spec, load_spec, validate_spec

__version__ = "0.1.0"

#: each public name and the module that defines it
_LAZY = {
    "ARTEFACTS": "render",
    "ArtefactError": "errors",
    "LocaleError": "errors",
    "Problem": "errors",
    "Rendered": "render",
    "Spec": "spec",
    "SpecError": "errors",
    "ToolkitError": "errors",
    "load_spec": "spec",
    "render": "render",
    "validate_spec": "spec",
}

__all__ = [
    "ARTEFACTS",
    "ArtefactError",
    "LocaleError",
    "Problem",
    "Rendered",
    "Spec",
    "SpecError",
    "ToolkitError",
    "__version__",
    "load_spec",
    "render",
    "validate_spec",
]


def __getattr__(name: str) -> Any:
    """Import a public name the first time it is asked for, then keep it."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(ModuleType):
    """``toolkit.render`` is the function, as it always was, although ``toolkit/render.py`` is
    also a submodule: importing it would otherwise bind the module over the name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "render" and isinstance(value, ModuleType):
            return  # the module stays in sys.modules["toolkit.render"]
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
