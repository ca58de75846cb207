"""OpenStack-Ansible's real openstack.osa.mq_setup role side by side with osa.hybrid_msg.mq_setup.

Both roles get exactly the inputs os_nova passes (tests/python/test_osa_mq_setup.py's OS_NOVA_INCLUDE_VARS,
os_nova_vars and OSA_POLICIES), in the same play with only the role's name changed, against the shared
RabbitMQ cluster (and Kafka for a kafka notify transport). Per case: the broker is brought to the case's
starting state, OSA's role runs twice, the broker is read back through the management API, everything is
deleted, the starting state is made again, ours runs twice, it is read back and deleted. The two read-backs
are compared object by object (vhosts with tracing, users with tags and a login with the expected password,
permissions, topic permissions, policies, Kafka topics), and for the cases that start empty also with
``mq_setup_expected``, the test's transcription of mq_setup. Changed counts and wall times of every run are
recorded. Every object is named ``sbs<random>_...``, so nothing of anybody else's is touched.

OSA's role runs from a checkout of openstack/openstack-ansible-plugins (``--osa-plugins``; never copied into
this repository) in a venv with the pinned ``ansible`` package (``--peer-venv``, the one bench/run.sh installs:
ansible 12.3.0 = ansible-core 2.19 + community.rabbitmq 1.6.0). mq_setup drives ``rabbitmqctl`` on its setup
host; here the setup host is localhost (os_nova's default without a ``rabbitmq_all`` group) and a
``rabbitmqctl`` wrapper put first on PATH runs the cluster's own rabbitmqctl (scripts/brokers/rabbitmq.sh
ctl 1, node 1 of the 4.x cluster inside its chroot) for community.rabbitmq's ``-n rabbit``.

    .venv/bin/python bench/mq_setup_side_by_side.py --osa-plugins /tmp/osa-plugins \\
        [--peer-venv .cache/bench/peer-venv] [--cases defaults,preexisting] [--out bench/SIDE-BY-SIDE-mq_setup]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "python"))

from ansible_helpers import (  # after the sys.path line above
    ADMIN,
    BOOTSTRAP_SERVERS,
    CA_FILE,
    MGMT_URLS,
    RABBITMQ,
    api,
    definitions,
    quote,
)
from test_osa_mq_setup import (
    CASES as TEST_CASES,
)
from test_osa_mq_setup import (
    OS_NOVA_INCLUDE_VARS,
    OSA_POLICIES,
    _fill,
    mq_setup_expected,
    os_nova_vars,
)

# community.rabbitmq runs `rabbitmqctl -q -n <node> ARGS...`; this runs the cluster's rabbitmqctl on node 1
# and logs the subcommand (never its arguments: add_user, change_password and authenticate_user carry the
# password) so that the calls can be counted.
WRAPPER = """#!/usr/bin/env bash
args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -n) shift 2 ;;
    -q) args+=("$1"); shift ;;
    *) break ;;
  esac
done
echo "$1" >>"{log}"
exec "{script}" --profile "{profile}" ctl 1 "${{args[@]}}" "$@"
"""

# Cases beyond the test's: os_nova with quorum queues off (the vhost is "/<name>", "<name>" is absent), the
# notify user equal to RPC's on a vhost of its own, and a broker that already holds objects of the service.
EXTRA_CASES: dict[str, dict[str, Any]] = {
    "no_quorum": {
        "rpc": {"vhost": [{"name": "{n}", "state": "absent"}, {"name": "/{n}", "state": "present"}]},
        "notify": {"vhost": [{"name": "{n}", "state": "absent"}, {"name": "/{n}", "state": "present"}]},
    },
    "shared_user_own_notify_vhost": {"notify": {"vhost": "{n}_notify"}},
    "preexisting": {"pre": True},
}


CASE_NOTES = {
    "defaults": "os_nova's defaults: quorum queues, notify on rabbit with RPC's vhost list and user (declared once)",
    "notify_on_kafka": "notify transport kafka",
    "notify_not_configured": "_oslomsg_notify_configure false",
    "separate_notify": "a notify vhost and user of their own, with a service policy next to CQv2",
    "no_quorum": "quorum queues off: vhost /<name> present, <name> absent",
    "shared_user_own_notify_vhost": "the notify user is RPC's, the notify vhost its own",
    "preexisting": "os_nova's defaults on a broker that already holds the service's objects (see pre_state)",
}
# Why the real role and ours differ where they do; any other difference is printed as unexplained.
REASONS = {
    ("notify_on_kafka", "kafka_topics"): "mq_setup declares nothing for a kafka transport; ours declares the "
    "<topic>.<priority> topics (the role's purpose)",
    ("shared_user_own_notify_vhost", "permissions"): "mq_setup skips the notify user step when the userid "
    "equals RPC's, so the user gets no permission on the notify vhost; ours gives it .* there (documented)",
    ("preexisting", "vhosts"): "community.rabbitmq's rabbitmq_vhost defaults to tracing off and turns it off; "
    "ours leaves tracing alone",
    ("preexisting", "users"): "rabbitmq_user without tags sets the tags to none; ours leaves tags alone",
    ("preexisting", "topic_permissions"): "rabbitmq_user's topic_permissions default [] clears the user's topic "
    "permissions on every vhost; ours leaves them alone",
}


def cases() -> dict[str, dict[str, Any]]:
    out = {name: {"notify": notify} for name, notify in TEST_CASES.items()}
    out.update(EXTRA_CASES)
    return out


def pre_state(name: str, password: str) -> None:
    """What the 'preexisting' case starts from: the vhost of the other quorum setting, the service's vhost with
    tracing on, an extra policy and CQv2 with another definition, the user with a stale password, a tag, a
    permission narrower than .*, a permission on another vhost and a topic permission."""
    for vh in (f"/{name}", name, f"{name}_other"):
        assert api("PUT", f"vhosts/{quote(vh)}", {})[0] in (201, 204)
    assert api("PUT", f"vhosts/{quote(name)}", {"tracing": True})[0] in (201, 204)
    for pol in (
        {"pattern": ".*", "definition": {"queue-version": 1}, "priority": 0, "apply-to": "all", "n": "CQv2"},
        {"pattern": "^sbs\\.", "definition": {"max-length": 10}, "priority": 5, "apply-to": "queues", "n": "extra"},
    ):
        pname = pol.pop("n")
        assert api("PUT", f"policies/{quote(name)}/{pname}", pol)[0] in (201, 204)
    stale = uuid.uuid4().hex
    assert api("PUT", f"users/{quote(name)}", {"password": stale, "tags": "monitoring"})[0] in (201, 204)
    perms = {"configure": "^$", "write": ".*", "read": ".*"}
    assert api("PUT", f"permissions/{quote(name)}/{quote(name)}", perms)[0] in (201, 204)
    full = {"configure": ".*", "write": ".*", "read": ".*"}
    assert api("PUT", f"permissions/{quote(name + '_other')}/{quote(name)}", full)[0] in (201, 204)
    topic = {"exchange": "amq.topic", "write": "^sbs", "read": ".*"}
    assert api("PUT", f"topic-permissions/{quote(name)}/{quote(name)}", topic)[0] in (201, 204)


def can_log_in(user: str, password: str) -> bool:
    """The password is right when whoami answers 200, or 401 'Not management user' (a user without tags)."""
    status, body = api("GET", "whoami", auth=(user, password))
    return status == 200 or (status == 401 and b"Not management user" in body)


def observe(suffix: str, logins: dict[str, str], admin: Any, topic: str) -> dict[str, Any]:
    defs = definitions()
    vhosts = sorted(v["name"] for v in defs["vhosts"] if suffix in v["name"])
    tracing = {}
    for vh in vhosts:
        status, body = api("GET", f"vhosts/{quote(vh)}")
        tracing[vh] = json.loads(body).get("tracing") if status == 200 else None

    def tag_list(value: Any) -> list[str]:
        return sorted(value.split(",") if isinstance(value, str) else value or [])

    return {
        "vhosts": [[vh, {"tracing": tracing[vh]}] for vh in vhosts],
        "users": sorted(
            [
                u["name"],
                tag_list(u.get("tags")),
                can_log_in(u["name"], logins[u["name"]]) if u["name"] in logins else None,
            ]
            for u in defs["users"]
            if suffix in u["name"]
        ),
        "permissions": sorted(
            [p["user"], p["vhost"], p["configure"], p["write"], p["read"]]
            for p in defs["permissions"]
            if suffix in p["user"]
        ),
        "topic_permissions": sorted(
            [p["user"], p["vhost"], p["exchange"], p["write"], p["read"]]
            for p in defs.get("topic_permissions", [])
            if suffix in p["user"]
        ),
        "policies": sorted(
            [
                p["vhost"],
                p["name"],
                p["pattern"],
                p["priority"],
                p["apply-to"],
                json.dumps(p["definition"], sort_keys=True),
            ]
            for p in defs["policies"]
            if suffix in p["vhost"]
        ),
        "kafka_topics": sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(topic + ".")),
    }


def transcription(resolved: dict[str, Any], topic: str) -> dict[str, Any]:
    """mq_setup_expected's answer in observe()'s shape (from an empty broker; no tags, no tracing)."""
    exp = mq_setup_expected(resolved, OSA_POLICIES, OSA_POLICIES)
    return {
        "vhosts": [[vh, {"tracing": False}] for vh in sorted(n for n, s in exp["vhosts"].items() if s == "present")],
        "users": sorted([u, [], True] for u in exp["users"]),
        "permissions": sorted([u, vh, ".*", ".*", ".*"] for u, vh in exp["perms"]),
        "topic_permissions": [],
        "policies": sorted(
            [
                vh,
                p["name"],
                p["pattern"],
                p.get("priority", 0),
                p.get("apply_to", "all"),
                json.dumps(p["tags"], sort_keys=True),
            ]
            for (vh, _n), p in exp["policies"].items()
        ),
        "kafka_topics": [],
    }


def cleanup(suffix: str, admin: Any, topic: str) -> None:
    defs = definitions()
    for u in defs["users"]:
        if suffix in u["name"]:
            api("DELETE", f"users/{quote(u['name'])}")
    for v in defs["vhosts"]:
        if suffix in v["name"]:
            api("DELETE", f"vhosts/{quote(v['name'])}")
    doomed = [t for t in admin.list_topics(timeout=10).topics if t.startswith(topic + ".")]
    if doomed:
        for future in admin.delete_topics(doomed, operation_timeout=30).values():
            future.result()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(
            t.startswith(topic + ".") for t in admin.list_topics(timeout=10).topics
        ):
            time.sleep(0.5)


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Per kind, the entries only in a and only in b."""
    out = {}
    for kind, entries in a.items():
        sa = {json.dumps(x) for x in entries}
        sb = {json.dumps(x) for x in b[kind]}
        if sa != sb:
            out[kind] = {"only_first": sorted(sa - sb), "only_second": sorted(sb - sa)}
    return out


def run_playbook(argv: list[str], cwd: Path, env: dict[str, str], secrets: list[str]) -> dict[str, Any]:
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    seconds = time.monotonic() - start
    out = proc.stdout + proc.stderr
    leaked = any(s in out for s in secrets)
    for s in secrets:
        out = out.replace(s, "<secret>")
    m = re.search(r"^localhost\s*:.*\bchanged=(\d+).*\bfailed=(\d+)", proc.stdout, re.M)
    return {
        "rc": proc.returncode,
        "changed": int(m.group(1)) if m else None,
        "seconds": round(seconds, 2),
        "password_in_output": leaked,
        "tail": out[-3000:] if proc.returncode else "",
    }


def render(results: dict[str, Any]) -> str:
    """OUT.md: per case the changed counts, wall times and rabbitmqctl calls of both roles, and the differences."""
    lines = [
        "# openstack.osa.mq_setup (real) side by side with osa.hybrid_msg.mq_setup",
        "",
        f"{results['date']}; openstack-ansible-plugins {results['osa_plugins_commit'] or '(commit not given)'};"
        f" OSA's role under {results['peer_ansible']} with community.rabbitmq 1.6.0 (rabbitmqctl);"
        f" RabbitMQ {results['rabbitmq']}. Written by `bench/mq_setup_side_by_side.py`; raw data in the .json.",
        "",
        "| case | OSA changed (1st, 2nd) | ours changed | OSA wall s | ours wall s | OSA rabbitmqctl calls"
        " | OSA vs ours | OSA vs transcription |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(d: dict[str, Any] | None) -> str:
        if d is None:
            return "n/a (starts non-empty)"
        return "same" if not d else "differs: " + ", ".join(sorted(d))

    for case, entry in results["cases"].items():
        osa, ours = entry["osa"]["runs"], entry["ours"]["runs"]
        lines.append(
            f"| {case} | {', '.join(str(r['changed']) for r in osa)} | {', '.join(str(r['changed']) for r in ours)}"
            f" | {', '.join(str(r['seconds']) for r in osa)} | {', '.join(str(r['seconds']) for r in ours)}"
            f" | {', '.join(str(r.get('rabbitmqctl_calls')) for r in osa)} | {cell(entry['osa_vs_ours'])}"
            f" | {cell(entry.get('osa_vs_transcription'))} |"
        )
    lines += ["", "Load average (1 min) at the start and the end: " + ", ".join(map(str, results.get("loadavg", [])))]
    lines += ["", "Cases:", *(f"- {case}: {CASE_NOTES.get(case, '')}" for case in results["cases"])]
    lines += [
        "",
        "Compared per case: vhosts (with tracing), users (tags, login with the expected password), permissions,"
        " topic permissions, policies (pattern, priority, apply-to, definition) and Kafka topics. Differences"
        " (`only_first` = only after OSA's role, `only_second` = only after ours or the transcription):",
    ]
    for case, entry in results["cases"].items():
        for what in ("osa_vs_ours", "osa_vs_transcription"):
            for kind, d in (entry.get(what) or {}).items():
                why = (
                    REASONS.get((case, kind), "UNEXPLAINED") if what == "osa_vs_ours" else "the transcription is wrong"
                )
                lines.append(
                    f"- {case}, {what}, {kind}: {why}. only_first {d['only_first']}, only_second {d['only_second']}"
                )
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--osa-plugins", required=True, type=Path, help="checkout of openstack-ansible-plugins")
    ap.add_argument("--peer-venv", type=Path, default=REPO_ROOT / ".cache" / "bench" / "peer-venv")
    ap.add_argument("--cases", default=",".join(cases()), help="comma-separated; default all")
    ap.add_argument("--out", default=str(REPO_ROOT / "bench" / "SIDE-BY-SIDE-mq_setup"), help="writes OUT.json")
    ap.add_argument("--osa-commit", default="", help="recorded in the result (git rev of --osa-plugins)")
    ap.add_argument("--render-only", action="store_true", help="only write OUT.md from an existing OUT.json")
    args = ap.parse_args()
    if args.render_only:
        Path(args.out + ".md").write_text(render(json.loads(Path(args.out + ".json").read_text())))
        return 0

    role_dir = args.osa_plugins / "roles" / "mq_setup"
    if not (role_dir / "tasks" / "main.yml").is_file():
        ap.error(f"{role_dir} has no tasks/main.yml")
    peer_playbook = args.peer_venv / "bin" / "ansible-playbook"
    if not peer_playbook.is_file():
        ap.error(f"{peer_playbook} missing: python -m venv DIR && DIR/bin/pip install ansible==12.3.0 requests")
    ours_python = Path(sys.executable)
    profile = RABBITMQ.get("OSA_RABBITMQ_PROFILE", "4.3")
    admin = AdminClient({"bootstrap.servers": ",".join(BOOTSTRAP_SERVERS)})

    tmp = Path(tempfile.mkdtemp(prefix="mq-sbs-"))
    (tmp / "collections" / "ansible_collections" / "openstack").mkdir(parents=True)
    (tmp / "collections" / "ansible_collections" / "openstack" / "osa").symlink_to(args.osa_plugins.resolve())
    (tmp / "bin").mkdir()
    ctl_log = tmp / "rabbitmqctl.log"
    wrapper = tmp / "bin" / "rabbitmqctl"
    wrapper.write_text(
        WRAPPER.format(log=ctl_log, script=REPO_ROOT / "scripts" / "brokers" / "rabbitmq.sh", profile=profile)
    )
    wrapper.chmod(0o755)
    (tmp / "ansible.cfg").write_text("[defaults]\nstdout_callback = default\nretry_files_enabled = false\n")

    dropped = ("PYTHONPATH", "VIRTUAL_ENV")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k not in dropped}
    osa_env = {
        **base_env,
        "PATH": f"{tmp / 'bin'}:{args.peer_venv / 'bin'}:{base_env.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(tmp / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(tmp / "collections"),
        "ANSIBLE_NOCOLOR": "1",
    }
    # Ours as the test runs it: from the checkout, whose ansible.cfg finds osa.hybrid_msg in .collections.
    ours_env = {**base_env, "PATH": f"{ours_python.parent}:{base_env.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1"}

    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "osa_plugins_commit": args.osa_commit,
        "rabbitmq": RABBITMQ.get("OSA_RABBITMQ_VERSION"),
        "peer_ansible": subprocess.run(
            [str(args.peer_venv / "bin" / "ansible"), "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0],
        "cases": {},
        "loadavg": [round(os.getloadavg()[0], 1)],
    }
    try:
        sides = (
            ("osa", "openstack.osa.mq_setup", args.peer_venv / "bin" / "python", tmp, osa_env),
            ("ours", "osa.hybrid_msg.mq_setup", ours_python, REPO_ROOT, ours_env),
        )
        run_cases(args, results, admin, tmp, sides)
    finally:
        shutil.rmtree(tmp)
    results["loadavg"].append(round(os.getloadavg()[0], 1))
    Path(args.out + ".json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    Path(args.out + ".md").write_text(render(results))
    print(f"wrote {args.out}.json and {args.out}.md")
    return 0


def run_cases(args: argparse.Namespace, results: dict, admin: AdminClient, tmp: Path, sides: tuple) -> None:
    ctl_log = tmp / "rabbitmqctl.log"
    all_cases = cases()
    for case in args.cases.split(","):
        spec = all_cases[case]
        suffix = "sbs" + uuid.uuid4().hex[:8]
        name = f"{suffix}_nova"
        password = uuid.uuid4().hex
        topic = f"{suffix}.notif"
        nova = os_nova_vars(name, password, _fill(spec.get("notify", {}), name, password))
        nova.update({f"nova_oslomsg_rpc_{k}": v for k, v in _fill(spec.get("rpc", {}), name, password).items()})
        if "vhost" in spec.get("rpc", {}) and "vhost" not in spec.get("notify", {}):
            nova["nova_oslomsg_notify_vhost"] = nova["nova_oslomsg_rpc_vhost"]
        logins = {nova["nova_oslomsg_rpc_userid"]: password}
        if nova["nova_oslomsg_notify_transport"] == "rabbit":
            logins.setdefault(nova["nova_oslomsg_notify_userid"], nova["nova_oslomsg_notify_password"])
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
        secrets = sorted({password, nova["nova_oslomsg_notify_password"], ADMIN[1]})
        entry: dict[str, Any] = {"objects": name, "inputs": {k: v for k, v in spec.items() if k != "pre"}}
        for side, role, python, cwd, env in sides:
            play = [
                {
                    "name": "os_nova's common-mq step",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": play_vars,
                    "tasks": [
                        {
                            "name": "Including osa.mq_setup role",
                            "ansible.builtin.include_role": {"name": role},
                            "vars": OS_NOVA_INCLUDE_VARS,
                        }
                    ],
                }
            ]
            playbook = tmp / f"{case}-{side}.yml"
            playbook.write_text(json.dumps(play))
            playbook.chmod(0o600)
            argv = [
                str(Path(python).parent / "ansible-playbook"),
                *("-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={python}", str(playbook)),
            ]
            cleanup(suffix, admin, topic)
            if spec.get("pre"):
                pre_state(name, password)
            runs = []
            try:
                for _run in range(2):
                    ctl_log.write_text("")
                    run = run_playbook(argv, cwd, env, secrets)
                    if side == "osa":
                        run["rabbitmqctl_calls"] = len(ctl_log.read_text().split())
                    runs.append(run)
                    print(f"{case} {side}: rc={run['rc']} changed={run['changed']} {run['seconds']}s", flush=True)
                    if run["rc"]:
                        print(run["tail"], file=sys.stderr)
                        break
                entry[side] = {"runs": runs, "state": observe(suffix, logins, admin, topic)}
            finally:
                cleanup(suffix, admin, topic)
                playbook.unlink()
        entry["osa_vs_ours"] = diff(entry["osa"]["state"], entry["ours"]["state"])
        if not spec.get("pre"):
            resolved = {k.removeprefix("nova_oslomsg_"): v for k, v in nova.items()}
            entry["osa_vs_transcription"] = diff(entry["osa"]["state"], transcription(resolved, topic))
        print(f"{case}: osa vs ours {entry['osa_vs_ours'] or 'same'}", flush=True)
        if "osa_vs_transcription" in entry:
            print(f"{case}: osa vs transcription {entry['osa_vs_transcription'] or 'same'}", flush=True)
        results["cases"][case] = entry


if __name__ == "__main__":
    sys.exit(main())
