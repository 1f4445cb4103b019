"""optin-toolkit: one declarative spec -> lawful consent checkboxes, notices and SMS footers.

The pipeline runs one way, one module a step:
spec file -> ``load_spec`` (spec.py) -> locale (i18n.py) -> context (context.py)
-> template (templates/) -> ``render`` (render.py) -> ``Rendered`` artefact with its version.
"""

from .errors import ArtefactError, LocaleError, Problem, SpecError, ToolkitError
from .render import ARTEFACTS, Rendered, render
from .spec import Spec, load_spec, validate_spec

__version__ = "0.1.0"

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
