"""The role osa.hybrid_msg.mq_setup, given exactly the inputs OpenStack-Ansible's os_nova passes to
openstack.osa.mq_setup (tasks/main.yml's include_role vars, nova_oslomsg_* as os_nova's defaults and OSA's
group_vars make them), against the loopback RabbitMQ and Kafka.

OSA's role itself cannot run in CI (it needs the openstack.osa collection from GitHub, community.rabbitmq and
rabbitmqctl on a RabbitMQ host), so the expected broker state is computed by ``mq_setup_expected`` below, a
transcription of mq_setup's tasks (main.yml, rabbit_vhost_setup.yml, rabbit_user_setup.yml, vars/main.yml): which
vhosts with which state, which policies on which vhost, which user with .* on which vhost, and the notify
de-duplication. The broker is read back through the management API (and Kafka metadata for a kafka notify
transport) and compared object for object; a second run must change nothing.

bench/mq_setup_side_by_side.py runs the real role (an openstack-ansible-plugins checkout, community.rabbitmq 1.6.0,
the cluster's rabbitmqctl) side by side with this one and with ``mq_setup_expected``, from these cases and more;
bench/SIDE-BY-SIDE-mq_setup.md has the result (the transcription matched the real role in every case).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from ansible_helpers import (
    ADMIN,
    BOOTSTRAP_SERVERS,
    CA_FILE,
    MGMT_URLS,
    REPO_ROOT,
    ansible_env,
    api,
    definitions,
    quote,
)
from confluent_kafka.admin import AdminClient

PRIORITIES = ["audit", "debug", "info", "warn", "error", "critical", "sample"]
# OSA's group_vars: rabbitmq_policies, which oslomsg_rpc_policies and oslomsg_notify_policies take.
OSA_POLICIES = [{"name": "CQv2", "pattern": ".*", "priority": 0, "tags": {"queue-version": 2}, "state": "present"}]
# os_nova's include of mq_setup (tasks/main.yml), verbatim.
OS_NOVA_INCLUDE_VARS = {
    "_oslomsg_rpc_setup_host": "{{ nova_oslomsg_rpc_setup_host }}",
    "_oslomsg_rpc_userid": "{{ nova_oslomsg_rpc_userid }}",
    "_oslomsg_rpc_password": "{{ nova_oslomsg_rpc_password }}",
    "_oslomsg_rpc_vhost": "{{ nova_oslomsg_rpc_vhost }}",
    "_oslomsg_rpc_transport": "{{ nova_oslomsg_rpc_transport }}",
    "_oslomsg_rpc_policies": "{{ nova_oslomsg_rpc_policies }}",
    "_oslomsg_notify_setup_host": "{{ nova_oslomsg_notify_setup_host }}",
    "_oslomsg_notify_userid": "{{ nova_oslomsg_notify_userid }}",
    "_oslomsg_notify_password": "{{ nova_oslomsg_notify_password }}",
    "_oslomsg_notify_vhost": "{{ nova_oslomsg_notify_vhost }}",
    "_oslomsg_notify_transport": "{{ nova_oslomsg_notify_transport }}",
    "_oslomsg_notify_policies": "{{ nova_oslomsg_notify_policies }}",
    "_oslomsg_notify_configure": "{{ nova_oslomsg_notify_configure }}",
}


def mq_setup_expected(v: dict, rpc_policies: list, notify_policies: list) -> dict:
    """What openstack.osa.mq_setup declares for the resolved inputs ``v`` (``rpc_userid``... without ``_oslomsg_``)."""
    vhosts: dict[str, str] = {}
    perms: set[tuple[str, str]] = set()
    policies: dict[tuple[str, str], dict] = {}
    users: dict[str, str] = {}

    def vhost_list(value):
        return [{"name": value, "state": "present"}] if isinstance(value, str) else value

    def configured(bus):
        return bool(v.get(f"{bus}_configure", f"{bus}_transport" in v))

    def vhost_setup(bus, global_policies):
        merged, seen = [], set()
        for p in v.get(f"{bus}_policies", []) + global_policies:  # unique(attribute='name'): first wins
            if p["name"] not in seen:
                seen.add(p["name"])
                merged.append(p)
        for vh in vhost_list(v[f"{bus}_vhost"]):
            vhosts[vh["name"]] = vh.get("state", "present")
            if vh.get("state", "present") == "present":
                for p in merged:
                    if p.get("state", "present") == "present":
                        policies[(vh["name"], p["name"])] = p

    def user_setup(bus):
        users[v[f"{bus}_userid"]] = v[f"{bus}_password"]
        for vh in vhost_list(v[f"{bus}_vhost"]):
            if vh.get("state", "present") == "present":
                perms.add((v[f"{bus}_userid"], vh["name"]))

    rpc_on = configured("rpc") and v.get("rpc_transport") == "rabbit"
    if rpc_on:
        vhost_setup("rpc", rpc_policies)
        user_setup("rpc")
    if configured("notify") and v.get("notify_transport") == "rabbit":
        same_host = v["notify_setup_host"] == v["rpc_setup_host"]
        if "rpc_vhost" not in v or v["notify_vhost"] != v["rpc_vhost"] or not same_host or not configured("rpc"):
            vhost_setup("notify", notify_policies)
        if "rpc_userid" not in v or v["notify_userid"] != v["rpc_userid"] or not same_host or not configured("rpc"):
            user_setup("notify")
    return {"vhosts": vhosts, "perms": perms, "policies": policies, "users": users}


def os_nova_vars(name: str, password: str, notify: dict) -> dict:
    """nova_oslomsg_* as os_nova's defaults/main.yml resolve them with OSA's group_vars (quorum queues on, no
    rabbitmq_all group here, so the setup host is localhost); ``notify`` overrides the notify_* ones."""
    values = {
        "nova_oslomsg_rpc_setup_host": "localhost",
        "nova_oslomsg_rpc_userid": name,
        "nova_oslomsg_rpc_password": password,
        "nova_oslomsg_rpc_vhost": [{"name": f"/{name}", "state": "absent"}, {"name": name, "state": "present"}],
        "nova_oslomsg_rpc_transport": "rabbit",
        "nova_oslomsg_rpc_policies": [],
        "nova_oslomsg_notify_setup_host": "localhost",
        "nova_oslomsg_notify_userid": name,
        "nova_oslomsg_notify_password": password,
        "nova_oslomsg_notify_vhost": [{"name": f"/{name}", "state": "absent"}, {"name": name, "state": "present"}],
        "nova_oslomsg_notify_transport": "rabbit",
        "nova_oslomsg_notify_policies": [],
        "nova_oslomsg_notify_configure": True,
    }
    values.update({f"nova_oslomsg_notify_{k}": val for k, val in notify.items()})
    return values


CASES = {
    # os_nova's defaults: notify on the RPC vhost and user, declared once.
    "defaults": {},
    "notify_on_kafka": {"transport": "kafka"},
    "notify_not_configured": {"configure": False},
    # A vhost and user of its own for notifications, with a service policy that out-ranks CQv2.
    "separate_notify": {
        "userid": "{n}_notify",
        "password": "{p}-notify",
        "vhost": "{n}_notify",
        "policies": [
            {"name": "notify-ttl", "pattern": "^notifications\\.", "priority": 1, "tags": {"message-ttl": 60000}}
        ],
    },
}


def _fill(value, name, password):
    if isinstance(value, str):
        return value.format(n=name, p=password)
    if isinstance(value, list):
        return [_fill(x, name, password) for x in value]
    if isinstance(value, dict):
        return {k: _fill(x, name, password) for k, x in value.items()}
    return value


def _observed(suffix: str) -> dict:
    defs = definitions()
    return {
        "vhosts": sorted(v["name"] for v in defs["vhosts"] if suffix in v["name"]),
        "users": sorted(u["name"] for u in defs["users"] if suffix in u["name"]),
        "perms": sorted(
            (p["user"], p["vhost"], p["configure"], p["write"], p["read"])
            for p in defs["permissions"]
            if suffix in p["user"]
        ),
        "policies": sorted(
            (
                p["vhost"],
                p["name"],
                p["pattern"],
                p["priority"],
                json.dumps(p["definition"], sort_keys=True),
                p["apply-to"],
            )
            for p in defs["policies"]
            if suffix in p["vhost"]
        ),
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_role_matches_mq_setup_with_os_nova_inputs(case, tmp_path, rabbitmq_broker, kafka_broker):
    suffix = uuid.uuid4().hex[:8]
    name = f"osatest_nova_{suffix}"
    password = uuid.uuid4().hex
    topic = f"osatest_notif_{suffix}"
    nova = os_nova_vars(name, password, _fill(CASES[case], name, password))
    play_vars = {
        **nova,
        "oslomsg_rpc_policies": OSA_POLICIES,
        "oslomsg_notify_policies": OSA_POLICIES,
        "hybrid_msg_rabbitmq_urls": MGMT_URLS,
        "hybrid_msg_rabbitmq_admin_userid": ADMIN[0],
        "hybrid_msg_rabbitmq_admin_password": ADMIN[1],
        "hybrid_msg_kafka_bootstrap_servers": BOOTSTRAP_SERVERS,
        "hybrid_msg_notification_topics": [topic],
    }
    if CA_FILE:
        play_vars["hybrid_msg_rabbitmq_ca_cert"] = CA_FILE
    play = [
        {
            "name": "os_nova's common-mq step, with the role's name changed",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": play_vars,
            "tasks": [
                {
                    "name": "Including osa.mq_setup role",
                    "ansible.builtin.include_role": {"name": "osa.hybrid_msg.mq_setup"},
                    "vars": OS_NOVA_INCLUDE_VARS,
                }
            ],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play))
    resolved = {k.removeprefix("nova_oslomsg_"): val for k, val in nova.items()}
    expected = mq_setup_expected(resolved, OSA_POLICIES, OSA_POLICIES)
    want = {
        "vhosts": sorted(n for n, state in expected["vhosts"].items() if state == "present"),
        "users": sorted(expected["users"]),
        "perms": sorted((u, vh, ".*", ".*", ".*") for u, vh in expected["perms"]),
        "policies": sorted(
            (
                vh,
                p["name"],
                p["pattern"],
                p.get("priority", 0),
                json.dumps(p["tags"], sort_keys=True),
                p.get("apply_to", "all"),
            )
            for (vh, _policy_name), p in expected["policies"].items()
        ),
    }
    argv = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        *("-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}", str(playbook)),
    ]
    admin = AdminClient({"bootstrap.servers": ",".join(BOOTSTRAP_SERVERS)})
    try:
        runs = []
        for _attempt in range(2):
            proc = subprocess.run(
                argv, cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False
            )
            assert proc.returncode == 0, proc.stdout + proc.stderr
            assert password not in proc.stdout + proc.stderr
            runs.append(int(re.search(r"^localhost\s*:.*\bchanged=(\d+)", proc.stdout, re.M).group(1)))
            assert _observed(suffix) == want
            topics = sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(topic + "."))
            assert topics == (sorted(f"{topic}.{p}" for p in PRIORITIES) if case == "notify_on_kafka" else [])
        assert runs == [1, 0], runs
    finally:
        for user_name in expected["users"]:
            api("DELETE", f"users/{quote(user_name)}")
        for vhost_name in expected["vhosts"]:
            api("DELETE", f"vhosts/{quote(vhost_name)}")
        doomed = [t for t in admin.list_topics(timeout=10).topics if t.startswith(topic + ".")]
        if doomed:
            for future in admin.delete_topics(doomed, operation_timeout=10).values():
                future.result()


def test_role_without_rpc_password_names_the_input(tmp_path, rabbitmq_broker):
    play = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "ansible.builtin.include_role": {"name": "osa.hybrid_msg.mq_setup"},
                    "vars": {
                        "_oslomsg_rpc_transport": "rabbit",
                        "_oslomsg_rpc_userid": "osatest_nopw",
                        "_oslomsg_rpc_vhost": "osatest_nopw",
                        "oslomsg_rpc_policies": [],
                        "hybrid_msg_rabbitmq_admin_password": ADMIN[1],
                    },
                }
            ],
        }
    ]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play))
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    proc = subprocess.run(
        argv, cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True, timeout=300, check=False
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "osa.hybrid_msg.mq_setup: set _oslomsg_rpc_password" in out, out
    assert "Traceback" not in out and ADMIN[1] not in out
