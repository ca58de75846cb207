"""Parse the transport URLs of rendered service config files with oslo.messaging itself; print JSON.

An independent check for molecule's controller scenario: oslo.config reads the file as a service would,
oslo.messaging's TransportURL.parse decodes each URL. Prints {file: {rpc: {...}, notify: {...}, sections}}.
    parse_conf.py FILE...
"""

import json
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import oslo_messaging
    from oslo_config import cfg
    from oslo_messaging import opts


def url(conf, value):
    parsed = oslo_messaging.TransportURL.parse(conf, value)
    return {
        "transport": parsed.transport,
        "virtual_host": parsed.virtual_host,
        "query": parsed.query,
        "hosts": [
            {"hostname": h.hostname, "port": h.port, "username": h.username, "password": h.password}
            for h in parsed.hosts
        ],
    }


def main():
    out = {}
    for path in sys.argv[1:]:
        conf = cfg.ConfigOpts()
        # oslo.messaging's own options (transport_url in [DEFAULT] and [oslo_messaging_notifications], ...).
        for group, options in opts.list_opts():
            conf.register_opts(options, group=group)
        conf(["--config-file", path], project="parse_conf")
        out[path] = {
            "rpc": url(conf, conf.transport_url),
            "notify": url(conf, conf.oslo_messaging_notifications.transport_url),
        }
    json.dump(out, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
