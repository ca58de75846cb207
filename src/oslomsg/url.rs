//! The transport URLs oslo.messaging parses, built the way OSA's templates render them. What a URL
//! cannot carry is refused by the checks in `spec::names`, which the `services:` shorthand shares.

use std::net::Ipv6Addr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::global::KafkaSettings;
use super::service::ServiceBus;
use super::vars::var_path;
use crate::error::{Error, Result};
use crate::spec::{Transport, check_rabbit_credential, check_vhost_name, parse_vhost_list};

/// Python's `quote(s, safe='')`: everything but letters, digits and `-._~` is percent-encoded.
const QUOTE_ALL: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// Python's `quote(s)` (`safe='/'`), for the vhost path and file paths in the query.
const QUOTE_PATH: &AsciiSet = &QUOTE_ALL.remove(b'/');

/// The URL oslo.messaging parses for one bus; `None` for transport `none`, which is no working URL.
pub(super) fn transport_url(b: &ServiceBus, var_prefix: &str, kafka: Option<&KafkaSettings>) -> Result<Option<String>> {
    let servers = split_servers(&b.servers);
    let hosts_path = var_path(&format!("{var_prefix}_servers"));
    match b.transport {
        Transport::None => Ok(None),
        Transport::Rabbit => {
            if servers.is_empty() {
                return Err(Error::spec(
                    hosts_path,
                    "lists no server, so no transport URL can be built; put hosts in the RabbitMQ host group, \
                     or set the transport to none",
                ));
            }
            let password = b.password.as_deref().ok_or_else(|| {
                Error::spec(
                    var_path(&format!("{var_prefix}_password")),
                    "is not set; the transport URL needs it (OSA keeps it in user_secrets.yml)",
                )
            })?;
            let vhost = rendered_vhost(&var_path(&format!("{var_prefix}_vhost")), &b.vhost)?;
            let url = rabbit_url(&RabbitUrl {
                userid: &b.userid,
                password,
                servers: &servers,
                port: b.port,
                vhost: &vhost,
                use_ssl: b.use_ssl,
                ssl_version: &b.ssl_version,
                ssl_ca_file: &b.ssl_ca_file,
                var_prefix,
            })?;
            Ok(Some(url))
        }
        Transport::Kafka => {
            if servers.is_empty() {
                return Err(Error::spec(
                    hosts_path,
                    "lists no server, so no transport URL can be built; put hosts in the Kafka host group \
                     (option kafka_host_group), or set the transport to none",
                ));
            }
            let sasl = kafka.is_some_and(|k| k.security_protocol.uses_sasl());
            let credentials = if sasl {
                let password = b.password.as_deref().ok_or_else(|| {
                    Error::spec(
                        var_path(&format!("{var_prefix}_password")),
                        "is not set; SASL needs it in the transport URL",
                    )
                })?;
                Some((b.userid.as_str(), password))
            } else {
                None
            };
            Ok(Some(kafka_url(credentials, &servers, b.port, var_prefix)?))
        }
    }
}

/// The vhost a service uses: the first entry with `state: present` (OSA's rendering rule).
pub fn rendered_vhost(path: &str, v: &Value) -> Result<String> {
    parse_vhost_list(path, v)?
        .into_iter()
        .find_map(|(name, present)| present.then_some(name))
        .ok_or_else(|| Error::spec(path, "no entry has state present, so there is no vhost to connect to"))
}

/// `servers` as OSA writes them: comma-separated hosts without ports.
pub fn split_servers(servers: &str) -> Vec<String> {
    servers
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A host as it goes into a URL: IPv6 in brackets. The port is never part of `server`.
pub fn url_host(path: &str, server: &str) -> Result<String> {
    let bad = |why: &str| Error::spec(path, format!("'{}' {why}", crate::spec::shown(server)));
    if let Some(inner) = server.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| bad("is not a bracketed IPv6 address"))?;
        return Ok(server.to_owned());
    }
    if server.contains(':') {
        if server.parse::<Ipv6Addr>().is_ok() {
            return Ok(format!("[{server}]"));
        }
        return Err(bad(
            "is not a host: give hosts without ports; the port comes from the matching _port variable",
        ));
    }
    if let Some(c) = server.chars().find(|c| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '/' | '\\' | '@' | '?' | '#' | '[' | ']' | '%' | '$' | '"' | '<' | '>' | '`' | '{' | '}' | '|' | '^'
            )
    }) {
        return Err(bad(&format!("contains '{}', which no host name has", c.escape_debug())));
    }
    Ok(server.to_owned())
}

/// A URL without a host would be `kafka:///` or `rabbit:///`, which the driver reads as localhost.
fn no_servers(path: &str) -> Error {
    Error::spec(
        path,
        "lists no server, so no transport URL can be built; put hosts in the host group, or set the transport to none",
    )
}

pub struct RabbitUrl<'a> {
    pub userid: &'a str,
    pub password: &'a str,
    pub servers: &'a [String],
    pub port: i64,
    pub vhost: &'a str,
    pub use_ssl: bool,
    pub ssl_version: &'a str,
    pub ssl_ca_file: &'a str,
    /// `<svc>_oslomsg_rpc` or `…_notify`, for error paths.
    pub var_prefix: &'a str,
}

/// `rabbit://user:pass@host:port,…/vhost?ssl=…`: credentials on every host, `//x` for a vhost `/x`,
/// TLS as `ssl=1` with the version and CA file, `ssl=0` without (as OSA renders it).
pub fn rabbit_url(u: &RabbitUrl<'_>) -> Result<String> {
    let vp = |suffix: &str| var_path(&format!("{}_{suffix}", u.var_prefix));
    if u.servers.is_empty() {
        return Err(no_servers(&vp("servers")));
    }
    if u.userid.is_empty() {
        return Err(Error::spec(vp("userid"), "is empty"));
    }
    check_rabbit_credential(&vp("userid"), "user name", u.userid)?;
    check_rabbit_credential(&vp("password"), "password", u.password)?;
    check_vhost_name(&vp("vhost"), u.vhost)?;
    let credentials = format!(
        "{}:{}@",
        utf8_percent_encode(u.userid, QUOTE_ALL),
        utf8_percent_encode(u.password, QUOTE_ALL)
    );
    let hosts = u
        .servers
        .iter()
        .map(|s| Ok(format!("{credentials}{}:{}", url_host(&vp("servers"), s)?, u.port)))
        .collect::<Result<Vec<_>>>()?;
    let mut url = format!(
        "rabbit://{}/{}",
        hosts.join(","),
        utf8_percent_encode(u.vhost, QUOTE_PATH)
    );
    if u.use_ssl {
        url.push_str("?ssl=1");
        for (key, value) in [("ssl_version", u.ssl_version), ("ssl_ca_file", u.ssl_ca_file)] {
            if !value.is_empty() {
                url.push('&');
                url.push_str(key);
                url.push('=');
                url.extend(utf8_percent_encode(value, QUOTE_PATH));
            }
        }
    } else {
        url.push_str("?ssl=0");
    }
    Ok(url)
}

/// `kafka://host:port,…/`: no vhost (the producer would append it to the topic and listeners never do),
/// no query (the driver looks every key up in `[oslo_messaging_kafka]`, and `ssl` is not there).
/// Credentials only with SASL, on every host; the driver reads the first host's.
pub fn kafka_url(credentials: Option<(&str, &str)>, servers: &[String], port: i64, var_prefix: &str) -> Result<String> {
    if servers.is_empty() {
        return Err(no_servers(&var_path(&format!("{var_prefix}_servers"))));
    }
    let prefix = match credentials {
        Some((user, password)) => {
            if user.is_empty() {
                return Err(Error::spec(var_path(&format!("{var_prefix}_userid")), "is empty"));
            }
            format!(
                "{}:{}@",
                utf8_percent_encode(user, QUOTE_ALL),
                utf8_percent_encode(password, QUOTE_ALL)
            )
        }
        None => String::new(),
    };
    let path = var_path(&format!("{var_prefix}_servers"));
    let hosts = servers
        .iter()
        .map(|s| Ok(format!("{prefix}{}:{port}", url_host(&path, s)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(format!("kafka://{}/", hosts.join(",")))
}
