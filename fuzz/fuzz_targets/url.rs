//! The transport URL builder (src/oslomsg/url.rs). A URL it builds must parse back, the way oslo.messaging
//! splits it, into exactly the user, password, hosts and vhost it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osa_hybrid_msg::oslomsg::{RabbitUrl, kafka_url, rabbit_url, split_servers};
use percent_encoding::percent_decode_str;

fn decode(s: &str) -> String {
    percent_decode_str(s)
        .decode_utf8()
        .expect("the builder encodes UTF-8")
        .into_owned()
}

/// `(user, password, host:port)` of each comma-separated netloc of `scheme://…/rest`, and the rest.
fn netlocs<'a>(url: &'a str, scheme: &str) -> (Vec<(Option<(String, String)>, &'a str)>, &'a str) {
    let body = url.strip_prefix(scheme).expect("the scheme comes first");
    let (netloc, rest) = body.split_once('/').expect("a path follows the hosts");
    let hosts = netloc
        .split(',')
        .map(|n| match n.rsplit_once('@') {
            Some((creds, host)) => {
                let (u, p) = creds.split_once(':').expect("user:password");
                (Some((decode(u), decode(p))), host)
            }
            None => (None, n),
        })
        .collect();
    (hosts, rest)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // user \n password \n servers \n vhost \n flags (ssl when the first byte is odd)
    let mut f = text.splitn(5, '\n');
    let (user, password, servers, vhost) = (
        f.next().unwrap_or(""),
        f.next().unwrap_or(""),
        f.next().unwrap_or(""),
        f.next().unwrap_or(""),
    );
    let use_ssl = f.next().and_then(|s| s.bytes().next()).is_some_and(|b| b % 2 == 1);
    let servers = split_servers(servers);
    let port = 5671;
    let built = rabbit_url(&RabbitUrl {
        userid: user,
        password,
        servers: &servers,
        port,
        vhost,
        use_ssl,
        ssl_version: "TLSv1_2",
        ssl_ca_file: "/etc/ssl/ca.pem",
        var_prefix: "fuzz_oslomsg_rpc",
    });
    if let Ok(url) = built {
        let (hosts, rest) = netlocs(&url, "rabbit://");
        assert_eq!(hosts.len(), servers.len(), "{url}");
        for (creds, host) in &hosts {
            assert_eq!(
                creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
                Some((user, password)),
                "{url}"
            );
            assert!(host.ends_with(&format!(":{port}")), "{url}");
        }
        let (path, query) = rest.split_once('?').expect("ssl= is always set");
        assert_eq!(decode(path), vhost, "{url}");
        assert!(query.starts_with(if use_ssl { "ssl=1" } else { "ssl=0" }), "{url}");
        if !password.is_empty()
            && password
                .chars()
                .any(|c| !c.is_ascii_alphanumeric() && !"-._~".contains(c))
        {
            assert!(!url.contains(&format!(":{password}@")), "the raw password is in {url}");
        }
    }
    let creds = (!user.is_empty()).then_some((user, password));
    if let Ok(url) = kafka_url(creds, &servers, 9092, "fuzz_oslomsg_notify") {
        let (hosts, rest) = netlocs(&url, "kafka://");
        assert_eq!(hosts.len(), servers.len(), "{url}");
        assert_eq!(rest, "", "a Kafka URL has no vhost and no query: {url}");
        for (got, _) in &hosts {
            assert_eq!(got.as_ref().map(|(u, p)| (u.as_str(), p.as_str())), creds, "{url}");
        }
    }
});
