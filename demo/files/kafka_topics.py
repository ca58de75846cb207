"""Print the Kafka topics whose names start with PREFIX as JSON {name: partitions}: the demo's independent read.

kafka_topics.py BOOTSTRAP PREFIX
"""

import json
import sys

from confluent_kafka.admin import AdminClient


def main():
    bootstrap, prefix = sys.argv[1], sys.argv[2]
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=15)
    topics = {n: len(t.partitions) for n, t in md.topics.items() if n.startswith(prefix) and t.error is None}
    json.dump(dict(sorted(topics.items())), sys.stdout)


if __name__ == "__main__":
    main()
