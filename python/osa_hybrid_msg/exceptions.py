"""Exception classes raised by ``osa_hybrid_msg``.

The classes are defined once, in the compiled ``osa_hybrid_msg._core`` (``src/py/errors.rs``); this module
gives them a stable import path and takes their names from ``_core``. When the extension is missing (a
source checkout that was never built), stand-ins with the names, hierarchy and docs of ``_core.pyi`` are
defined instead, so ``except osa_hybrid_msg.exceptions.SpecError`` never fails to import. Nothing raises
the stand-ins.
"""

from __future__ import annotations

import ast
from pathlib import Path

try:
    from osa_hybrid_msg import _core
except ImportError:  # pragma: no cover - exercised only without the built extension
    _core = None  # type: ignore[assignment]


def _compiled() -> dict[str, type[BaseException]]:
    found = {}
    for name in _core.__all__:
        value = getattr(_core, name)
        if isinstance(value, type) and issubclass(value, BaseException):
            found[name] = value
    return found


def _stand_ins() -> dict[str, type[BaseException]]:  # pragma: no cover - only without the built extension
    """The classes ``_core.pyi`` declares, in its order, each a subclass of the one it names."""
    tree = ast.parse(Path(__file__).with_name("_core.pyi").read_text())
    found: dict[str, type[BaseException]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            bases = tuple(found.get(b.id, Exception) for b in node.bases if isinstance(b, ast.Name))
            found[node.name] = type(node.name, bases or (Exception,), {"__doc__": ast.get_docstring(node)})
    return found


_CLASSES = _compiled() if _core is not None else _stand_ins()
globals().update(_CLASSES)
__all__ = list(_CLASSES)
