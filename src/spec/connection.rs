//! Connection options for the RabbitMQ management API.

use serde::Deserialize;

use crate::error::{Error, Result};

pub const DEFAULT_URL: &str = "http://127.0.0.1:15672";
pub const DEFAULT_TIMEOUT_SECONDS: f64 = 30.0;
/// RabbitMQ's own default account, as community.rabbitmq and the management UI assume.
pub const DEFAULT_USERNAME: &str = "guest";
pub const DEFAULT_PASSWORD: &str = "guest";

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RabbitConnection {
    /// Management endpoints, tried in order until one answers.
    #[serde(default)]
    pub urls: Option<Vec<String>>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub ca_cert: Option<String>,
    #[serde(default)]
    pub client_cert: Option<String>,
    #[serde(default)]
    pub client_key: Option<String>,
    #[serde(default)]
    pub validate_certs: Option<bool>,
    /// Seconds for each request, connect included.
    #[serde(default)]
    pub timeout: Option<f64>,
    /// AMQP endpoints (`amqp://HOST:PORT`, `amqps://HOST:PORT`) for `verify`, tried in order.
    #[serde(default)]
    pub amqp_urls: Option<Vec<String>>,
}

/// One AMQP endpoint of `amqp_urls`, without credentials or vhost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpEndpoint {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for AmqpEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "amqps" } else { "amqp" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// `amqp://HOST[:PORT]` or `amqps://HOST[:PORT]` (ports default to 5672 and 5671); no credentials, no vhost.
fn parse_amqp_url(field: &str, url: &str) -> Result<AmqpEndpoint> {
    let fail = |why: String| {
        Error::spec(
            field,
            format!(
                "'{}' {why}; write it as amqp://HOST:5672 or amqps://HOST:5671",
                super::shown(url)
            ),
        )
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| fail(format!("is not a URL ({e})")))?;
    let tls = match parsed.scheme() {
        "amqp" => false,
        "amqps" => true,
        other => return Err(fail(format!("has scheme '{other}', not amqp or amqps"))),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Never echo the URL: it holds a secret.
        return Err(Error::spec(
            field,
            "credentials do not belong in the URL; verify logs in as each declared user with its declared password",
        ));
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
        return Err(fail(
            "has a path or query; the vhosts come from the declared permissions".into(),
        ));
    }
    let host = match parsed.host_str() {
        Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
        _ => return Err(fail("has no host".into())),
    };
    let port = parsed.port().unwrap_or(if tls { 5671 } else { 5672 });
    Ok(AmqpEndpoint { tls, host, port })
}

// Hand-written so that the password can never reach a log line.
impl std::fmt::Debug for RabbitConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitConnection")
            .field("urls", &self.urls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("ca_cert", &self.ca_cert)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .field("validate_certs", &self.validate_certs)
            .field("timeout", &self.timeout)
            .field("amqp_urls", &self.amqp_urls)
            .finish()
    }
}

impl RabbitConnection {
    /// The management API base URLs, each ending in `/api`.
    pub fn api_urls(&self) -> Vec<String> {
        self.urls().into_iter().map(api_url).collect()
    }

    /// The management endpoints as given, or the default one when the option is unset. An empty list stays
    /// empty (`validate` refuses it): it comes from an inventory group without hosts, never means loopback.
    pub fn urls(&self) -> Vec<&str> {
        match &self.urls {
            Some(urls) => urls.iter().map(String::as_str).collect(),
            None => vec![DEFAULT_URL],
        }
    }

    pub fn username(&self) -> &str {
        self.username.as_deref().unwrap_or(DEFAULT_USERNAME)
    }

    pub fn password(&self) -> &str {
        self.password.as_deref().unwrap_or(DEFAULT_PASSWORD)
    }

    /// Whether the server's certificate is checked; on unless turned off.
    pub fn validate_certs(&self) -> bool {
        self.validate_certs.unwrap_or(true)
    }

    pub fn timeout_seconds(&self) -> f64 {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT_SECONDS)
    }

    /// The AMQP endpoints of `amqp_urls`, in order; empty when unset.
    pub fn amqp_endpoints(&self) -> Result<Vec<AmqpEndpoint>> {
        self.amqp_urls
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, url)| parse_amqp_url(&format!("rabbitmq.amqp_urls[{i}]"), url))
            .collect()
    }

    pub fn validate(&self, path: &str) -> Result<()> {
        check_not_empty(
            &format!("{path}.urls"),
            self.urls.as_deref(),
            "at least one management URL, e.g. ['https://rabbit1.example.com:15671']",
        )?;
        check_not_empty(
            &format!("{path}.amqp_urls"),
            self.amqp_urls.as_deref(),
            "at least one AMQP endpoint, e.g. ['amqps://rabbit1.example.com:5671'], or leave the option out",
        )?;
        self.amqp_endpoints()?;
        if let Some(urls) = &self.urls {
            for (i, url) in urls.iter().enumerate() {
                let field = format!("{path}.urls[{i}]");
                let parsed = reqwest::Url::parse(url).map_err(|e| {
                    Error::spec(
                        &field,
                        format!(
                            "'{}' is not a URL ({e}); write it as http://HOST:15672 or https://HOST:15671",
                            super::shown(url)
                        ),
                    )
                })?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(Error::spec(
                        &field,
                        format!(
                            "scheme '{}' is not supported; use http:// or https://",
                            super::shown(parsed.scheme())
                        ),
                    ));
                }
                if !parsed.username().is_empty() || parsed.password().is_some() {
                    return Err(Error::spec(
                        &field,
                        "credentials do not belong in the URL; use rabbitmq.username and rabbitmq.password",
                    ));
                }
            }
        }
        if let Some(t) = self.timeout
            && !(t.is_finite() && t > 0.0 && t <= 3600.0)
        {
            return Err(Error::spec(
                format!("{path}.timeout"),
                format!(
                    "{} is not a timeout in seconds; use a number between 0 and 3600",
                    show_seconds(t)
                ),
            ));
        }
        if let Some(user) = &self.username
            && user.is_empty()
        {
            return Err(Error::spec(format!("{path}.username"), "must not be empty"));
        }
        if let Some(user) = &self.username {
            super::rabbit::check_no_control(&format!("{path}.username"), user, "the user name")?;
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err(Error::spec(
                format!("{path}.client_cert"),
                "client_cert and client_key go together; give both or neither",
            ));
        }
        Ok(())
    }
}

/// An empty connection list is what an inventory group without hosts renders to; it is an error naming the
/// option, never a fall-back to a loopback broker.
pub(super) fn check_not_empty(path: &str, list: Option<&[String]>, give: &str) -> Result<()> {
    if list.is_some_and(<[String]>::is_empty) {
        return Err(Error::spec(
            path,
            format!(
                "is an empty list; give {give} (when the list is built from an inventory group, that group has no \
                 hosts)"
            ),
        ));
    }
    Ok(())
}

/// A timeout for a message: as written when it is an ordinary number, in exponent form when huge or tiny.
pub(super) fn show_seconds(t: f64) -> String {
    if t == 0.0 || (1e-3..1e6).contains(&t.abs()) {
        t.to_string()
    } else {
        format!("{t:e}")
    }
}

fn api_url(url: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    if trimmed.ends_with("/api") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/api")
    }
}
