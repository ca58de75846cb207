"""An OpenStack-Ansible deployment's inventory and variables (tests/fixtures/osa), pointed at the loopback brokers,
for running the collection playbook osa.hybrid_msg.hybrid_messaging as an operator would.

tests/fixtures/osa holds OSA's shape: ``openstack_inventory.json`` (the dynamic inventory's output: 16 services in
``<service>_all`` groups of component groups, the RabbitMQ container in ``rabbitmq_all``, a Kafka host in
``kafka_all``, every host with ``management_address`` and ``container_networks``), a stand-in for
``dynamic_inventory.py`` that prints it, ``user_variables.yml``, ``user_variables_kafka.yml`` (the lines that turn
on Kafka notifications, passed only with Kafka hosts) and ``user_secrets.yml``. A run copies them into a temporary
directory, optionally empties ``kafka_all``, and adds one more variables file with what is unique to the run (each
service's user and vhost get a suffix, the notification topic too, since the brokers are shared) and the
management connection from ``OSA_RABBITMQ_*``. Used by tests/python/test_osa_playbook.py (from this checkout) and
tests/dist (from the installed wheel and tarball).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml
from ansible_helpers import ADMIN, BOOTSTRAP, CA_FILE, MGMT_URLS, api, definitions, quote
from confluent_kafka.admin import AdminClient

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "osa"
PLAYBOOK = "osa.hybrid_msg.hybrid_messaging"
PRIORITIES = ["audit", "debug", "info", "warn", "error", "critical", "sample"]
SECRETS = yaml.safe_load((FIXTURE / "user_secrets.yml").read_text())
SERVICES = [k.removesuffix("_oslomsg_rpc_password") for k in SECRETS if k.endswith("_oslomsg_rpc_password")]
REPORT = re.compile(
    r"(?P<n>\d+) service\(s\) \((?P<services>[^)]*)\), notifications on (?P<notify>[a-z, ]+): "
    r"changed=(?P<changed>True|False), (?P<changes>\d+) change\(s\), (?P<reads>\d+) read\(s\), "
    r"(?P<writes>\d+) write\(s\)"
)


@dataclass
class PlaybookRun:
    rc: int
    output: str
    seconds: float
    report: dict[str, str] | None
    recap_changed: int | None


class OsaDeployment:
    """One run's copy of the fixture, with unique names; ``cleanup`` deletes what the runs created."""

    def __init__(self, base: Path, *, kafka: bool = True) -> None:
        self.suffix = uuid.uuid4().hex[:8]
        self.kafka = kafka
        self.dir = base / f"osa-{self.suffix}"
        self.dir.mkdir(parents=True)
        # An inventory script, as OSA's: executable, with a shebang (kept out of the fixture, whose files
        # ansible-test's shebang check would refuse).
        script = self.dir / "dynamic_inventory.py"
        script.write_text("#!/usr/bin/env python3\n" + (FIXTURE / "dynamic_inventory.py").read_text())
        script.chmod(0o755)
        inventory = json.loads((FIXTURE / "openstack_inventory.json").read_text())
        if not kafka:
            inventory["kafka"]["hosts"] = []
        (self.dir / "openstack_inventory.json").write_text(json.dumps(inventory, indent=2))
        for name in ("user_variables.yml", "user_variables_kafka.yml", "user_secrets.yml"):
            shutil.copy2(FIXTURE / name, self.dir / name)
        self.names = {s: f"osatest_{s}_{self.suffix}" for s in SERVICES}
        self.topic = f"osatest_notif_{self.suffix}"
        run_vars: dict = {
            "hybrid_msg_rabbitmq_urls": MGMT_URLS,
            "hybrid_msg_rabbitmq_admin_userid": ADMIN[0],
            "hybrid_msg_rabbitmq_admin_password": ADMIN[1],
            "hybrid_msg_notification_topics": [self.topic],
        }
        if CA_FILE:
            run_vars["hybrid_msg_rabbitmq_ca_cert"] = CA_FILE
        for service, name in self.names.items():
            run_vars[f"{service}_oslomsg_rpc_userid"] = name
            # os_nova's form: the legacy /<name> absent, <name> present (quorum queues, OSA's default).
            run_vars[f"{service}_oslomsg_rpc_vhost"] = [
                {"name": f"/{name}", "state": "absent"},
                {"name": name, "state": "present"},
            ]
        (self.dir / "user_variables_run.yml").write_text(json.dumps(run_vars, indent=2))
        self.admin = AdminClient({"bootstrap.servers": BOOTSTRAP})

    def argv(self, bin_dir: Path, *extra: str) -> list[str]:
        """``ansible-playbook osa.hybrid_msg.hybrid_messaging`` with OSA's inventory script and variable files,
        as OSA's openstack-ansible wrapper passes them."""
        return [
            str(bin_dir / "ansible-playbook"),
            "-i",
            str(self.dir / "dynamic_inventory.py"),
            "-e",
            f"@{self.dir / 'user_variables.yml'}",
            "-e",
            f"@{self.dir / 'user_secrets.yml'}",
            *(["-e", f"@{self.dir / 'user_variables_kafka.yml'}"] if self.kafka else []),
            "-e",
            f"@{self.dir / 'user_variables_run.yml'}",
            PLAYBOOK,
            *extra,
        ]

    def run(self, bin_dir: Path, cwd: Path, env: dict[str, str], *extra: str, timeout: float = 600) -> PlaybookRun:
        start = time.monotonic()
        proc = subprocess.run(
            self.argv(bin_dir, *extra), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        seconds = time.monotonic() - start
        output = proc.stdout + proc.stderr
        match = REPORT.search(output)
        recap = re.search(r"^localhost\s*:.*\bchanged=(\d+)", proc.stdout, re.M)
        return PlaybookRun(
            proc.returncode,
            output,
            seconds,
            match.groupdict() if match else None,
            int(recap.group(1)) if recap else None,
        )

    def topics(self) -> list[str]:
        return [f"{self.topic}.{p}" for p in PRIORITIES]

    def assert_converged(self) -> None:
        """The management API and Kafka metadata show every service's objects, read independently."""
        defs = definitions()
        vhosts = {v["name"] for v in defs["vhosts"]}
        users = {u["name"] for u in defs["users"]}
        perms = {(p["user"], p["vhost"]): p for p in defs["permissions"]}
        policies = {(p["vhost"], p["name"]): p for p in defs["policies"]}
        for service, name in self.names.items():
            assert name in vhosts, f"{service}: vhost {name} missing"
            assert f"/{name}" not in vhosts, f"{service}: legacy vhost /{name} present"
            assert name in users, f"{service}: user {name} missing"
            perm = perms.get((name, name))
            assert perm and (perm["configure"], perm["write"], perm["read"]) == (".*", ".*", ".*"), perm
            # OSA's global rabbitmq_policies: CQv2 on every service vhost.
            cqv2 = policies.get((name, "CQv2"))
            assert cqv2 and cqv2["pattern"] == ".*" and cqv2["definition"] == {"queue-version": 2}, cqv2
        # Only this run's vhosts and users carry its suffix: one vhost and one user per service (notify shares them).
        assert sorted(v for v in vhosts if self.suffix in v) == sorted(self.names.values())
        assert sorted(u for u in users if self.suffix in u) == sorted(self.names.values())
        present = set(self.admin.list_topics(timeout=10).topics)
        mine = sorted(t for t in present if t.startswith(self.topic + "."))
        assert mine == (sorted(self.topics()) if self.kafka else []), mine

    def cleanup(self) -> None:
        for name in self.names.values():
            api("DELETE", f"users/{quote(name)}")
            api("DELETE", f"vhosts/{quote(name)}")
            api("DELETE", f"vhosts/{quote('/' + name)}")
        present = set(self.admin.list_topics(timeout=10).topics)
        doomed = [t for t in present if t.startswith(self.topic + ".")]
        if doomed:
            for future in self.admin.delete_topics(doomed, operation_timeout=10).values():
                future.result()
