# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Documentation of the Kafka admin connection options, shared by modules."""

from __future__ import annotations


class ModuleDocFragment:
    # Modules run on the target and cannot see the controller's environment, so no env/ini sources here.
    DOCUMENTATION = r"""
options:
  kafka:
    description:
      - How to reach the Kafka brokers for the admin requests (librdkafka).
      - Only used when O(topics) or O(notifications) is set.
    type: dict
    suboptions:
      bootstrap_servers:
        description:
          - Brokers to bootstrap from, as C(HOST:PORT); IPv6 hosts in brackets, e.g. C([fd00::5]:9092).
          - An empty list (an inventory group without hosts) is an error naming this option, whatever is
            declared; it never falls back to the default.
        type: list
        elements: str
        default: ['127.0.0.1:9092']
      security_protocol:
        description:
          - How to talk to the brokers.
        type: str
        choices: [PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL]
        default: PLAINTEXT
      sasl_mechanism:
        description:
          - SASL mechanism, with O(kafka.security_protocol=SASL_PLAINTEXT) or O(kafka.security_protocol=SASL_SSL).
        type: str
        choices: [PLAIN, SCRAM-SHA-256, SCRAM-SHA-512]
      sasl_username:
        description:
          - SASL user.
        type: str
      sasl_password:
        description:
          - Password of O(kafka.sasl_username).
        type: str
      ssl_cafile:
        description:
          - PEM file with the CA certificates that sign the brokers' certificates.
          - Without it, the system's CA bundle is used, found at the usual paths (librdkafka's C(probe)).
        type: path
      ssl_certfile:
        description:
          - PEM client certificate, for brokers that require TLS client authentication.
          - Requires O(kafka.ssl_keyfile).
        type: path
      ssl_keyfile:
        description:
          - PEM private key of O(kafka.ssl_certfile).
        type: path
      timeout:
        description:
          - Seconds the whole run may spend on Kafka, counted from the start of the task - one deadline for
            the reads, every admin request (topics, configs, SCRAM credentials, ACLs), their retries and
            the waits until the cluster shows a change, not a budget per request. A run whose deadline passes
            ends with an error naming the bootstrap servers; a write already sent whose outcome could not be
            looked up is reported with status V(unknown).
          - The probes of O(verify) run after the writes; each of their hops waits at most this long.
        type: float
        default: 30
"""
