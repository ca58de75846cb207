//! The RabbitMQ management HTTP API backend, on `rabbitmq_http_client` over one pooled reqwest client.
//!
//! Two writes go straight through the same reqwest client: `PUT /api/vhosts/{v}` (the body must
//! carry both `default_queue_type` and 3.10's `defaultqueuetype`, and resend metadata, since a PUT
//! replaces it) and `PUT /api/users/{u}` (the body must carry `hashing_algorithm`, which
//! `rabbitmq_http_client` 0.93's `UserParams` lacks). Every call needs the `administrator` tag.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rabbitmq_http_client::api::{Client, ClientBuilder, HttpClientError};
use rabbitmq_http_client::commons::PolicyTarget;
use rabbitmq_http_client::error::Error as ClientError;
use rabbitmq_http_client::requests::{Permissions, PolicyParams, TopicPermissions};
use serde_json::{Value, json};

use crate::error::{Broker, Error, Result};
use crate::observed::RabbitSnapshot;
use crate::plan::{Op, PasswordWrite, Secret};
use crate::spec::{ApplyTo, HashingAlgorithm, RabbitConnection};

// The 4.x endpoints (deletion protection, deprecated features), a child so that it can use `raw`.
#[path = "rabbit_http_v4.rs"]
mod v4;

pub struct HttpRabbit {
    http: reqwest::Client,
    api: Client<String, String, String>,
    endpoint: String,
    username: String,
    password: Secret,
    timeout: Duration,
    reads: AtomicUsize,
    writes: AtomicUsize,
}

/// Builds the one HTTP client of a run: TLS settings, timeouts, keep-alive pool.
fn http_client(conn: &RabbitConnection, timeout: Duration) -> Result<reqwest::Client> {
    let read = |path: &str, field: &str| {
        std::fs::read(path).map_err(|e| {
            Error::config(
                format!("rabbitmq.{field}: cannot read '{path}' ({e}); give a readable PEM file"),
                e,
            )
        })
    };
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(crate::apply::WRITE_CONCURRENCY)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(ca) = &conn.ca_cert {
        let certs = reqwest::Certificate::from_pem_bundle(&read(ca, "ca_cert")?)
            .map_err(|e| Error::config(format!("rabbitmq.ca_cert: '{ca}' holds no PEM certificate ({e})"), e))?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let (Some(cert), Some(key)) = (&conn.client_cert, &conn.client_key) {
        let mut pem = read(cert, "client_cert")?;
        pem.push(b'\n');
        pem.extend(read(key, "client_key")?);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
            Error::config(
                format!("rabbitmq.client_cert/client_key: not a PEM certificate and private key ({e})"),
                e,
            )
        })?;
        builder = builder.identity(identity);
    }
    if !conn.validate_certs() {
        builder = builder.danger_accept_invalid_certs(true);
    }
    // Plain-HTTP endpoints need no trust store: loading the system's cost ~4 ms of a 13 ms no-op,
    // and failed outright on a host without CA certificates.
    if !conn
        .api_urls()
        .iter()
        .any(|u| u.to_ascii_lowercase().starts_with("https:"))
    {
        builder = builder.tls_certs_only([]);
    }
    builder
        .build()
        .map_err(|e| Error::config(format!("cannot build the HTTP client: {}", chain(&e)), e))
}

/// An error with its causes, e.g. "error sending request: client error (Connect): Connection refused".
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn enc(segment: &str) -> String {
    utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string()
}

fn policy_target(apply_to: ApplyTo) -> PolicyTarget {
    match apply_to {
        ApplyTo::All => PolicyTarget::All,
        ApplyTo::Queues => PolicyTarget::Queues,
        ApplyTo::Exchanges => PolicyTarget::Exchanges,
        ApplyTo::ClassicQueues => PolicyTarget::ClassicQueues,
        ApplyTo::QuorumQueues => PolicyTarget::QuorumQueues,
        ApplyTo::Streams => PolicyTarget::Streams,
    }
}

/// The broker's `reason` (else `error`, else the raw body) from an error response.
fn reason_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("reason")
                .or_else(|| v.get("error"))
                .and_then(Value::as_str)
                .map(clean_reason)
        })
        .unwrap_or_else(|| clean_reason(&body.chars().take(300).collect::<String>()))
}

/// The management API HTML-escapes reasons and spreads them over lines; an Ansible `msg` wants one line.
fn clean_reason(reason: &str) -> String {
    let text = reason
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl HttpRabbit {
    /// Tries each endpoint in order until one answers, reading the snapshot from it. Unreachable
    /// and timed-out endpoints are skipped; any other error (a refused login) stops at once.
    pub async fn connect(conn: &RabbitConnection, with_vhost_metadata: bool) -> Result<(Self, RabbitSnapshot)> {
        let timeout = Duration::from_secs_f64(conn.timeout_seconds());
        let http = http_client(conn, timeout)?;
        let mut attempts = Vec::new();
        for endpoint in conn.api_urls() {
            let api = ClientBuilder::new()
                .with_endpoint(endpoint.clone())
                .with_basic_auth_credentials(conn.username().to_owned(), conn.password().to_owned())
                .with_client(http.clone())
                .build()
                .map_err(|e| Error::config(format!("rabbitmq.urls: '{endpoint}': {e}"), e))?;
            let backend = HttpRabbit {
                http: http.clone(),
                api,
                endpoint: endpoint.clone(),
                username: conn.username().to_owned(),
                password: Secret::new(conn.password()),
                timeout,
                reads: AtomicUsize::new(0),
                writes: AtomicUsize::new(0),
            };
            match super::RabbitAdmin::snapshot(&backend, with_vhost_metadata).await {
                Ok(snapshot) => return Ok((backend, snapshot)),
                Err(Error::Unreachable { attempts: a, .. }) => attempts.extend(a),
                Err(Error::Timeout {
                    action,
                    endpoint,
                    seconds,
                }) => {
                    attempts.push(format!("{endpoint}: {action} timed out after {seconds}s"));
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Unreachable {
            broker: Broker::RabbitMq,
            attempts,
        })
    }

    fn map_client_error(&self, e: HttpClientError, action: &str) -> Error {
        match e {
            ClientError::ClientErrorResponse {
                status_code,
                body,
                error_details,
                ..
            }
            | ClientError::ServerErrorResponse {
                status_code,
                body,
                error_details,
                ..
            } => {
                let reason = error_details
                    .as_ref()
                    .and_then(|d| d.reason().map(clean_reason))
                    .or_else(|| body.as_deref().map(reason_of))
                    .unwrap_or_else(|| status_code.to_string());
                self.status_error(status_code.as_u16(), reason, action)
            }
            ClientError::NotFound => self.status_error(404, "not found".into(), action),
            ClientError::RequestError { error, .. } => self.transport_error(&error, action),
            other => Error::Api {
                broker: Broker::RabbitMq,
                action: action.to_owned(),
                status: 0,
                reason: other.to_string(),
            },
        }
    }

    fn status_error(&self, status: u16, reason: String, action: &str) -> Error {
        match status {
            401 => Error::Authentication {
                endpoint: self.endpoint.clone(),
                action: action.to_owned(),
                status,
                reason,
                hint: "check rabbitmq.username and rabbitmq.password",
            },
            403 => Error::Authentication {
                endpoint: self.endpoint.clone(),
                action: action.to_owned(),
                status,
                reason,
                hint: "the management user needs the 'administrator' tag",
            },
            _ => Error::Api {
                broker: Broker::RabbitMq,
                action: action.to_owned(),
                status,
                reason,
            },
        }
    }

    fn transport_error(&self, error: &reqwest::Error, action: &str) -> Error {
        if error.is_timeout() {
            Error::Timeout {
                action: action.to_owned(),
                endpoint: self.endpoint.clone(),
                seconds: self.timeout.as_secs_f64(),
            }
        } else if error.is_connect() {
            Error::Unreachable {
                broker: Broker::RabbitMq,
                attempts: vec![format!("{}: {}", self.endpoint, chain(error))],
            }
        } else {
            Error::Api {
                broker: Broker::RabbitMq,
                action: action.to_owned(),
                status: 0,
                reason: chain(error),
            }
        }
    }

    /// Bounds an await by the request timeout (plus slack), whatever the client does.
    async fn bounded<T>(&self, action: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout + Duration::from_secs(1), fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                action: action.to_owned(),
                endpoint: self.endpoint.clone(),
                seconds: self.timeout.as_secs_f64(),
            }),
        }
    }

    async fn call<T>(&self, action: &str, fut: impl Future<Output = Result<T, HttpClientError>>) -> Result<T> {
        self.bounded(action, async {
            fut.await.map_err(|e| self.map_client_error(e, action))
        })
        .await
    }

    /// A request through the shared reqwest client, for the calls `rabbitmq_http_client` cannot express.
    async fn raw(&self, method: reqwest::Method, path: &str, body: Option<Value>, action: &str) -> Result<String> {
        let url = format!("{}/{path}", self.endpoint);
        let mut req = self
            .http
            .request(method, url)
            .basic_auth(&self.username, Some(self.password.expose()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.bounded(action, async {
            let resp = req.send().await.map_err(|e| self.transport_error(&e, action))?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| self.transport_error(&e, action))?;
            if status.is_success() {
                Ok(text)
            } else {
                Err(self.status_error(status.as_u16(), reason_of(&text), action))
            }
        })
        .await
    }

    /// `PUT /api/users/{name}`. Mutates; needs `administrator`.
    async fn put_user(&self, name: &str, password: &PasswordWrite, tags: &[String]) -> Result<()> {
        let (hash, algorithm) = match password {
            PasswordWrite::Keep { hash, algorithm } => (hash.expose().to_owned(), algorithm.clone()),
            PasswordWrite::Plain { password, algorithm } => (
                crate::password::hash(password.expose(), *algorithm),
                Some(algorithm.as_str().to_owned()),
            ),
            PasswordWrite::Hash { hash, algorithm } => (hash.expose().to_owned(), Some(algorithm.as_str().to_owned())),
            PasswordWrite::Disabled => (String::new(), Some(HashingAlgorithm::Sha256.as_str().to_owned())),
        };
        let mut body = json!({"password_hash": hash, "tags": tags.join(",")});
        if let Some(a) = algorithm {
            body["hashing_algorithm"] = Value::from(a);
        }
        self.raw(
            reqwest::Method::PUT,
            &format!("users/{}", enc(name)),
            Some(body),
            &format!("PUT user '{name}'"),
        )
        .await
        .map(drop)
    }

    /// `PUT /api/vhosts/{name}`. Mutates; needs `administrator`.
    async fn put_vhost(&self, name: &str, description: &str, tags: &[String], dqt: Option<&str>) -> Result<()> {
        let mut body = json!({"description": description, "tags": tags.join(",")});
        if let Some(q) = dqt {
            body["default_queue_type"] = Value::from(q);
            // RabbitMQ 3.10 reads this spelling; later versions ignore it.
            body["defaultqueuetype"] = Value::from(q);
        }
        self.raw(
            reqwest::Method::PUT,
            &format!("vhosts/{}", enc(name)),
            Some(body),
            &format!("PUT vhost '{name}'"),
        )
        .await
        .map(drop)
    }
}

impl super::RabbitAdmin for HttpRabbit {
    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::Relaxed)
    }

    fn writes(&self) -> usize {
        self.writes.load(Ordering::Relaxed)
    }

    /// The type of a queue and the policy the broker applied to it, with that policy's definition.
    /// `GET /api/queues/{vhost}?disable_stats=true&name=...` (one page, filtered by name), then
    /// `GET /api/policies/{vhost}/{policy}`. Reads only; needs `administrator` (or `policymaker` with
    /// access to the vhost); for `verify`, not counted in `reads`.
    ///
    /// `GET /api/queues/{vhost}/{name}` would be one request, but it shows `policy` and
    /// `effective_policy_definition` only once the queue's first statistics arrive (5–10 s on 3.10);
    /// the statistics-free listing has `policy` at once. Operator policies are not reported.
    async fn queue_policy(&self, vhost: &str, name: &str) -> Result<(Option<String>, Option<String>, Value)> {
        let action = format!("GET queue '{name}' on vhost '{vhost}'");
        let not_json = |e: serde_json::Error| Error::Api {
            broker: Broker::RabbitMq,
            action: action.clone(),
            status: 0,
            reason: format!("the answer is not JSON ({e})"),
        };
        let text = self
            .raw(
                reqwest::Method::GET,
                &format!(
                    "queues/{}?disable_stats=true&page=1&page_size=100&use_regex=false&name={}",
                    enc(vhost),
                    enc(name)
                ),
                None,
                &action,
            )
            .await?;
        let page: Value = serde_json::from_str(&text).map_err(not_json)?;
        let queue = page["items"]
            .as_array()
            .and_then(|items| items.iter().find(|q| q["name"] == name))
            .ok_or_else(|| Error::Api {
                broker: Broker::RabbitMq,
                action: action.clone(),
                status: 404,
                reason: "the broker does not list the queue".into(),
            })?;
        let queue_type = queue["type"].as_str().map(str::to_owned);
        let Some(policy) = queue["policy"].as_str().filter(|p| !p.is_empty()).map(str::to_owned) else {
            return Ok((queue_type, None, Value::Null));
        };
        let text = self
            .raw(
                reqwest::Method::GET,
                &format!("policies/{}/{}", enc(vhost), enc(&policy)),
                None,
                &format!("GET policy '{policy}' on vhost '{vhost}'"),
            )
            .await?;
        let definition = serde_json::from_str::<Value>(&text).map_err(not_json)?["definition"].take();
        Ok((queue_type, Some(policy), definition))
    }

    /// `DELETE /api/queues/{vhost}/{name}`; a queue already gone is success. Mutates; for `verify`'s
    /// cleanup when the probing user's own delete failed. Needs `administrator`.
    async fn delete_queue(&self, vhost: &str, name: &str) -> Result<()> {
        match self
            .raw(
                reqwest::Method::DELETE,
                &format!("queues/{}/{}", enc(vhost), enc(name)),
                None,
                &format!("DELETE queue '{name}' on vhost '{vhost}'"),
            )
            .await
        {
            Ok(_) | Err(Error::Api { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/definitions` (and `GET /api/vhosts` for metadata), concurrently. Reads only; needs `administrator`.
    async fn snapshot(&self, with_vhost_metadata: bool) -> Result<RabbitSnapshot> {
        let defs = self.call(
            "GET /api/definitions",
            self.api.export_cluster_wide_definitions_as_string(),
        );
        self.reads.fetch_add(1, Ordering::Relaxed);
        if with_vhost_metadata {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let vhosts = self.raw(
                reqwest::Method::GET,
                "vhosts?disable_stats=true&columns=name,description,tags,default_queue_type,metadata",
                None,
                "GET /api/vhosts",
            );
            let (defs, vhosts) = tokio::try_join!(defs, vhosts)?;
            RabbitSnapshot::from_responses(&defs, Some(&vhosts))
        } else {
            RabbitSnapshot::from_responses(&defs.await?, None)
        }
    }

    async fn deprecated_features_used(&self) -> Result<Option<Vec<crate::observed::DeprecatedFeature>>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.deprecated_features_in_use().await
    }

    async fn execute(&self, op: &Op) -> Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        match op {
            Op::PutVhost {
                name,
                description,
                tags,
                default_queue_type,
            } => {
                self.put_vhost(name, description, tags, default_queue_type.as_deref())
                    .await
            }
            Op::DeleteVhost { name } => {
                self.call(&format!("DELETE vhost '{name}'"), self.api.delete_vhost(name, true))
                    .await
            }
            Op::SetVhostProtection { name, protected } => self.set_vhost_protection(name, *protected).await,
            Op::PutUser { name, password, tags } => self.put_user(name, password, tags).await,
            Op::DeleteUser { name } => {
                self.call(&format!("DELETE user '{name}'"), self.api.delete_user(name, true))
                    .await
            }
            Op::PutPermission {
                user,
                vhost,
                configure,
                write,
                read,
            } => {
                let params = Permissions {
                    user,
                    vhost,
                    configure,
                    read,
                    write,
                };
                self.call(
                    &format!("PUT permissions of '{user}' on vhost '{vhost}'"),
                    self.api.declare_permissions(&params),
                )
                .await
            }
            Op::DeletePermission { user, vhost } => {
                self.call(
                    &format!("DELETE permissions of '{user}' on vhost '{vhost}'"),
                    self.api.clear_permissions(vhost, user, true),
                )
                .await
            }
            Op::PutTopicPermissions {
                user,
                vhost,
                entries,
                clear_first,
            } => {
                let action = format!("PUT topic permissions of '{user}' on vhost '{vhost}'");
                if *clear_first {
                    self.call(&action, self.api.clear_topic_permissions(vhost, user, true))
                        .await?;
                }
                for (exchange, (write, read)) in entries {
                    let params = TopicPermissions {
                        user,
                        vhost,
                        exchange,
                        write,
                        read,
                    };
                    self.call(&action, self.api.declare_topic_permissions(&params)).await?;
                }
                Ok(())
            }
            Op::DeleteTopicPermissions { user, vhost } => {
                self.call(
                    &format!("DELETE topic permissions of '{user}' on vhost '{vhost}'"),
                    self.api.clear_topic_permissions(vhost, user, true),
                )
                .await
            }
            Op::PutPolicy {
                vhost,
                name,
                pattern,
                apply_to,
                priority,
                definition,
            } => {
                let params = PolicyParams {
                    vhost,
                    name,
                    pattern,
                    apply_to: policy_target(*apply_to),
                    // Validated to fit at parse time.
                    priority: i32::try_from(*priority).unwrap_or_default(),
                    definition: definition.clone(),
                };
                self.call(
                    &format!("PUT policy '{name}' on vhost '{vhost}'"),
                    self.api.declare_policy(&params),
                )
                .await
            }
            Op::DeletePolicy { vhost, name } => {
                self.call(
                    &format!("DELETE policy '{name}' on vhost '{vhost}'"),
                    self.api.delete_policy(vhost, name, true),
                )
                .await
            }
            kafka => Err(Error::Internal(format!("{kafka:?} sent to the RabbitMQ backend"))),
        }
    }
}
