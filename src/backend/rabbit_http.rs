//! The RabbitMQ management HTTP API backend, on `rabbitmq_http_client` over one pooled reqwest client.
//!
//! Two writes go straight through the same reqwest client: `PUT /api/vhosts/{v}` (the body must
//! carry both `default_queue_type` and 3.10's `defaultqueuetype`, and resend metadata, since a PUT
//! replaces it) and `PUT /api/users/{u}` (the body must carry `hashing_algorithm`, which
//! `rabbitmq_http_client` 0.93's `UserParams` lacks). Every call needs the `administrator` tag.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rabbitmq_http_client::api::{Client, ClientBuilder, HttpClientError};
use rabbitmq_http_client::commons::PolicyTarget;
use rabbitmq_http_client::error::Error as ClientError;
use rabbitmq_http_client::requests::{Permissions, PolicyParams, TopicPermissions};
use serde_json::{Value, json};

use crate::deadline::Deadline;
use crate::error::{Broker, Error, Result};
use crate::observed::RabbitSnapshot;
use crate::plan::{Op, PasswordWrite, Secret};
use crate::spec::{ApplyTo, HashingAlgorithm, RabbitConnection};

// The 4.x endpoints (deletion protection, deprecated features), a child so that it can use `raw`.
#[path = "rabbit_http_v4.rs"]
mod v4;

pub struct HttpRabbit {
    http: reqwest::Client,
    /// Every management endpoint of `rabbitmq.urls`, in order.
    endpoints: Vec<Endpoint>,
    /// Where the next request goes first: the endpoint that answered last.
    current: AtomicUsize,
    /// The endpoint that answered the read (reported as the result's `endpoint`).
    read_from: AtomicUsize,
    username: String,
    password: Secret,
    /// `rabbitmq.timeout`: the run's budget, and each request's bound once the run's deadline is lifted.
    timeout: Duration,
    /// The run's deadline: every request, retry and failover of the read and the writes ends by it.
    /// `None` once lifted for `verify`, whose management calls are bounded each by `timeout`.
    run_deadline: Mutex<Option<Deadline>>,
    reads: AtomicUsize,
    writes: AtomicUsize,
    retries: AtomicUsize,
    failovers: AtomicUsize,
    endpoint_errors: Mutex<Vec<String>>,
}

struct Endpoint {
    url: String,
    api: Client<String, String, String>,
}

/// Passes over the endpoints one request makes at most, and the pauses between passes. A killed
/// node refuses connections at once, so the passes are cheap; the pauses give a booting node (503)
/// or a restarting one a moment. All of it stays within the run's deadline (`rabbitmq.timeout`).
const PASSES: usize = 3;
const PAUSES: [Duration; PASSES - 1] = [Duration::from_millis(250), Duration::from_millis(500)];

/// With other endpoints to try, one attempt may take half of what is left of the deadline, but not
/// less than this: a node that accepts connections and never answers must not spend the whole budget.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// The option whose value is the run's deadline, named in messages.
pub const TIMEOUT_OPTION: &str = "rabbitmq.timeout";

/// The vhost list's read, named in errors and matched when it falls back.
const VHOSTS_READ: &str = "GET /api/vhosts";

/// How many endpoint errors the result lists; the counters count them all.
const ENDPOINT_ERRORS_LISTED: usize = 10;

/// What an error means for the request that met it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// A final answer (401, 400, 404, ...): try nothing else.
    No,
    /// Not sent (connection refused) or refused for now (502, 503, 504, 500): try elsewhere.
    NotApplied,
    /// Sent without an answer (connection dropped, timed out): a write may have been applied.
    MaybeApplied,
}

fn retry_kind(e: &Error) -> Retry {
    match e {
        Error::NoAnswer { .. } | Error::Timeout { .. } => Retry::MaybeApplied,
        // 500 too: 4.x answers it for a vhost PUT under load and for a crashed statistics
        // database; every write here is idempotent, so sending it again is safe.
        Error::Unreachable { .. }
        | Error::Api {
            status: 500 | 502 | 503 | 504,
            ..
        } => Retry::NotApplied,
        _ => Retry::No,
    }
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
        // The given CA alone, as `ca_cert` means: merging it into the system's roots made every run load
        // and parse the system trust store first, the larger part of a no-op over HTTPS.
        builder = builder.tls_certs_only(certs);
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
    /// Builds a client for every endpoint of `conn` and reads the snapshot from the first that
    /// answers (failing over and retrying as every request does). A refused login stops at once.
    pub async fn connect(
        conn: &RabbitConnection,
        with_vhost_metadata: bool,
        deadline: Deadline,
    ) -> Result<(Self, RabbitSnapshot)> {
        let timeout = Duration::from_secs_f64(conn.timeout_seconds());
        let http = http_client(conn, timeout)?;
        let endpoints = conn
            .api_urls()
            .into_iter()
            .map(|url| {
                let api = ClientBuilder::new()
                    .with_endpoint(url.clone())
                    .with_basic_auth_credentials(conn.username().to_owned(), conn.password().to_owned())
                    .with_client(http.clone())
                    .build()
                    .map_err(|e| Error::config(format!("rabbitmq.urls: '{url}': {e}"), e))?;
                Ok(Endpoint { url, api })
            })
            .collect::<Result<Vec<_>>>()?;
        let backend = HttpRabbit {
            http,
            endpoints,
            current: AtomicUsize::new(0),
            read_from: AtomicUsize::new(0),
            username: conn.username().to_owned(),
            password: Secret::new(conn.password()),
            timeout,
            run_deadline: Mutex::new(Some(deadline)),
            reads: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            retries: AtomicUsize::new(0),
            failovers: AtomicUsize::new(0),
            endpoint_errors: Mutex::new(Vec::new()),
        };
        let snapshot = super::RabbitAdmin::snapshot(&backend, with_vhost_metadata).await?;
        backend
            .read_from
            .store(backend.current.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok((backend, snapshot))
    }

    fn url(&self, i: usize) -> &str {
        &self.endpoints[i].url
    }

    /// The deadline of a request starting now: the run's, or once lifted, `timeout` from now.
    fn deadline(&self) -> Deadline {
        self.run_deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unwrap_or_else(|| Deadline::after(self.timeout, TIMEOUT_OPTION))
    }

    /// How long the next attempt may wait for its answer: what is left of the deadline, or half of it
    /// (at least `MIN_ATTEMPT`) while another endpoint could still answer.
    fn attempt_limit(&self, deadline: &Deadline) -> Duration {
        let remaining = deadline.remaining();
        if self.endpoints.len() > 1 {
            (remaining / 2).max(MIN_ATTEMPT).min(remaining)
        } else {
            remaining
        }
    }

    fn note_endpoint_error(&self, i: usize, e: &Error) {
        let mut listed = self
            .endpoint_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if listed.len() < ENDPOINT_ERRORS_LISTED {
            let text = e.to_string();
            // The broker's reason and the library's words never hold the password; keep it that way.
            let text = if text.contains(self.password.expose()) && !self.password.expose().is_empty() {
                text.replace(self.password.expose(), "********")
            } else {
                text
            };
            listed.push(format!("{}: {text}", self.url(i)));
        }
    }

    /// Sends one request through `attempt(endpoint index)`: first to the endpoint that answered last,
    /// then to the others in turn, in up to `PASSES` passes with a pause between them, until the run's
    /// deadline. Each attempt waits at most `attempt_limit`. A final answer (4xx) ends it at once. For a write
    /// (`mutates`) whose request went out without an answer, only a later answer settles the
    /// outcome (writes are idempotent, so it is the outcome); without one, the error is
    /// `NoAnswer`, which the change reports as `unknown`.
    async fn failover<T, F, Fut>(&self, action: &str, mutates: bool, attempt: F) -> Result<T>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let deadline = self.deadline();
        let n = self.endpoints.len();
        let mut maybe_applied: Option<String> = None;
        let mut attempts: Vec<String> = Vec::new();
        let mut last: Option<Error> = None;
        let mut tried = 0usize;
        let mut ran_out = false;
        'passes: for pass in 0..PASSES {
            if pass > 0 {
                let pause = PAUSES[pass - 1];
                if deadline.remaining() <= pause {
                    ran_out = true;
                    break;
                }
                tokio::time::sleep(pause).await;
            }
            let first = self.current.load(Ordering::Relaxed);
            for k in 0..n {
                let i = (first + k) % n;
                if deadline.expired() {
                    ran_out = true;
                    break 'passes;
                }
                if tried > 0 {
                    self.retries.fetch_add(1, Ordering::Relaxed);
                }
                tried += 1;
                let limit = self.attempt_limit(&deadline);
                let outcome = match tokio::time::timeout(limit, attempt(i)).await {
                    Ok(outcome) => outcome,
                    // Sent (or connecting) and no answer in time: for a write, maybe applied.
                    Err(_) => Err(Error::Timeout {
                        action: action.to_owned(),
                        endpoint: self.url(i).to_owned(),
                        seconds: limit.as_secs_f64(),
                    }),
                };
                match outcome {
                    Ok(value) => {
                        // A failover is an answer from another node than this request was first sent
                        // to; only then do later requests start there. Comparing with `current`
                        // instead counted every concurrent write still answered by the old node as
                        // one more failover (106 for one retry among 5,000 writes) and sent the next
                        // requests back to the node that had just failed.
                        if i != first {
                            self.current.store(i, Ordering::Relaxed);
                            self.failovers.fetch_add(1, Ordering::Relaxed);
                        }
                        return Ok(value);
                    }
                    Err(e) => {
                        let kind = retry_kind(&e);
                        if kind == Retry::No {
                            return Err(e);
                        }
                        self.note_endpoint_error(i, &e);
                        if kind == Retry::MaybeApplied && maybe_applied.is_none() {
                            maybe_applied = Some(self.url(i).to_owned());
                        }
                        let text = match &e {
                            Error::Unreachable { attempts: a, .. } => a.join("; "),
                            other => format!("{}: {other}", self.url(i)),
                        };
                        // The same endpoint failing the same way on every pass is said once.
                        if !attempts.contains(&text) {
                            attempts.push(text);
                        }
                        last = Some(e);
                    }
                }
            }
        }
        if tried == 0 {
            return Err(Error::Deadline {
                broker: Broker::RabbitMq,
                action: action.to_owned(),
                option: deadline.option(),
                seconds: deadline.total().as_secs_f64(),
            });
        }
        if ran_out {
            attempts.push(format!("{} ran out after {tried} attempt(s)", deadline.describe()));
        }
        let last = last.unwrap_or_else(|| Error::Internal(format!("{action}: no endpoint to send it to")));
        match maybe_applied {
            Some(endpoint) if mutates => Err(Error::NoAnswer {
                broker: Broker::RabbitMq,
                action: action.to_owned(),
                endpoint,
                reason: format!(
                    "{tried} attempt(s) in {:.1}s, none answered: {}",
                    started.elapsed().as_secs_f64(),
                    attempts.join("; ")
                ),
            }),
            // The last endpoint answered (503, 500, ...): its answer is the error; the others are in
            // `endpoint_errors`.
            _ if matches!(last, Error::Api { .. }) => Err(last),
            // Nothing answered: every attempt is listed with its cause.
            _ => Err(Error::Unreachable {
                broker: Broker::RabbitMq,
                attempts,
            }),
        }
    }

    fn map_client_error(&self, i: usize, e: HttpClientError, action: &str) -> Error {
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
                self.status_error(i, status_code.as_u16(), reason, action)
            }
            ClientError::NotFound => self.status_error(i, 404, "not found".into(), action),
            ClientError::RequestError { error, .. } => self.transport_error(i, &error, action),
            other => Error::Api {
                broker: Broker::RabbitMq,
                action: action.to_owned(),
                status: 0,
                reason: other.to_string(),
            },
        }
    }

    fn status_error(&self, i: usize, status: u16, reason: String, action: &str) -> Error {
        match status {
            401 => Error::Authentication {
                endpoint: self.url(i).to_owned(),
                action: action.to_owned(),
                status,
                reason,
                hint: "check rabbitmq.username and rabbitmq.password",
            },
            403 => Error::Authentication {
                endpoint: self.url(i).to_owned(),
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

    /// Refused connections (and failed TLS handshakes) are `Unreachable`: nothing was sent. A
    /// connection that dropped after the request went out is `NoAnswer`.
    fn transport_error(&self, i: usize, error: &reqwest::Error, action: &str) -> Error {
        if error.is_timeout() {
            Error::Timeout {
                action: action.to_owned(),
                endpoint: self.url(i).to_owned(),
                seconds: self.timeout.as_secs_f64(),
            }
        } else if error.is_connect() {
            Error::Unreachable {
                broker: Broker::RabbitMq,
                attempts: vec![format!("{}: {}", self.url(i), chain(error))],
            }
        } else if error.is_request() || error.is_body() {
            Error::NoAnswer {
                broker: Broker::RabbitMq,
                action: action.to_owned(),
                endpoint: self.url(i).to_owned(),
                reason: chain(error),
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
    async fn bounded<T>(&self, i: usize, action: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout + Duration::from_secs(1), fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                action: action.to_owned(),
                endpoint: self.url(i).to_owned(),
                seconds: self.timeout.as_secs_f64(),
            }),
        }
    }

    /// One `rabbitmq_http_client` request to endpoint `i`.
    async fn call_on<T>(
        &self,
        i: usize,
        action: &str,
        fut: impl Future<Output = Result<T, HttpClientError>>,
    ) -> Result<T> {
        self.bounded(i, action, async {
            fut.await.map_err(|e| self.map_client_error(i, e, action))
        })
        .await
    }

    /// A request through the shared reqwest client, for the calls `rabbitmq_http_client` cannot
    /// express, with failover and retries (a method other than GET is a write).
    pub(super) async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        action: &str,
    ) -> Result<String> {
        let mutates = method != reqwest::Method::GET;
        self.failover(action, mutates, |i| {
            self.raw_on(i, method.clone(), path, body.clone(), action)
        })
        .await
    }

    /// One request to endpoint `i` through the shared reqwest client.
    async fn raw_on(
        &self,
        i: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        action: &str,
    ) -> Result<String> {
        let url = format!("{}/{path}", self.url(i));
        let mut req = self
            .http
            .request(method, url)
            .basic_auth(&self.username, Some(self.password.expose()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.bounded(i, action, async {
            let resp = req.send().await.map_err(|e| self.transport_error(i, &e, action))?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| self.transport_error(i, &e, action))?;
            if status.is_success() {
                Ok(text)
            } else {
                Err(self.status_error(i, status.as_u16(), reason_of(&text), action))
            }
        })
        .await
    }

    /// `PUT /api/users/{name}`. Mutates; needs `administrator`.
    async fn put_user(&self, i: usize, name: &str, password: &PasswordWrite, tags: &[String]) -> Result<()> {
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
        self.raw_on(
            i,
            reqwest::Method::PUT,
            &format!("users/{}", enc(name)),
            Some(body),
            &format!("PUT user '{name}'"),
        )
        .await
        .map(drop)
    }

    /// `PUT /api/vhosts/{name}`. Mutates; needs `administrator`.
    async fn put_vhost(
        &self,
        i: usize,
        name: &str,
        description: &str,
        tags: &[String],
        dqt: Option<&str>,
    ) -> Result<()> {
        let mut body = json!({"description": description, "tags": tags.join(",")});
        if let Some(q) = dqt {
            body["default_queue_type"] = Value::from(q);
            // RabbitMQ 3.10 reads this spelling; later versions ignore it.
            body["defaultqueuetype"] = Value::from(q);
        }
        self.raw_on(
            i,
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
    fn lift_deadline(&self) {
        *self
            .run_deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    fn endpoint(&self) -> &str {
        self.url(self.read_from.load(Ordering::Relaxed))
    }

    fn retries(&self) -> usize {
        self.retries.load(Ordering::Relaxed)
    }

    fn failovers(&self) -> usize {
        self.failovers.load(Ordering::Relaxed)
    }

    fn endpoint_errors(&self) -> Vec<String> {
        self.endpoint_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
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

    /// `GET /api/definitions` (and `GET /api/vhosts` for metadata), concurrently, from one endpoint,
    /// failing over to the next as any request does. Reads only; needs `administrator`.
    async fn snapshot(&self, with_vhost_metadata: bool) -> Result<RabbitSnapshot> {
        self.reads
            .fetch_add(1 + usize::from(with_vhost_metadata), Ordering::Relaxed);
        let read = self
            .failover("GET /api/definitions", false, |i| {
                self.snapshot_on(i, with_vhost_metadata)
            })
            .await;
        match read {
            // Every node answered 500 for the vhost list. The list is asked for without statistics,
            // which kept it answering when 4.3's statistics database crashed, but the metadata is
            // also in 4.x definitions: read them alone rather than fail.
            Err(Error::Api {
                status: 500, action, ..
            }) if with_vhost_metadata && action == VHOSTS_READ => {
                let snapshot = self
                    .failover("GET /api/definitions", false, |i| self.snapshot_on(i, false))
                    .await?;
                if !snapshot.definitions_carry_vhost_metadata() {
                    return Err(self.status_error(
                        self.current.load(Ordering::Relaxed),
                        500,
                        "every endpoint answered 500, and this version's definitions lack vhost metadata".into(),
                        VHOSTS_READ,
                    ));
                }
                // The definitions are read a second time: the first answer was dropped with the failed pair.
                self.reads.fetch_add(1, Ordering::Relaxed);
                let mut listed = self
                    .endpoint_errors
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                listed.push(format!(
                    "{VHOSTS_READ} answered 500 on every endpoint; the vhost metadata was read from GET /api/definitions"
                ));
                Ok(snapshot)
            }
            other => other,
        }
    }

    async fn deprecated_features_used(&self) -> Result<Option<Vec<crate::observed::DeprecatedFeature>>> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.deprecated_features_in_use().await
    }

    async fn execute(&self, op: &Op) -> Result<()> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.failover(&op_action(op), true, |i| self.execute_on(i, op)).await
    }
}

/// What a write is called in errors: the method and the object.
fn op_action(op: &Op) -> String {
    match op {
        Op::PutVhost { name, .. } => format!("PUT vhost '{name}'"),
        Op::DeleteVhost { name } => format!("DELETE vhost '{name}'"),
        Op::SetVhostProtection { name, protected: true } => format!("enable deletion protection of vhost '{name}'"),
        Op::SetVhostProtection { name, protected: false } => format!("lift deletion protection of vhost '{name}'"),
        Op::PutUser { name, .. } => format!("PUT user '{name}'"),
        Op::DeleteUser { name } => format!("DELETE user '{name}'"),
        Op::PutPermission { user, vhost, .. } => format!("PUT permissions of '{user}' on vhost '{vhost}'"),
        Op::DeletePermission { user, vhost } => format!("DELETE permissions of '{user}' on vhost '{vhost}'"),
        Op::PutTopicPermissions { user, vhost, .. } => {
            format!("PUT topic permissions of '{user}' on vhost '{vhost}'")
        }
        Op::DeleteTopicPermissions { user, vhost } => {
            format!("DELETE topic permissions of '{user}' on vhost '{vhost}'")
        }
        Op::PutPolicy { vhost, name, .. } => format!("PUT policy '{name}' on vhost '{vhost}'"),
        Op::DeletePolicy { vhost, name } => format!("DELETE policy '{name}' on vhost '{vhost}'"),
        other => format!("{other:?}"),
    }
}

impl HttpRabbit {
    /// The snapshot's requests to endpoint `i`.
    async fn snapshot_on(&self, i: usize, with_vhost_metadata: bool) -> Result<RabbitSnapshot> {
        let defs = self.call_on(
            i,
            "GET /api/definitions",
            self.endpoints[i].api.export_cluster_wide_definitions_as_string(),
        );
        if with_vhost_metadata {
            let vhosts = self.raw_on(
                i,
                reqwest::Method::GET,
                "vhosts?disable_stats=true&columns=name,description,tags,default_queue_type,metadata",
                None,
                VHOSTS_READ,
            );
            let (defs, vhosts) = tokio::try_join!(defs, vhosts)?;
            RabbitSnapshot::from_responses(&defs, Some(&vhosts))
        } else {
            RabbitSnapshot::from_responses(&defs.await?, None)
        }
    }

    /// One write to endpoint `i`.
    async fn execute_on(&self, i: usize, op: &Op) -> Result<()> {
        let api = &self.endpoints[i].api;
        let action = op_action(op);
        match op {
            Op::PutVhost {
                name,
                description,
                tags,
                default_queue_type,
            } => {
                self.put_vhost(i, name, description, tags, default_queue_type.as_deref())
                    .await
            }
            Op::DeleteVhost { name } => self.call_on(i, &action, api.delete_vhost(name, true)).await,
            Op::SetVhostProtection { name, protected } => self.set_vhost_protection(i, name, *protected).await,
            Op::PutUser { name, password, tags } => self.put_user(i, name, password, tags).await,
            Op::DeleteUser { name } => self.call_on(i, &action, api.delete_user(name, true)).await,
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
                self.call_on(i, &action, api.declare_permissions(&params)).await
            }
            Op::DeletePermission { user, vhost } => {
                self.call_on(i, &action, api.clear_permissions(vhost, user, true)).await
            }
            Op::PutTopicPermissions {
                user,
                vhost,
                entries,
                clear_first,
            } => {
                if *clear_first {
                    self.call_on(i, &action, api.clear_topic_permissions(vhost, user, true))
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
                    self.call_on(i, &action, api.declare_topic_permissions(&params)).await?;
                }
                Ok(())
            }
            Op::DeleteTopicPermissions { user, vhost } => {
                self.call_on(i, &action, api.clear_topic_permissions(vhost, user, true))
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
                self.call_on(i, &action, api.declare_policy(&params)).await
            }
            Op::DeletePolicy { vhost, name } => self.call_on(i, &action, api.delete_policy(vhost, name, true)).await,
            kafka => Err(Error::Internal(format!("{kafka:?} sent to the RabbitMQ backend"))),
        }
    }
}
