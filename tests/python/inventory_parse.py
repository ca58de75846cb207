"""Parses ``osa.hybrid_msg.messaging`` sources with the real plugin, in a process of its own.

Reads a JSON list of sources (each a mapping, written to a ``*.messaging.yml`` file as JSON, which YAML reads),
parses each with a fresh ``InventoryData`` and prints one JSON outcome per source: ``{"ok": hosts}`` or
``{"error": module.class, "message": text}``. A process of its own, because ``init_plugin_loader`` installs Ansible's
collection finder for the whole interpreter.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader, inventory_loader

REPO_ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    init_plugin_loader([str(REPO_ROOT / ".collections")])
    sources = json.load(sys.stdin)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, source in enumerate(sources):
            path = Path(tmp) / f"s{i}.messaging.yml"
            path.write_text(json.dumps(source))
            plugin = inventory_loader.get("osa.hybrid_msg.messaging")
            inventory = InventoryData()
            try:
                plugin.parse(inventory, DataLoader(), str(path), cache=False)
            except Exception as e:  # the caller judges every class and message
                out.append({"error": f"{type(e).__module__}.{type(e).__name__}", "message": str(e)})
            else:
                out.append({"ok": sorted(inventory.hosts)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
