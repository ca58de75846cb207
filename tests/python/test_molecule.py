"""Every molecule scenario, one test each: ``molecule test -s <scenario>`` from the repository root.

The scenarios (molecule/*/molecule.yml, shared settings in .config/molecule/config.yml) run on localhost with
the default driver and this Python; their prepare step starts the loopback brokers with scripts/brokers/.
Each test runs the scenario's whole sequence: syntax, prepare, cleanup, converge, idempotence, verify, cleanup.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCENARIOS = sorted(p.parent.name for p in (REPO_ROOT / "molecule").glob("*/molecule.yml"))


def molecule_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        # Scenarios live in molecule/ at the collection root, not extensions/molecule/.
        MOLECULE_GLOB="molecule/*/molecule.yml",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        NO_COLOR="1",
        PY_COLORS="0",
    )
    return env


def test_scenarios_are_found():
    assert SCENARIOS, "no molecule/*/molecule.yml found"


@pytest.mark.timeout(600)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, tmp_path):
    # Molecule keys its default working directory on the checkout's directory name only, so another
    # checkout with the same name (an earlier CI run) leaves links there that break this one.
    env = dict(molecule_env(), MOLECULE_EPHEMERAL_DIRECTORY=str(tmp_path / "molecule"))
    proc = subprocess.run(
        [str(BIN / "molecule"), "test", "-s", scenario],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"molecule test -s {scenario} failed ({proc.returncode}):\n{output[-20000:]}"
    # Idempotence and verify are the contract (STYLE §4.3): make sure they ran rather than being skipped.
    for step in ("converge", "idempotence", "verify"):
        done = re.search(rf"^{scenario} (➜|>) {step}: Executed: Successful", output, re.M)
        assert done, f"molecule test -s {scenario}: no successful {step} step:\n{output[-20000:]}"
