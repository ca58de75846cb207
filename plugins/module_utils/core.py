# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Access to the compiled core ``osa_hybrid_msg._core``, with the import guarded and the version gated.

AnsiballZ ships only Python module_utils, so the osa-hybrid-msg wheel must be installed for the target's
``ansible_python_interpreter``. Importing this file never fails; ``require_core`` fails the module clearly.
"""

from __future__ import annotations

import re
import traceback

from ansible.module_utils.basic import missing_required_lib

MIN_CORE_VERSION = "0.1.0"
REQUIREMENT = "osa-hybrid-msg>=" + MIN_CORE_VERSION

try:
    # Absolute import of the installed package; never `import osa_hybrid_msg` bare from the module file,
    # which has the same name and would import itself when run as a script.
    from osa_hybrid_msg import _core
except ImportError:
    _core = None
    HAS_CORE = False
    IMP_ERR = traceback.format_exc()
else:
    HAS_CORE = True
    IMP_ERR = None


def version_tuple(version):
    """The release part of a PEP 440 version as a tuple of ints: ``"0.1.0rc1"`` -> ``(0, 1, 0)``."""
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(version))
    if not match:
        return ()
    parts = [int(p) for p in match.group(1).split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def require_core(module):
    """Return the ``osa_hybrid_msg._core`` module, or fail ``module`` if it is missing or too old."""
    if not HAS_CORE:
        module.fail_json(
            msg=missing_required_lib(REQUIREMENT, reason="to reconcile messaging objects with " + module_name(module)),
            exception=IMP_ERR,
        )
    found = getattr(_core, "__version__", "unknown")
    if version_tuple(found) < version_tuple(MIN_CORE_VERSION):
        module.fail_json(
            msg=missing_required_lib(
                REQUIREMENT,
                reason=f"by {module_name(module)}, but version {found} is installed; upgrade it",
            ),
        )
    return _core


def module_name(module):
    return getattr(module, "_name", None) or "osa.hybrid_msg.osa_hybrid_msg"
