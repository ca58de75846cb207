//! The Kafka probe (rdkafka): per declared topic, a metadata read (the whole probe in check mode), then
//! one record produced and read back by one fresh consumer group subscribed to every probed topic, which
//! is deleted afterwards. The producer never creates a topic (`allow.auto.create.topics=false`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::config::{ClientConfig, FromClientConfigAndContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::topic_partition_list::Offset;
use serde_json::json;

use super::{Clock, GroupReport, KafkaProbe, KafkaTarget, Mode, ProbeStatus, ms_since, probe_name};
use crate::backend::kafka_rd::{Context, client_config};
use crate::spec::{KafkaConnection, OSLO_PRIORITIES};

/// tansu holds a new member's JoinGroup for about half its session timeout (23 s with librdkafka's
/// 45 s default); 6 s is the smallest `group.min.session.timeout.ms` a Kafka broker accepts by default.
const SESSION_TIMEOUT_MS: &str = "6000";

/// How long a sought record may take to come back before the partition is sought again.
const RESEEK_AFTER: Duration = Duration::from_secs(2);

/// A record listeners can parse: oslo.messaging's Kafka envelope around a notification whose
/// `event_type` is `osa_hybrid_msg.probe`. Every consumer group of the topic receives it once.
pub(super) fn probe_record(topic: &str, token: &str) -> String {
    let priority = topic
        .rsplit('.')
        .next()
        .filter(|p| OSLO_PRIORITIES.contains(p))
        .unwrap_or("info")
        .to_uppercase();
    let message = json!({
        "message_id": token,
        "publisher_id": "osa_hybrid_msg.verify",
        "event_type": "osa_hybrid_msg.probe",
        "priority": priority,
        "payload": {"probe": token},
    });
    json!({"oslo.version": "2.0", "oslo.message": message.to_string()}).to_string()
}

fn code_text(code: RDKafkaErrorCode) -> String {
    format!("{code} ({code:?})")
}

/// Marks the probe failed at `hop` with the error's text (also for the per-service probes).
pub(super) fn fail(probe: &mut KafkaProbe, hop: &'static str, error: String) {
    probe.status = ProbeStatus::Failed;
    probe.hop = Some(hop);
    probe.error = Some(error);
}

/// Probes every target; never returns an error: each outcome is in its probe.
pub async fn probe(
    conn: &KafkaConnection,
    targets: &[KafkaTarget],
    mode: Mode,
) -> (Vec<KafkaProbe>, Option<GroupReport>) {
    let timeout = Duration::from_secs_f64(conn.timeout_seconds());
    let mut probes: Vec<KafkaProbe> = targets.iter().map(KafkaProbe::new).collect();
    let mut clocks: Vec<Clock> = targets.iter().map(|_| Clock::start()).collect();
    let live: Vec<usize> = (0..targets.len()).filter(|&i| targets[i].skip.is_none()).collect();
    if live.is_empty() {
        return (probes, None);
    }

    let mut cfg = client_config(conn);
    let timeout_ms = timeout.as_millis().to_string();
    cfg.set("allow.auto.create.topics", "false")
        .set("message.timeout.ms", &timeout_ms)
        .set("client.id", "osa_hybrid_msg.verify");
    let producer = match FutureProducer::from_config_and_context(&cfg, Context::default()) {
        Ok(p) => Arc::new(p),
        Err(e) => {
            for &i in &live {
                fail(&mut probes[i], "connect", format!("cannot create the producer: {e}"));
            }
            return (probes, None);
        }
    };

    // Metadata, one topic at a time (each a small request); an unknown topic is never created here.
    let names: Vec<String> = live.iter().map(|&i| targets[i].topic.clone()).collect();
    let meta_producer = Arc::clone(&producer);
    let metadata = tokio::time::timeout(
        timeout * u32::try_from(names.len()).unwrap_or(u32::MAX).max(1) + Duration::from_secs(2),
        tokio::task::spawn_blocking(move || {
            names
                .iter()
                .map(|name| {
                    let started = Instant::now();
                    let outcome = match meta_producer.client().fetch_metadata(Some(name), timeout) {
                        Err(e) => Err(e.to_string()),
                        Ok(md) => match md.topics().iter().find(|t| t.name() == name) {
                            None => Err("the broker's metadata does not list it".to_owned()),
                            Some(t) => match t.error() {
                                Some(code) => Err(code_text(code.into())),
                                None if t.partitions().is_empty() => Err("it has no partitions".to_owned()),
                                None => Ok(t.partitions().len()),
                            },
                        },
                    };
                    (started, outcome)
                })
                .collect::<Vec<_>>()
        }),
    )
    .await;
    let mut ready = Vec::new();
    match metadata {
        Ok(Ok(results)) => {
            for (&i, (started, outcome)) in live.iter().zip(results) {
                clocks[i].add("metadata", started);
                match outcome {
                    Ok(partitions) => {
                        probes[i].partitions = Some(partitions);
                        ready.push(i);
                    }
                    Err(e) => fail(&mut probes[i], "metadata", e),
                }
            }
        }
        Ok(Err(e)) => live
            .iter()
            .for_each(|&i| fail(&mut probes[i], "metadata", format!("metadata task failed: {e}"))),
        Err(_) => live.iter().for_each(|&i| {
            fail(
                &mut probes[i],
                "metadata",
                format!("no metadata within {}s", timeout.as_secs_f64()),
            );
        }),
    }

    let group = if mode == Mode::Full && !ready.is_empty() {
        Some(produce_and_consume(&cfg, &producer, targets, &ready, &mut probes, &mut clocks, timeout).await)
    } else {
        None
    };
    for &i in &live {
        let probe = &mut probes[i];
        clocks[i].finish(&mut probe.ms, &mut probe.hops);
        probe.ms = clocks[i].sum();
    }
    // librdkafka's destroy joins its broker threads (~150 ms against tansu): off the caller's path.
    crate::closing::drop_in_background(producer);
    (probes, group)
}

async fn produce_and_consume(
    cfg: &ClientConfig,
    producer: &FutureProducer<Context>,
    targets: &[KafkaTarget],
    ready: &[usize],
    probes: &mut [KafkaProbe],
    clocks: &mut [Clock],
    timeout: Duration,
) -> GroupReport {
    let token_base = probe_name();
    let sends = ready.iter().map(|&i| {
        let topic = targets[i].topic.clone();
        let token = format!("{token_base}.{i}");
        let value = probe_record(&topic, &token);
        async move {
            let started = Instant::now();
            let record = FutureRecord::to(&topic).key("osa_hybrid_msg.probe").payload(&value);
            let outcome = tokio::time::timeout(timeout + Duration::from_secs(2), producer.send(record, timeout)).await;
            (i, token, started, outcome)
        }
    });
    let mut expected = Vec::new();
    for (i, token, started, outcome) in futures::future::join_all(sends).await {
        clocks[i].add("produce", started);
        match outcome {
            Ok(Ok(delivery)) => {
                probes[i].partition = Some(delivery.partition);
                probes[i].offset = Some(delivery.offset);
                expected.push(Expected {
                    index: i,
                    topic: targets[i].topic.clone(),
                    partition: delivery.partition,
                    offset: delivery.offset,
                    token,
                });
            }
            Ok(Err((e, _))) => fail(&mut probes[i], "produce", e.to_string()),
            Err(_) => fail(
                &mut probes[i],
                "produce",
                format!("no delivery report within {}s", timeout.as_secs_f64()),
            ),
        }
    }

    let group_name = probe_name();
    let mut report = GroupReport {
        name: group_name.clone(),
        join_ms: None,
        deleted: false,
        error: None,
    };
    if expected.is_empty() {
        return report;
    }
    let consumer_cfg = {
        let mut c = cfg.clone();
        c.set("group.id", &group_name)
            .set("session.timeout.ms", SESSION_TIMEOUT_MS)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "latest");
        c
    };
    let wanted = expected.clone();
    let consumed = tokio::time::timeout(
        timeout + Duration::from_secs(10),
        tokio::task::spawn_blocking(move || consume(&consumer_cfg, &wanted, timeout)),
    )
    .await;
    match consumed {
        Ok(Ok(outcome)) => {
            report.join_ms = outcome.assigned_ms;
            for e in &expected {
                let clock = &mut clocks[e.index];
                if let Some(ms) = outcome.found.get(&e.index) {
                    clock.add_ms("consume", *ms);
                    continue;
                }
                clock.add_ms("consume", outcome.elapsed_ms);
                let what = match outcome.assigned_ms {
                    None => format!("consumer group '{group_name}' got no partitions"),
                    Some(_) => format!(
                        "the record at partition {} offset {} was not read back",
                        e.partition, e.offset
                    ),
                };
                let seconds = timeout.as_secs_f64();
                let why = match &outcome.error {
                    Some(err) => format!("{what} within {seconds}s ({err})"),
                    None => format!("{what} within {seconds}s"),
                };
                fail(&mut probes[e.index], "consume", why);
            }
        }
        Ok(Err(e)) => expected
            .iter()
            .for_each(|x| fail(&mut probes[x.index], "consume", format!("consumer task failed: {e}"))),
        Err(_) => expected.iter().for_each(|x| {
            fail(
                &mut probes[x.index],
                "consume",
                format!("the consumer did not finish within {}s", timeout.as_secs_f64() + 10.0),
            );
        }),
    }

    // The group committed nothing; deleting it removes the last trace of the probe on the broker.
    match AdminClient::from_config_and_context(cfg, Context::default()) {
        Err(e) => report.error = Some(format!("cannot create the admin client: {e}")),
        Ok(admin) => {
            let options = AdminOptions::new()
                .request_timeout(Some(timeout))
                .operation_timeout(Some(timeout));
            match tokio::time::timeout(
                timeout + Duration::from_secs(2),
                admin.delete_groups(&[group_name.as_str()], &options),
            )
            .await
            {
                Ok(Ok(results)) => match results.into_iter().next() {
                    Some(Ok(_) | Err((_, RDKafkaErrorCode::GroupIdNotFound))) => report.deleted = true,
                    Some(Err((_, code))) => report.error = Some(code_text(code)),
                    None => report.error = Some("the broker returned no result".into()),
                },
                Ok(Err(e)) => report.error = Some(e.to_string()),
                Err(_) => report.error = Some(format!("no answer within {}s", timeout.as_secs_f64())),
            }
            crate::closing::drop_in_background(admin);
        }
    }
    report
}

#[derive(Clone)]
struct Expected {
    index: usize,
    topic: String,
    partition: i32,
    offset: i64,
    token: String,
}

struct Consumed {
    /// Target index → ms from the consumer's start to the record.
    found: HashMap<usize, f64>,
    assigned_ms: Option<f64>,
    elapsed_ms: f64,
    error: Option<String>,
}

/// Blocking: subscribes a fresh group, seeks each probed partition to its record once assigned (new
/// groups start at the end), and polls until every record is back or `timeout` has passed.
fn consume(cfg: &ClientConfig, expected: &[Expected], timeout: Duration) -> Consumed {
    let started = Instant::now();
    let mut out = Consumed {
        found: HashMap::new(),
        assigned_ms: None,
        elapsed_ms: 0.0,
        error: None,
    };
    let consumer = match BaseConsumer::from_config_and_context(cfg, Context::default()) {
        Ok(c) => c,
        Err(e) => {
            out.error = Some(format!("cannot create the consumer: {e}"));
            return out;
        }
    };
    let topics: Vec<&str> = expected
        .iter()
        .map(|e| e.topic.as_str())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if let Err(e) = consumer.subscribe(&topics) {
        out.error = Some(e.to_string());
        return out;
    }
    // Target index → when its partition was last sought to the record.
    let mut sought: HashMap<usize, Instant> = HashMap::new();
    while started.elapsed() < timeout && out.found.len() < expected.len() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let payload = m.payload().map(String::from_utf8_lossy).unwrap_or_default();
                if let Some(e) = expected.iter().find(|e| {
                    (e.topic == m.topic() && e.partition == m.partition() && e.offset == m.offset())
                        || payload.contains(&e.token)
                }) {
                    out.found.entry(e.index).or_insert_with(|| ms_since(started));
                }
            }
            Some(Err(e)) => out.error = Some(e.to_string()),
            None => {}
        }
        let Ok(assignment) = consumer.assignment() else {
            continue;
        };
        if assignment.count() == 0 {
            continue;
        }
        out.assigned_ms.get_or_insert_with(|| ms_since(started));
        for e in expected {
            // Seek again if the record has not come back a while after a seek: a seek issued while
            // the partition's start offset was still being looked up can be overtaken by that lookup.
            let due = sought.get(&e.index).is_none_or(|at| at.elapsed() > RESEEK_AFTER);
            if due
                && !out.found.contains_key(&e.index)
                && assignment.find_partition(&e.topic, e.partition).is_some()
                && consumer
                    .seek(&e.topic, e.partition, Offset::Offset(e.offset), Duration::from_secs(1))
                    .is_ok()
            {
                sought.insert(e.index, Instant::now());
            }
        }
    }
    out.elapsed_ms = ms_since(started);
    // Dropping the consumer closes it: it leaves the group, so the group can be deleted.
    drop(consumer);
    out
}

#[cfg(test)]
mod tests {
    use super::probe_record;

    #[test]
    fn the_probe_record_is_an_oslo_envelope_with_the_topic_priority() {
        let value: serde_json::Value = serde_json::from_str(&probe_record("notifications.error", "t1")).unwrap();
        assert_eq!(value["oslo.version"], "2.0");
        let message: serde_json::Value = serde_json::from_str(value["oslo.message"].as_str().unwrap()).unwrap();
        assert_eq!(message["priority"], "ERROR");
        assert_eq!(message["event_type"], "osa_hybrid_msg.probe");
        assert_eq!(message["payload"]["probe"], "t1");
        let other: serde_json::Value = serde_json::from_str(&probe_record("my-topic", "t2")).unwrap();
        assert!(other["oslo.message"].as_str().unwrap().contains("\"INFO\""));
    }
}
