"""Make ``ansible_collections.osa.hybrid_msg`` importable when pytest runs from the checkout.

ansible-test units sets this up itself; plain ``pytest`` uses the committed symlink
``.collections/ansible_collections/osa/hybrid_msg`` -> the repository root.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_COLLECTIONS = Path(__file__).resolve().parents[2] / ".collections"


def _collection_importable():
    try:
        return importlib.util.find_spec("ansible_collections.osa.hybrid_msg.plugins") is not None
    except ImportError:
        return False


if not _collection_importable():
    sys.path.insert(0, str(_COLLECTIONS))
