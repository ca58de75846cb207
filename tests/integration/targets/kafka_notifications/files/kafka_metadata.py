"""Print the broker's topics whose names start with a prefix, as JSON: {name: {partitions, config}}.

An independent read for molecule's verify steps: confluent-kafka's AdminClient, not the module.
    kafka_metadata.py BOOTSTRAP PREFIX
"""

import json
import sys

from confluent_kafka.admin import AdminClient, ConfigResource


def main():
    bootstrap, prefix = sys.argv[1], sys.argv[2]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(timeout=15)
    names = sorted(n for n, t in md.topics.items() if n.startswith(prefix) and t.error is None)
    out = {n: {"partitions": len(md.topics[n].partitions), "config": {}} for n in names}
    if names:
        futures = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, n) for n in names])
        for resource, future in futures.items():
            out[resource.name]["config"] = {k: e.value for k, e in future.result(timeout=15).items()}
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
