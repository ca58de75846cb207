//! The AMQP probe (lapin, on the caller's tokio runtime): log in as one user on one vhost and, where
//! the user may configure `osa_hybrid_msg.probe.*`, declare a quorum queue, publish and get one message,
//! read the queue's policy through the management API, and delete the queue.

use std::time::{Duration, Instant};

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::uri::{AMQPAuthority, AMQPQueryString, AMQPScheme, AMQPUri, AMQPUserInfo};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, DefaultConnectionBuilder};
use serde_json::Value;

use super::{AmqpProbe, AmqpTarget, Clock, Failure, Mode, ProbeStatus, QueueReport, probe_name};
use crate::backend::RabbitAdmin;
use crate::spec::{AmqpEndpoint, RabbitConnection};

/// What every AMQP probe of a run shares: the endpoints, TLS material and the per-hop timeout.
pub struct AmqpSettings {
    endpoints: Vec<AmqpEndpoint>,
    /// Read once; an unreadable file fails each probe at `connect`, after the declarations were applied.
    tls: std::result::Result<OwnedTLSConfig, String>,
    timeout: Duration,
}

impl AmqpSettings {
    /// Reads `rabbitmq.amqp_urls` and the TLS files (`ca_cert`, `client_cert`, `client_key`).
    pub fn new(conn: &RabbitConnection) -> Self {
        let endpoints = conn.amqp_endpoints().unwrap_or_default();
        let read = |path: &str, field: &str| {
            std::fs::read(path).map_err(|e| format!("rabbitmq.{field}: cannot read '{path}' ({e})"))
        };
        let tls = (|| {
            if !endpoints.iter().any(|e| e.tls) {
                return Ok(OwnedTLSConfig::default());
            }
            if !conn.validate_certs() {
                return Err(
                    "amqps with rabbitmq.validate_certs false is not supported by the AMQP probe; give rabbitmq.ca_cert instead"
                        .to_owned(),
                );
            }
            let cert_chain = match &conn.ca_cert {
                Some(path) => Some(String::from_utf8_lossy(&read(path, "ca_cert")?).into_owned()),
                None => None,
            };
            let identity = match (&conn.client_cert, &conn.client_key) {
                (Some(cert), Some(key)) => Some(OwnedIdentity::PKCS8 {
                    pem: read(cert, "client_cert")?,
                    key: read(key, "client_key")?,
                }),
                _ => None,
            };
            Ok(OwnedTLSConfig { identity, cert_chain })
        })();
        AmqpSettings {
            endpoints,
            tls,
            timeout: Duration::from_secs_f64(conn.timeout_seconds()),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// The broker's own words for a lapin error: RabbitMQ's reply text (`ACCESS_REFUSED - ...`,
/// `NOT_ALLOWED - vhost nova not found`) when there is one, else lapin's description.
fn broker_words(e: &lapin::Error) -> String {
    match e.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => amqp.get_message().to_string(),
        _ => e.to_string(),
    }
}

/// The hop of a failed connection attempt: the reply code tells a refused login from a refused vhost.
fn connect_hop(e: &lapin::Error) -> &'static str {
    match e.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => match amqp.get_id() {
            530 => "vhost",
            _ => "login",
        },
        _ => "connect",
    }
}

fn uri(endpoint: &AmqpEndpoint, user: &str, password: &str, vhost: &str, timeout: Duration) -> AMQPUri {
    AMQPUri {
        scheme: if endpoint.tls {
            AMQPScheme::AMQPS
        } else {
            AMQPScheme::AMQP
        },
        authority: AMQPAuthority {
            userinfo: AMQPUserInfo {
                username: user.to_owned(),
                password: password.to_owned(),
            },
            host: endpoint.host.clone(),
            port: endpoint.port,
        },
        vhost: vhost.to_owned(),
        query: AMQPQueryString {
            connection_timeout: Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)),
            ..AMQPQueryString::default()
        },
    }
}

/// Tries each endpoint in order; an endpoint that cannot be reached is skipped, a refusal stops.
async fn connect(
    settings: &AmqpSettings,
    target: &AmqpTarget,
    password: &str,
    clock: &mut Clock,
) -> std::result::Result<(Connection, String), Failure> {
    let tls = settings.tls.clone().map_err(|e| Failure::new("connect", e))?;
    let mut attempts = Vec::new();
    for endpoint in &settings.endpoints {
        let builder = DefaultConnectionBuilder::new()
            .map_err(|e| Failure::new("connect", e.to_string()))?
            .with_uri(uri(endpoint, &target.user, password, &target.vhost, settings.timeout))
            .with_tls_config(tls.clone())
            .with_properties(
                ConnectionProperties::default()
                    .with_connection_name(LongString::from(format!("osa_hybrid_msg verify {}", target.user))),
            );
        let started = Instant::now();
        let outcome = tokio::time::timeout(settings.timeout, builder.connect()).await;
        clock.add("connect", started);
        match outcome {
            Ok(Ok(conn)) => return Ok((conn, endpoint.to_string())),
            Ok(Err(e)) if connect_hop(&e) != "connect" => {
                return Err(Failure::new(connect_hop(&e), broker_words(&e)).at(endpoint));
            }
            Ok(Err(e)) => attempts.push(format!("{endpoint}: {}", broker_words(&e))),
            Err(_) => attempts.push(format!(
                "{endpoint}: no answer within {}s",
                settings.timeout.as_secs_f64()
            )),
        }
    }
    Err(Failure::new(
        "connect",
        if attempts.is_empty() {
            "rabbitmq.amqp_urls is empty".to_owned()
        } else {
            attempts.join("; ")
        },
    ))
}

/// Runs one hop under the timeout; a timeout is a failure of that hop.
async fn hop<T>(
    clock: &mut Clock,
    name: &'static str,
    timeout: Duration,
    fut: impl Future<Output = lapin::Result<T>>,
) -> std::result::Result<T, Failure> {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, fut).await;
    clock.add(name, started);
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure::new(name, broker_words(&e))),
        Err(_) => Err(Failure::new(
            name,
            format!("no answer within {}s", timeout.as_secs_f64()),
        )),
    }
}

/// Whether `regex` (a RabbitMQ permission, matched unanchored like Erlang's `re:run`) allows `name`.
/// An empty regex allows nothing.
fn allows(regex: &str, name: &str) -> bool {
    !regex.is_empty() && fancy_regex::Regex::new(regex).is_ok_and(|r| r.is_match(name).unwrap_or(false))
}

/// Probes one user on one vhost. Never returns an error: the outcome is in the report.
pub async fn probe<R: RabbitAdmin>(
    settings: &AmqpSettings,
    admin: Option<&R>,
    target: &AmqpTarget,
    mode: Mode,
) -> AmqpProbe {
    let mut report = AmqpProbe::new(target);
    if let Some(reason) = &target.skip {
        report.status = ProbeStatus::Skipped;
        report.reason = Some(reason.clone());
        return report;
    }
    let Some(password) = target.password.as_ref() else {
        report.status = ProbeStatus::Skipped;
        report.reason = Some("no password is declared for this user".into());
        return report;
    };
    let mut clock = Clock::start();
    let outcome = run(
        settings,
        admin,
        target,
        password.expose(),
        mode,
        &mut clock,
        &mut report,
    )
    .await;
    clock.finish(&mut report.ms, &mut report.hops);
    match outcome {
        Ok(()) => report.status = ProbeStatus::Ok,
        Err(failure) => {
            report.status = ProbeStatus::Failed;
            // The password never reaches a message, whatever the client library puts in its errors.
            let mut error = failure.error.replace(password.expose(), crate::plan::HIDDEN);
            if let Some(hint) = &target.hint
                && failure.hop == "login"
            {
                error = format!("{error} ({hint})");
            }
            report.hop = Some(failure.hop);
            report.error = Some(error);
            if report.url.is_none() {
                report.url = failure.url;
            }
        }
    }
    report
}

async fn run<R: RabbitAdmin>(
    settings: &AmqpSettings,
    admin: Option<&R>,
    target: &AmqpTarget,
    password: &str,
    mode: Mode,
    clock: &mut Clock,
    report: &mut AmqpProbe,
) -> std::result::Result<(), Failure> {
    let timeout = settings.timeout;
    let (conn, url) = connect(settings, target, password, clock).await?;
    report.url = Some(url);
    let result = async {
        let channel = hop(clock, "channel", timeout, conn.create_channel()).await?;
        match mode {
            Mode::ReadOnly => {
                // Passive: the exchange exists in every vhost; nothing is created or changed.
                hop(
                    clock,
                    "passive",
                    timeout,
                    channel.exchange_declare(
                        "amq.direct".into(),
                        lapin::ExchangeKind::Direct,
                        ExchangeDeclareOptions {
                            passive: true,
                            ..ExchangeDeclareOptions::default()
                        },
                        FieldTable::default(),
                    ),
                )
                .await
            }
            Mode::Full => {
                let name = probe_name();
                match &target.configure {
                    Some(regex) if !allows(regex, &name) => {
                        report.note = Some(format!(
                            "configure permission '{regex}' does not allow {name}, so no probe queue was declared; only the login was checked"
                        ));
                        Ok(())
                    }
                    _ => queue_round_trip(&conn, channel, admin, target, &name, timeout, clock, report).await,
                }
            }
        }
    }
    .await;
    // Code 200: a normal close. The broker drops the connection anyway when the process ends.
    let _ = tokio::time::timeout(timeout, conn.close(200, "osa_hybrid_msg verify done".into())).await;
    result
}

/// Declare, publish, get, read the policy, delete. The queue is deleted whatever failed before; if the
/// user's own delete fails, the management API deletes it, and `x-expires` removes it in the end.
#[allow(clippy::too_many_arguments)]
async fn queue_round_trip<R: RabbitAdmin>(
    conn: &Connection,
    channel: Channel,
    admin: Option<&R>,
    target: &AmqpTarget,
    name: &str,
    timeout: Duration,
    clock: &mut Clock,
    report: &mut AmqpProbe,
) -> std::result::Result<(), Failure> {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    // A safety net: a probe that dies before its delete leaves a queue that expires once unused.
    let expires_ms = i32::try_from((timeout.as_millis() * 4).max(60_000)).unwrap_or(i32::MAX);
    args.insert("x-expires".into(), AMQPValue::LongInt(expires_ms));
    let queue: ShortString = name.into();
    hop(
        clock,
        "declare",
        timeout,
        channel.queue_declare(
            queue.clone(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        ),
    )
    .await?;
    let mut queue_report = QueueReport {
        name: name.to_owned(),
        queue_type: None,
        policy: None,
        policy_definition: Value::Null,
        deleted: false,
    };

    let round_trip = async {
        let payload = format!("osa_hybrid_msg verify probe {name}");
        hop(clock, "publish", timeout, async {
            channel.confirm_select(ConfirmSelectOptions::default()).await?;
            channel
                .basic_publish(
                    "".into(),
                    queue.clone(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    payload.as_bytes(),
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?
                .await
        })
        .await
        .and_then(|confirmation| match confirmation {
            // NotRequested cannot happen after confirm.select; it is not a failure of the broker.
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(_)) => Err(Failure::new(
                "publish",
                "the message was returned as unroutable".to_owned(),
            )),
            Confirmation::Nack(_) => Err(Failure::new(
                "publish",
                "the broker refused the message (nack)".to_owned(),
            )),
        })?;

        let started = Instant::now();
        let got = tokio::time::timeout(timeout, async {
            loop {
                match channel.basic_get(queue.clone(), BasicGetOptions { no_ack: true }).await {
                    Ok(Some(m)) if m.delivery.data == payload.as_bytes() => return Ok(()),
                    Ok(Some(_)) => return Err("got a message that is not the probe's".to_owned()),
                    Ok(None) => tokio::time::sleep(Duration::from_millis(20)).await,
                    Err(e) => return Err(broker_words(&e)),
                }
            }
        })
        .await;
        clock.add("get", started);
        match got {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Failure::new("get", e)),
            Err(_) => Err(Failure::new(
                "get",
                format!("the message did not come back within {}s", timeout.as_secs_f64()),
            )),
        }
    }
    .await;

    // The policy is read before the delete, as the management user: the probing user may lack the tag.
    let policy = match admin {
        Some(admin) => {
            let started = Instant::now();
            let read = admin.queue_policy(&target.vhost, name).await;
            clock.add("policy", started);
            match read {
                Ok((queue_type, policy, definition)) => {
                    queue_report.queue_type = queue_type;
                    queue_report.policy = policy;
                    queue_report.policy_definition = definition;
                    Ok(())
                }
                Err(e) => Err(Failure::new("policy", e.to_string())),
            }
        }
        None => Ok(()),
    };

    let deleted = delete(conn, &channel, admin, target, &queue, timeout, clock).await;
    queue_report.deleted = deleted.is_ok();
    report.queue = Some(queue_report);
    round_trip.and(policy).and(deleted)
}

/// Deletes the probe queue as the user, on the probe's channel or a fresh one (an error closes a
/// channel), and falls back to the management API.
async fn delete<R: RabbitAdmin>(
    conn: &Connection,
    channel: &Channel,
    admin: Option<&R>,
    target: &AmqpTarget,
    queue: &ShortString,
    timeout: Duration,
    clock: &mut Clock,
) -> std::result::Result<(), Failure> {
    let started = Instant::now();
    let as_user = tokio::time::timeout(timeout, async {
        let fresh;
        let channel = if channel.status().connected() {
            channel
        } else {
            fresh = conn.create_channel().await?;
            &fresh
        };
        channel.queue_delete(queue.clone(), QueueDeleteOptions::default()).await
    })
    .await;
    let outcome = match as_user {
        Ok(Ok(_)) => Ok(()),
        failed => {
            let why = match failed {
                Ok(Err(e)) => broker_words(&e),
                _ => format!("no answer within {}s", timeout.as_secs_f64()),
            };
            match admin {
                Some(admin) => admin.delete_queue(&target.vhost, queue.as_str()).await.map_err(|e| {
                    Failure::new(
                        "delete",
                        format!(
                            "{why}; the management API delete failed too: {e}; the queue expires on its own once unused"
                        ),
                    )
                }),
                None => Err(Failure::new("delete", why)),
            }
        }
    };
    clock.add("delete", started);
    outcome
}

#[cfg(test)]
mod tests {
    use super::allows;

    #[test]
    fn permission_regexes_match_unanchored_and_empty_allows_nothing() {
        let name = "osa_hybrid_msg.probe.0123abcd";
        assert!(allows(".*", name));
        assert!(allows("^osa_hybrid_msg\\.", name));
        assert!(allows("probe", name));
        assert!(!allows("^$", name));
        assert!(!allows("", name));
        assert!(!allows("^nova", name));
    }
}
