//! Kafka probes as each service's own SASL principal, for the `services:` shorthand on a SASL Kafka.
//! oslo.messaging's producer is fire-and-forget and loses a denied record without a word, so only a
//! probe as the service itself shows a missing ACL.
//!
//! - Produce: each producer service sends one probe record to each of its topics, as itself; a missing
//!   Write gives the broker's TOPIC_AUTHORIZATION_FAILED.
//! - Consume: each listener service, as itself, reads its group's committed offsets (OffsetFetch; a
//!   missing group ACL gives GROUP_AUTHORIZATION_FAILED), then reads back the records the producers
//!   sent to the topics it consumes, by assignment (a missing Read gives TOPIC_AUTHORIZATION_FAILED).
//!   It never joins the group: joining would rebalance the service's live listeners, so the group check
//!   is the OffsetFetch, which needs Describe on the group (implied by the Read the shorthand grants). A
//!   missing group ACL fails it; a deny of Read alone that leaves Describe allowed would not.
//!
//! In check mode only the metadata of each topic is read, as each principal (Describe, which Write and
//! Read imply); principals whose user or ACLs the plan still changes are skipped.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::kafka::{fail, probe_record};
use super::{KafkaProbe, Mode, ProbeStatus, ms_since, probe_name};
use crate::backend::kafka_rd::{Context, client_config};
use crate::plan::{Change, Kind};
use crate::spec::{KafkaConnection, ServicePrincipal};

/// The broker's name for an error code, as Kafka's protocol spells it: `TopicAuthorizationFailed` →
/// `TOPIC_AUTHORIZATION_FAILED`.
pub(super) fn kafka_name(code: RDKafkaErrorCode) -> String {
    let camel = format!("{code:?}");
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `TOPIC_AUTHORIZATION_FAILED (Broker: Topic authorization failed)`: Kafka's name, then librdkafka's words.
fn code_words(code: RDKafkaErrorCode) -> String {
    // librdkafka's text is `TopicAuthorizationFailed (Broker: Topic authorization failed)`.
    let text = code.to_string();
    let words = text
        .split_once(" (")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or(&text);
    format!("{} ({words})", kafka_name(code))
}

/// The broker's words for a client error, or the error's own text.
fn broker_words(e: &KafkaError) -> String {
    e.rdkafka_error_code().map_or_else(|| e.to_string(), code_words)
}

fn principal_config(conn: &KafkaConnection, p: &ServicePrincipal) -> ClientConfig {
    let mut cfg = client_config(conn);
    cfg.set("sasl.mechanism", p.mechanism.as_str())
        .set("sasl.username", &p.user)
        .set("sasl.password", &p.password)
        .set("client.id", "osa_hybrid_msg.verify");
    cfg
}

fn probe(p: &ServicePrincipal, topic: &str, role: &'static str, skip: Option<String>) -> KafkaProbe {
    KafkaProbe {
        topic: topic.to_owned(),
        status: if skip.is_some() {
            ProbeStatus::Skipped
        } else {
            ProbeStatus::Ok
        },
        hop: None,
        error: None,
        reason: skip,
        ms: 0.0,
        hops: serde_json::Map::new(),
        partitions: None,
        partition: None,
        offset: None,
        service: Some(p.service.clone()),
        user: Some(p.user.clone()),
        role: Some(role),
        group: (role == "consume").then(|| p.group.clone()).flatten(),
    }
}

fn add_hop(probe: &mut KafkaProbe, hop: &str, ms: f64) {
    let ms = (ms * 10.0).round() / 10.0;
    probe.hops.insert(hop.to_owned(), serde_json::json!(ms));
    probe.ms = ((probe.ms + ms) * 10.0).round() / 10.0;
}

/// Why a principal's probes are skipped in check mode: its user or ACLs change in this run.
fn planned_skip(p: &ServicePrincipal, changes: &[Change]) -> Option<String> {
    let principal = format!("User:{}", p.user);
    let user = changes.iter().any(|c| c.kind == Kind::KafkaUser && c.name == p.user);
    let acl = changes
        .iter()
        .any(|c| c.kind == Kind::KafkaAcl && c.name.contains(&format!(" {principal} ")));
    let topic = changes
        .iter()
        .any(|c| c.kind == Kind::Topic && (p.produces.contains(&c.name) || p.consumes.contains(&c.name)));
    match (user, acl, topic) {
        (true, _, _) => Some(format!(
            "Kafka user '{}' is created or changed in this run (planned)",
            p.user
        )),
        (_, true, _) => Some(format!("the ACLs of {principal} change in this run (planned)")),
        (_, _, true) => Some("a topic of the service does not exist yet (planned: create)".to_owned()),
        _ => None,
    }
}

/// Runs every service principal's probes; never fails as a whole.
pub async fn probe_services(
    conn: &KafkaConnection,
    principals: &[ServicePrincipal],
    changes: &[Change],
    mode: Mode,
) -> Vec<KafkaProbe> {
    let timeout = Duration::from_secs_f64(conn.timeout_seconds());
    let conn_cfgs: Vec<ClientConfig> = principals.iter().map(|p| principal_config(conn, p)).collect();
    let skips: Vec<Option<String>> = principals
        .iter()
        .map(|p| (mode == Mode::ReadOnly).then(|| planned_skip(p, changes)).flatten())
        .collect();
    if mode == Mode::ReadOnly {
        let mut out = Vec::new();
        for ((p, cfg), skip) in principals.iter().zip(&conn_cfgs).zip(&skips) {
            for (role, topics) in [("produce", &p.produces), ("consume", &p.consumes)] {
                for topic in topics {
                    let mut pr = probe(p, topic, role, skip.clone());
                    if skip.is_none() {
                        metadata_as(cfg, topic, timeout, &mut pr).await;
                    }
                    out.push(pr);
                }
            }
        }
        return out;
    }

    // Produce, every producer side by side.
    let sends = principals.iter().zip(&conn_cfgs).map(|(p, cfg)| async move {
        let mut probes: Vec<KafkaProbe> = p.produces.iter().map(|t| probe(p, t, "produce", None)).collect();
        let mut cfg = cfg.clone();
        cfg.set("allow.auto.create.topics", "false")
            .set("message.timeout.ms", timeout.as_millis().to_string());
        let producer: FutureProducer<Context> = match FutureProducer::from_config_and_context(&cfg, Context::default())
        {
            Ok(producer) => producer,
            Err(e) => {
                for pr in &mut probes {
                    fail(pr, "connect", format!("cannot create the producer: {e}"));
                }
                return probes;
            }
        };
        let token = probe_name();
        let records = probes.iter_mut().enumerate().map(|(i, pr)| {
            let value = probe_record(&pr.topic, &format!("{token}.{i}"));
            let producer = &producer;
            async move {
                let started = Instant::now();
                let record = FutureRecord::to(&pr.topic).key("osa_hybrid_msg.probe").payload(&value);
                let outcome =
                    tokio::time::timeout(timeout + Duration::from_secs(2), producer.send(record, timeout)).await;
                add_hop(pr, "produce", ms_since(started));
                match outcome {
                    Ok(Ok(delivery)) => {
                        pr.partition = Some(delivery.partition);
                        pr.offset = Some(delivery.offset);
                    }
                    Ok(Err((e, _))) => fail(pr, "produce", broker_words(&e)),
                    Err(_) => fail(
                        pr,
                        "produce",
                        format!("no delivery report within {}s", timeout.as_secs_f64()),
                    ),
                }
            }
        });
        futures::future::join_all(records).await;
        // librdkafka's destroy joins its threads: off the caller's path.
        crate::closing::drop_in_background(producer);
        probes
    });
    let produced: Vec<KafkaProbe> = futures::future::join_all(sends).await.into_iter().flatten().collect();

    // Where each topic's probe records landed, for the listeners to read back.
    let mut landed: HashMap<String, Vec<(i32, i64)>> = HashMap::new();
    for pr in &produced {
        if let (Some(partition), Some(offset)) = (pr.partition, pr.offset) {
            landed.entry(pr.topic.clone()).or_default().push((partition, offset));
        }
    }
    let reads = principals
        .iter()
        .zip(&conn_cfgs)
        .filter(|(p, _)| !p.consumes.is_empty())
        .map(|(p, cfg)| {
            let cfg = cfg.clone();
            let p = p.clone();
            let landed = landed.clone();
            async move {
                let fallback: Vec<KafkaProbe> = p.consumes.iter().map(|t| probe(&p, t, "consume", None)).collect();
                let task = tokio::task::spawn_blocking(move || consume_as(&cfg, &p, &landed, timeout));
                match tokio::time::timeout(timeout * 2 + Duration::from_secs(5), task).await {
                    Ok(Ok(probes)) => probes,
                    Ok(Err(e)) => fallback
                        .into_iter()
                        .map(|mut pr| {
                            fail(&mut pr, "consume", format!("consumer task failed: {e}"));
                            pr
                        })
                        .collect(),
                    Err(_) => fallback
                        .into_iter()
                        .map(|mut pr| {
                            fail(&mut pr, "consume", "the consumer did not finish in time".to_owned());
                            pr
                        })
                        .collect(),
                }
            }
        });
    let consumed: Vec<KafkaProbe> = futures::future::join_all(reads).await.into_iter().flatten().collect();
    produced.into_iter().chain(consumed).collect()
}

/// Check mode: the topic's metadata as the principal (Describe), which writes nothing.
async fn metadata_as(cfg: &ClientConfig, topic: &str, timeout: Duration, pr: &mut KafkaProbe) {
    let cfg = cfg.clone();
    let name = topic.to_owned();
    let started = Instant::now();
    let outcome = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer<Context> = BaseConsumer::from_config_and_context(&cfg, Context::default())
            .map_err(|e| format!("cannot create the client: {e}"))?;
        let md = consumer
            .fetch_metadata(Some(&name), timeout)
            .map_err(|e| broker_words(&e))?;
        match md.topics().iter().find(|t| t.name() == name) {
            None => Err("the broker's metadata does not list it".to_owned()),
            Some(t) => match t.error() {
                Some(code) => Err(format!(
                    "{} ({})",
                    kafka_name(code.into()),
                    RDKafkaErrorCode::from(code)
                )),
                None => Ok(t.partitions().len()),
            },
        }
    })
    .await;
    add_hop(pr, "metadata", ms_since(started));
    match outcome {
        Ok(Ok(n)) => pr.partitions = Some(n),
        Ok(Err(e)) => fail(pr, "metadata", e),
        Err(e) => fail(pr, "metadata", format!("metadata task failed: {e}")),
    }
}

/// Blocking: the listener's checks as itself, one probe per consumed topic.
fn consume_as(
    cfg: &ClientConfig,
    p: &ServicePrincipal,
    landed: &HashMap<String, Vec<(i32, i64)>>,
    timeout: Duration,
) -> Vec<KafkaProbe> {
    let mut probes: Vec<KafkaProbe> = p.consumes.iter().map(|t| probe(p, t, "consume", None)).collect();
    let group = p.group.clone().unwrap_or_default();
    let mut c = cfg.clone();
    c.set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "latest");
    let consumer: BaseConsumer<Context> = match BaseConsumer::from_config_and_context(&c, Context::default()) {
        Ok(consumer) => consumer,
        Err(e) => {
            for pr in &mut probes {
                fail(pr, "connect", format!("cannot create the consumer: {e}"));
            }
            return probes;
        }
    };
    // Metadata as the listener: partitions of each topic (Describe, implied by Read).
    let mut partitions: Vec<Option<usize>> = Vec::new();
    for pr in &mut probes {
        let t0 = Instant::now();
        let outcome = consumer.fetch_metadata(Some(&pr.topic), timeout);
        add_hop(pr, "metadata", ms_since(t0));
        let n = match outcome {
            Err(e) => {
                fail(pr, "metadata", broker_words(&e));
                None
            }
            Ok(md) => match md.topics().iter().find(|t| t.name() == pr.topic) {
                Some(t) if t.error().is_none() && !t.partitions().is_empty() => Some(t.partitions().len()),
                Some(t) => {
                    let why = t
                        .error()
                        .map_or("it has no partitions".to_owned(), |code| code_words(code.into()));
                    fail(pr, "metadata", why);
                    None
                }
                None => {
                    fail(pr, "metadata", "the broker's metadata does not list it".to_owned());
                    None
                }
            },
        };
        pr.partitions = n;
        partitions.push(n);
    }
    // The group: its committed offsets (OffsetFetch), which needs the group ACL, and never joins.
    let mut all = TopicPartitionList::new();
    for (pr, n) in probes.iter().zip(&partitions) {
        for part in 0..n.unwrap_or(0) {
            all.add_partition(&pr.topic, i32::try_from(part).unwrap_or(i32::MAX));
        }
    }
    if all.count() > 0 {
        let t0 = Instant::now();
        let outcome = consumer
            .committed_offsets(all, timeout)
            .map_err(|e| refusal(&consumer).unwrap_or_else(|| broker_words(&e)));
        let ms = ms_since(t0);
        for pr in probes.iter_mut().filter(|pr| pr.status == ProbeStatus::Ok) {
            add_hop(pr, "group", ms);
            if let Err(e) = &outcome {
                fail(pr, "group", format!("consumer group '{group}': {e}"));
            }
        }
    }
    // Read back the producers' records, by assignment.
    let mut wanted = TopicPartitionList::new();
    let mut expected: Vec<(usize, i32, i64)> = Vec::new();
    for (i, pr) in probes.iter().enumerate() {
        if pr.status != ProbeStatus::Ok {
            continue;
        }
        for &(partition, offset) in landed.get(&pr.topic).map(Vec::as_slice).unwrap_or_default() {
            if wanted.find_partition(&pr.topic, partition).is_none() {
                let _ = wanted.add_partition_offset(&pr.topic, partition, Offset::Offset(offset));
            }
            expected.push((i, partition, offset));
        }
    }
    for pr in probes.iter_mut().filter(|pr| pr.status == ProbeStatus::Ok) {
        if !landed.contains_key(&pr.topic) {
            pr.reason = Some(
                "no producer's probe record reached this topic, so only its metadata and the group were checked"
                    .to_owned(),
            );
        }
    }
    if expected.is_empty() {
        return probes;
    }
    // Lowest offset per partition, so one assignment reads every record.
    for &(i, partition, offset) in &expected {
        if let Some(mut elem) = wanted.find_partition(&probes[i].topic, partition)
            && let Offset::Offset(have) = elem.offset()
            && offset < have
        {
            let _ = elem.set_offset(Offset::Offset(offset));
        }
    }
    let t0 = Instant::now();
    if let Err(e) = consumer.assign(&wanted) {
        for &(i, _, _) in &expected {
            fail(&mut probes[i], "consume", broker_words(&e));
        }
        return probes;
    }
    let mut found = vec![false; expected.len()];
    let mut error: Option<String> = None;
    while t0.elapsed() < timeout && found.iter().any(|f| !f) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                for (k, &(i, partition, offset)) in expected.iter().enumerate() {
                    if probes[i].topic == m.topic() && partition == m.partition() && offset == m.offset() {
                        found[k] = true;
                    }
                }
            }
            Some(Err(e)) => {
                let words = broker_words(&e);
                // A refused fetch does not heal within the probe: stop at the broker's words.
                if words.contains("AUTHORIZATION_FAILED") {
                    error = Some(words);
                    break;
                }
                error = Some(words);
            }
            None => {}
        }
    }
    let ms = ms_since(t0);
    for (k, &(i, partition, offset)) in expected.iter().enumerate() {
        let pr = &mut probes[i];
        if !pr.hops.contains_key("consume") {
            add_hop(pr, "consume", ms);
        }
        if found[k] {
            pr.partition.get_or_insert(partition);
            pr.offset.get_or_insert(offset);
        } else if pr.status == ProbeStatus::Ok {
            fail(
                pr,
                "consume",
                read_back_error(partition, offset, timeout, error.as_deref()),
            );
        }
    }
    // Never subscribed, so dropping the consumer leaves no group behind and rebalances nothing.
    drop(consumer);
    probes
}

/// A refused group lookup (FindCoordinator) only times the offset fetch out; librdkafka hands the broker's
/// answer to the consumer as an error event, read here for up to two seconds.
fn refusal(consumer: &BaseConsumer<Context>) -> Option<String> {
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        if let Some(Err(e)) = consumer.poll(Duration::from_millis(100)) {
            let words = broker_words(&e);
            if words.contains("AUTHORIZATION_FAILED") {
                return Some(words);
            }
        }
    }
    None
}

fn read_back_error(partition: i32, offset: i64, timeout: Duration, error: Option<&str>) -> String {
    let what = format!(
        "the probe record at partition {partition} offset {offset} was not read back within {}s",
        timeout.as_secs_f64()
    );
    match error {
        Some(e) => format!("{what} ({e})"),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use super::kafka_name;
    use rdkafka::error::RDKafkaErrorCode;

    #[test]
    fn error_codes_get_the_brokers_names() {
        assert_eq!(
            kafka_name(RDKafkaErrorCode::TopicAuthorizationFailed),
            "TOPIC_AUTHORIZATION_FAILED"
        );
        assert_eq!(
            kafka_name(RDKafkaErrorCode::GroupAuthorizationFailed),
            "GROUP_AUTHORIZATION_FAILED"
        );
        assert_eq!(
            super::code_words(RDKafkaErrorCode::TopicAuthorizationFailed),
            "TOPIC_AUTHORIZATION_FAILED (Broker: Topic authorization failed)"
        );
    }
}
