# Copyright: OpenStack-Ansible contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Documentation of the RabbitMQ management API connection options, shared by modules."""

from __future__ import annotations


class ModuleDocFragment:
    # Modules run on the target and cannot see the controller's environment, so no env/ini sources here.
    DOCUMENTATION = r"""
options:
  rabbitmq:
    description:
      - How to reach the RabbitMQ management HTTP API.
      - Every suboption has a default, so the option can be left out for a loopback broker with
        RabbitMQ's default account.
    type: dict
    suboptions:
      urls:
        description:
          - Management API base URLs, tried in order until one answers.
          - A URL may end in C(/api) or not.
          - Use several URLs for the nodes of a cluster; an endpoint that does not answer is skipped.
          - Failover holds for every request, the read and each write. A request goes first to the endpoint
            that answered last and moves on to the next when a node refuses or drops the connection or answers
            500, 502, 503 or 504, in up to three passes over the list (0.25 s and 0.5 s apart) until the
            run's deadline (O(rabbitmq.timeout)). With several URLs, one attempt waits at most half of the time
            left (at least 1 s), so a node that accepts connections and never answers does not use up the
            whole run. Writes are idempotent, so a write whose answer was lost is sent again; one
            that no endpoint answered is reported with status V(unknown).
          - An empty list (what an inventory group without hosts renders to) is an error naming this option,
            whatever is declared; it never falls back to the default.
        type: list
        elements: str
        default: ['http://127.0.0.1:15672']
      username:
        description:
          - User for the management API; it needs the C(administrator) tag.
          - The default C(guest) account can only log in from loopback on a stock RabbitMQ.
        type: str
        default: guest
        aliases: [login_user]
      password:
        description:
          - Password of O(rabbitmq.username).
          - The default is the password of RabbitMQ's default C(guest) account; set it everywhere else.
        type: str
        default: guest
        aliases: [login_password]
      ca_cert:
        description:
          - PEM file with the CA certificates that sign the management endpoint's certificate, for C(https) URLs,
            and the AMQP endpoints' certificate, for C(amqps) O(rabbitmq.amqp_urls).
          - When unset, the system trust store is used.
        type: path
      client_cert:
        description:
          - PEM client certificate, for endpoints that require TLS client authentication.
          - Requires O(rabbitmq.client_key).
        type: path
      client_key:
        description:
          - PEM private key of O(rabbitmq.client_cert).
        type: path
      validate_certs:
        description:
          - Whether to verify the endpoint's TLS certificate and host name.
          - Only set this to V(false) on a test system.
        type: bool
        default: true
      timeout:
        description:
          - Seconds the whole run may spend on RabbitMQ, counted from the start of the task - one deadline for
            the read, every write, and all their retries, failovers and pauses, not a budget per request. A run
            whose deadline passes ends with an error naming the endpoint that did not answer in time; a write
            already sent is reported with status V(unknown), one not yet sent as failed with "was not sent".
          - Raise it for large converges - creating hundreds of vhosts on a loaded broker takes minutes.
          - The probes of O(verify) run after the writes; each of their hops (and each management call they
            make) waits at most this long.
        type: float
        default: 30
      amqp_urls:
        description:
          - AMQP endpoints for the probes of O(verify=amqp), as C(amqp://HOST:PORT) or C(amqps://HOST:PORT)
            (ports default to 5672 and 5671), tried in order until one accepts the connection.
          - No credentials and no vhost in the URL; the probes log in as each declared user on its vhosts.
          - C(amqps) uses O(rabbitmq.ca_cert) and O(rabbitmq.client_cert)/O(rabbitmq.client_key);
            O(rabbitmq.validate_certs=false) is not supported with C(amqps).
          - Required when O(verify) includes V(amqp) and a present user is declared. An empty list is an error.
        type: list
        elements: str
"""
