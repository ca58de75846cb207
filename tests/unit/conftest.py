"""Make ``ansible_collections.osa.hybrid_msg`` importable when pytest runs from the checkout.

ansible-test units sets this up itself; plain ``pytest`` uses the committed symlink
``.collections/ansible_collections/osa/hybrid_msg`` -> the repository root.
"""

from __future__ import annotations

import sys
from pathlib import Path

_COLLECTIONS = Path(__file__).resolve().parents[2] / ".collections"

try:
    import ansible_collections.osa.hybrid_msg.plugins.module_utils  # noqa: F401
except ImportError:
    sys.path.insert(0, str(_COLLECTIONS))
