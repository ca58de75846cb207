//! The `services:` shorthand: per OpenStack service, what OSA's `mq_setup` role declares for a rabbit
//! bus (the vhost list with states, the user with `.* .* .*` on each present vhost, the policies on each
//! present vhost), and for a kafka notify bus the `<topic>.<priority>` topics mq_setup never made.
//! When the Kafka connection uses SASL, a kafka notify bus also declares the service's SCRAM user and the
//! ACLs it needs and no more: Write on each topic it produces to; for a listener (`consumes`), Read on each
//! topic it reads and on its consumer group. Write and Read imply Describe, which the clients' metadata
//! requests need; no wildcard, prefix, cluster or super-user grant is ever made.
//!
//! Entries have the shape the `oslomsg` lookup emits, so its list can be passed verbatim: `name`, `rpc`,
//! `notify`, plus informational keys (`<name>_oslomsg_*`, the transport URLs and the option dicts) that
//! are checked against `rpc`/`notify` and otherwise ignored.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::kafka::{
    DEFAULT_NOTIFICATION_TOPIC, NotificationsSpec, OSLO_PRIORITIES, TopicSpec, check_topic_name, validate_notifications,
};
use super::kafka_security::{AclOperation, AclResourceType, AclSpec, KafkaUserSpec, ScramMechanism};
use super::names::{check_rabbit_credential, check_vhost_name, parse_vhost_list};
use super::rabbit::{ApplyTo, PermissionSpec, PolicySpec, State, UpdatePassword, UserSpec, VhostSpec, check_regex};
use super::{SaslMechanism, shown};
use crate::error::{Error, Result};

/// The group an oslo.messaging Kafka listener joins when it has no pool (`[oslo_messaging_kafka]
/// consumer_group`'s default). Ceilometer's notification agent and designate's sink pass no pool by default.
pub const DEFAULT_CONSUMER_GROUP: &str = "oslo_messaging_consumer";

/// The Kafka connection logs in with SASL (its mechanism, when set): services get SCRAM users and ACLs.
#[derive(Debug, Clone, Copy)]
pub struct KafkaSasl {
    pub mechanism: Option<SaslMechanism>,
}

/// Keys of a lookup entry that describe the service for its config files; the module ignores them.
const INFORMATIONAL_KEYS: [&str; 4] = [
    "rpc_transport_url",
    "notify_transport_url",
    "oslo_messaging_rabbit",
    "oslo_messaging_kafka",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Rabbit,
    Kafka,
    None,
}

impl Transport {
    /// Every transport, in the order messages list them.
    pub const ALL: [Transport; 3] = [Transport::Rabbit, Transport::Kafka, Transport::None];

    /// The transport spelled `name` as oslo.messaging (and the serde name) spells it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Rabbit => "rabbit",
            Transport::Kafka => "kafka",
            Transport::None => "none",
        }
    }
}

#[derive(Clone, Deserialize)]
pub struct ServiceSpec {
    pub name: String,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_obj")]
    pub rpc: Option<BusSpec>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_obj")]
    pub notify: Option<BusSpec>,
    /// The lookup's informational keys; anything else is refused in `expand`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// Hand-written: `extra` carries `<name>_oslomsg_*_password`.
impl std::fmt::Debug for ServiceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSpec")
            .field("name", &self.name)
            .field("rpc", &self.rpc)
            .field("notify", &self.notify)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One bus of a service. For kafka, `vhost`, `policies` and the credentials are not used.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusSpec {
    #[serde(deserialize_with = "crate::spec::strict::name")]
    pub transport: Transport,
    /// False: declare nothing for this bus (OSA's `<svc>_oslomsg_notify_configure`). Default true.
    #[serde(default)]
    pub configure: Option<bool>,
    /// Default: the service name.
    #[serde(default)]
    pub userid: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// A vhost name, or OSA's list of `{name, state}`.
    #[serde(default)]
    pub vhost: Option<Value>,
    /// Declared on every present vhost; the first policy of each name wins (service's before global).
    #[serde(default, deserialize_with = "crate::spec::strict::opt_objs")]
    pub policies: Option<Vec<ServicePolicy>>,
    /// Kafka: `[oslo_messaging_notifications] topics`, default `[notifications]`.
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    /// Kafka: default all seven oslo.messaging priorities.
    #[serde(default)]
    pub priorities: Option<Vec<String>>,
    #[serde(default)]
    pub partitions: Option<i32>,
    #[serde(default)]
    pub replication_factor: Option<i32>,
    #[serde(default)]
    pub config: Option<Map<String, Value>>,
    /// Kafka: the topics this service's listeners read, as `[oslo_messaging_notifications] topics` names
    /// them (ceilometer `notifications`, designate `notifications_designate`); created like `topics`.
    #[serde(default)]
    pub consumes: Option<Vec<String>>,
    /// Kafka: the consumer group of those listeners (oslo.messaging: the listener's pool, else
    /// `[oslo_messaging_kafka] consumer_group`). Default `oslo_messaging_consumer`.
    #[serde(default)]
    pub consumer_group: Option<String>,
    /// Kafka with SASL: the service's SCRAM mechanism (`[oslo_messaging_kafka] sasl_mechanism`); default
    /// the connection's.
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub sasl_mechanism: Option<SaslMechanism>,
}

impl std::fmt::Debug for BusSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BusSpec")
            .field("transport", &self.transport)
            .field("configure", &self.configure)
            .field("userid", &self.userid)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .field("vhost", &self.vhost)
            .field("policies", &self.policies)
            .field("topics", &self.topics)
            .field("consumes", &self.consumes)
            .field("consumer_group", &self.consumer_group)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .finish_non_exhaustive()
    }
}

/// A policy as OSA writes it (`tags` for the definition), without a vhost.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServicePolicy {
    pub name: String,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub apply_to: Option<ApplyTo>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default, alias = "tags")]
    pub definition: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "crate::spec::strict::opt_name")]
    pub state: Option<State>,
}

/// What `services` expands to, each object with the request path that produced it.
#[derive(Debug, Default)]
pub struct Expanded {
    pub vhosts: Vec<(String, VhostSpec)>,
    pub users: Vec<(String, UserSpec)>,
    pub policies: Vec<(String, PolicySpec)>,
    pub topics: Vec<(String, TopicSpec)>,
    pub kafka_users: Vec<(String, KafkaUserSpec)>,
    pub kafka_acls: Vec<(String, AclSpec)>,
    pub kafka_principals: Vec<ServicePrincipal>,
}

/// One service's Kafka principal on a SASL Kafka, for `verify`: what it produces and consumes, as itself.
#[derive(Clone)]
pub struct ServicePrincipal {
    pub service: String,
    pub user: String,
    pub password: String,
    pub mechanism: ScramMechanism,
    /// `<topic>.<priority>` topics it writes.
    pub produces: Vec<String>,
    /// `<topic>.<priority>` topics its listeners read, and their group.
    pub consumes: Vec<String>,
    pub group: Option<String>,
}

// Hand-written so that the password can never reach a log line.
impl std::fmt::Debug for ServicePrincipal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServicePrincipal")
            .field("service", &self.service)
            .field("user", &self.user)
            .field("mechanism", &self.mechanism)
            .field("produces", &self.produces)
            .field("consumes", &self.consumes)
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

fn state_word(s: State) -> &'static str {
    match s {
        State::Present => "present",
        State::Absent => "absent",
    }
}

fn same_policy(a: &PolicySpec, b: &PolicySpec) -> bool {
    a.pattern == b.pattern
        && a.apply_to() == b.apply_to()
        && a.priority() == b.priority()
        && a.definition == b.definition
        && a.state() == b.state()
}

fn same_topic(a: &TopicSpec, b: &TopicSpec) -> bool {
    a.partitions == b.partitions
        && a.replication_factor == b.replication_factor
        && a.config == b.config
        && a.state() == b.state()
}

/// Index of each object in `Expanded`, for de-duplication: same object from two places is declared once.
#[derive(Default)]
struct Seen {
    vhosts: HashMap<String, usize>,
    users: HashMap<String, usize>,
    /// (vhost, name) → (index, service index).
    policies: HashMap<(String, String), (usize, usize)>,
    topics: HashMap<String, usize>,
    kafka_users: HashMap<String, usize>,
}

/// Expands every entry. rpc and notify on the same vhost and user yield one vhost and one user; the
/// same object from two services is declared once if the two agree, and refused if they do not.
/// `sasl` is the Kafka connection's SASL mechanism when it uses SASL: only then are Kafka users and ACLs
/// declared (without SASL the broker knows no principal to authorize).
pub fn expand(services: &[ServiceSpec], sasl: Option<KafkaSasl>) -> Result<Expanded> {
    let mut out = Expanded::default();
    let mut seen = Seen::default();
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, s) in services.iter().enumerate() {
        let p = format!("services[{i}]");
        if s.name.trim().is_empty() {
            return Err(Error::spec(format!("{p}.name"), "service name must not be empty"));
        }
        if let Some(first) = names.insert(s.name.as_str(), i) {
            return Err(Error::spec(
                format!("{p}.name"),
                format!(
                    "service '{}' is also listed at services[{first}]; list each once",
                    s.name
                ),
            ));
        }
        check_informational(&p, s)?;
        if let Some(rpc) = &s.rpc
            && rpc.transport == Transport::Kafka
        {
            return Err(Error::spec(
                format!("{p}.rpc.transport"),
                "kafka cannot carry RPC: oslo.messaging's kafka driver raises NotImplementedError for RPC; use rabbit",
            ));
        }
        for (bus, spec) in [("rpc", &s.rpc), ("notify", &s.notify)] {
            let Some(b) = spec else { continue };
            if !b.configure.unwrap_or(true) {
                continue;
            }
            let bp = format!("{p}.{bus}");
            match b.transport {
                Transport::None => {}
                Transport::Rabbit => expand_rabbit(&bp, i, s, b, &mut out, &mut seen)?,
                Transport::Kafka => expand_kafka(&bp, s, b, sasl, &mut out, &mut seen)?,
            }
        }
    }
    Ok(out)
}

/// Refuses unknown keys, and lookup keys that contradict `rpc`/`notify` (someone edited one and not the other).
fn check_informational(p: &str, s: &ServiceSpec) -> Result<()> {
    let prefix = format!("{}_oslomsg_", s.name);
    for (key, value) in &s.extra {
        if INFORMATIONAL_KEYS.contains(&key.as_str()) {
            continue;
        }
        let Some(suffix) = key.strip_prefix(&prefix) else {
            return Err(Error::spec(
                format!("{p}.{key}"),
                format!(
                    "unknown key; a service entry has name, rpc and notify, and may carry the oslomsg lookup's \
                     {prefix}* variables, transport URLs and option dicts"
                ),
            ));
        };
        for (bus, spec) in [("rpc", &s.rpc), ("notify", &s.notify)] {
            let Some(b) = spec else { continue };
            let Some(field) = suffix.strip_prefix(bus).and_then(|f| f.strip_prefix('_')) else {
                continue;
            };
            let given = match field {
                "transport" => Some(Value::String(b.transport.as_str().to_owned())),
                "userid" => Some(Value::String(b.userid.clone().unwrap_or_else(|| s.name.clone()))),
                "password" => Some(b.password.clone().map_or(Value::Null, Value::String)),
                "vhost" => b.vhost.clone(),
                _ => None,
            };
            if let Some(given) = given
                && given != *value
            {
                // Never echo either value: one may be a password.
                return Err(Error::spec(
                    format!("{p}.{key}"),
                    format!(
                        "differs from {p}.{bus}.{field}; the module declares what {bus} says, so change both or \
                         drop {key}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn expand_rabbit(
    bp: &str,
    service_index: usize,
    s: &ServiceSpec,
    b: &BusSpec,
    out: &mut Expanded,
    seen: &mut Seen,
) -> Result<()> {
    let userid = b.userid.clone().unwrap_or_else(|| s.name.clone());
    if userid.is_empty() {
        return Err(Error::spec(format!("{bp}.userid"), "must not be empty"));
    }
    check_rabbit_credential(&format!("{bp}.userid"), "user name", &userid)?;
    let Some(password) = &b.password else {
        return Err(Error::spec(
            format!("{bp}.password"),
            format!(
                "is required to declare user '{userid}' (OSA: {}_oslomsg_{}_password)",
                s.name,
                bus_name(bp)
            ),
        ));
    };
    if password.is_empty() {
        return Err(Error::spec(format!("{bp}.password"), "must not be empty"));
    }
    check_rabbit_credential(&format!("{bp}.password"), "password", password)?;
    let Some(vhost_value) = &b.vhost else {
        return Err(Error::spec(
            format!("{bp}.vhost"),
            format!(
                "is required for a rabbit bus: a name, or OSA's list such as [{{name: /{0}, state: absent}}, \
                 {{name: {0}, state: present}}]",
                s.name
            ),
        ));
    };
    let vhosts = parse_vhost_list(&format!("{bp}.vhost"), vhost_value)?;
    let legacy = matches!(vhost_value, Value::String(_));
    let mut present = Vec::new();
    for (j, (name, is_present)) in vhosts.iter().enumerate() {
        let vp = if legacy {
            format!("{bp}.vhost")
        } else {
            format!("{bp}.vhost[{j}]")
        };
        if name.trim().is_empty() {
            return Err(Error::spec(format!("{vp}.name"), "vhost name must not be empty"));
        }
        let state = if *is_present { State::Present } else { State::Absent };
        if *is_present {
            check_vhost_name(&vp, name)?;
            present.push(name.clone());
        }
        if let Some(&k) = seen.vhosts.get(name) {
            let (origin, other) = &out.vhosts[k];
            if other.state() != state {
                return Err(Error::spec(
                    vp,
                    format!(
                        "vhost '{name}' is {} here but {} at {origin}; a vhost has one state",
                        state_word(state),
                        state_word(other.state())
                    ),
                ));
            }
        } else {
            seen.vhosts.insert(name.clone(), out.vhosts.len());
            out.vhosts.push((
                vp,
                VhostSpec {
                    name: name.clone(),
                    state: Some(state),
                    description: None,
                    tags: None,
                    default_queue_type: None,
                    protected: None,
                },
            ));
        }
    }
    add_user(bp, userid, password, &present, out, seen)?;
    add_policies(bp, service_index, b, &present, out, seen)
}

/// The user: `.* .* .*` on each present vhost, other permissions untouched, password always enforced.
fn add_user(
    bp: &str,
    userid: String,
    password: &str,
    present: &[String],
    out: &mut Expanded,
    seen: &mut Seen,
) -> Result<()> {
    let permissions: Vec<PermissionSpec> = present
        .iter()
        .map(|v| PermissionSpec {
            vhost: v.clone(),
            configure: ".*".into(),
            write: ".*".into(),
            read: ".*".into(),
        })
        .collect();
    let up = format!("{bp}.userid");
    if let Some(&k) = seen.users.get(&userid) {
        let (origin, user) = &mut out.users[k];
        if user.password.as_deref() != Some(password) {
            return Err(Error::spec(
                format!("{bp}.password"),
                format!("user '{userid}' is declared at {origin} with another password; a user has one password"),
            ));
        }
        let perms = user.permissions.get_or_insert_with(Vec::new);
        for perm in permissions {
            if !perms.iter().any(|x| x.vhost == perm.vhost) {
                perms.push(perm);
            }
        }
    } else {
        seen.users.insert(userid.clone(), out.users.len());
        out.users.push((
            up,
            UserSpec {
                name: userid,
                password: Some(password.to_owned()),
                password_hash: None,
                hashing_algorithm: None,
                tags: None,
                update_password: Some(UpdatePassword::Always),
                state: Some(State::Present),
                permissions: Some(permissions),
                topic_permissions: None,
                purge_permissions: Some(false),
            },
        ));
    }
    Ok(())
}

/// Policies on present vhosts only; within a service the first of each name wins (mq_setup's
/// `unique(attribute='name')`, and its skipping of notify policies on the RPC vhost).
fn add_policies(
    bp: &str,
    service_index: usize,
    b: &BusSpec,
    present: &[String],
    out: &mut Expanded,
    seen: &mut Seen,
) -> Result<()> {
    let policies = b.policies.as_deref().unwrap_or_default();
    for (k, pol) in policies.iter().enumerate() {
        check_service_policy(&format!("{bp}.policies[{k}]"), pol)?;
    }
    for vhost in present {
        for (k, pol) in policies.iter().enumerate() {
            let pp = format!("{bp}.policies[{k}]");
            let spec = PolicySpec {
                name: pol.name.clone(),
                vhost: vhost.clone(),
                pattern: pol.pattern.clone(),
                apply_to: pol.apply_to,
                priority: pol.priority,
                definition: pol.definition.clone(),
                state: pol.state,
            };
            let key = (vhost.clone(), pol.name.clone());
            if let Some(&(idx, owner)) = seen.policies.get(&key) {
                let (origin, other) = &out.policies[idx];
                if owner != service_index && !same_policy(other, &spec) {
                    return Err(Error::spec(
                        pp,
                        format!(
                            "policy '{}' on vhost '{vhost}' is declared differently at {origin}; make them agree or \
                             give the services separate vhosts",
                            pol.name
                        ),
                    ));
                }
            } else {
                seen.policies.insert(key, (out.policies.len(), service_index));
                out.policies.push((pp, spec));
            }
        }
    }
    Ok(())
}

/// "rpc" or "notify" from a bus path `services[i].rpc`.
fn bus_name(bp: &str) -> &str {
    bp.rsplit('.').next().unwrap_or(bp)
}

fn check_service_policy(pp: &str, pol: &ServicePolicy) -> Result<()> {
    if pol.name.trim().is_empty() {
        return Err(Error::spec(format!("{pp}.name"), "policy name must not be empty"));
    }
    if pol.state.unwrap_or_default() == State::Present {
        let Some(pattern) = &pol.pattern else {
            return Err(Error::spec(
                format!("{pp}.pattern"),
                "is required for a present policy, e.g. '.*'",
            ));
        };
        check_regex(&format!("{pp}.pattern"), pattern)?;
        if pol.definition.as_ref().is_none_or(Map::is_empty) {
            return Err(Error::spec(
                format!("{pp}.definition"),
                "is required for a present policy and must have a key, e.g. {queue-version: 2}",
            ));
        }
    }
    if let Some(prio) = pol.priority
        && i32::try_from(prio).is_err()
    {
        return Err(Error::spec(
            format!("{pp}.priority"),
            format!("{prio} does not fit a 32-bit integer"),
        ));
    }
    Ok(())
}

fn expand_kafka(
    bp: &str,
    s: &ServiceSpec,
    b: &BusSpec,
    sasl: Option<KafkaSasl>,
    out: &mut Expanded,
    seen: &mut Seen,
) -> Result<()> {
    // The same checks as the request's own `notifications` block, under this bus's path.
    validate_notifications(
        bp,
        &NotificationsSpec {
            topics: b.topics.clone(),
            priorities: b.priorities.clone(),
            partitions: b.partitions,
            replication_factor: b.replication_factor,
            config: b.config.clone(),
            state: Some(State::Present),
        },
    )?;
    let topics = b
        .topics
        .clone()
        .unwrap_or_else(|| vec![DEFAULT_NOTIFICATION_TOPIC.to_owned()]);
    let priorities = b
        .priorities
        .clone()
        .unwrap_or_else(|| OSLO_PRIORITIES.iter().map(|p| (*p).to_owned()).collect());
    let consumes = b.consumes.clone().unwrap_or_default();
    check_consumes(bp, b, &consumes)?;
    let mut produced = Vec::new();
    let mut read = Vec::new();
    for (field, list, names) in [("topics", &topics, &mut produced), ("consumes", &consumes, &mut read)] {
        for (k, topic) in list.iter().enumerate() {
            for prio in &priorities {
                let name = format!("{topic}.{prio}");
                let tp = format!("{bp}.{field}[{k}]");
                check_topic_name(&tp, &name)?;
                add_topic(&tp, b, &name, out, seen)?;
                names.push(name);
            }
        }
    }
    let Some(KafkaSasl { mechanism }) = sasl else {
        return Ok(());
    };
    let userid = add_kafka_user(bp, s, b, mechanism, out, seen)?;
    let principal = format!("User:{userid}");
    let user = &out.kafka_users[seen.kafka_users[&userid]].1;
    out.kafka_principals.push(ServicePrincipal {
        service: s.name.clone(),
        user: userid.clone(),
        password: user.password.clone().unwrap_or_default(),
        mechanism: user.mechanism(),
        produces: produced.clone(),
        consumes: read.clone(),
        group: (!read.is_empty()).then(|| {
            b.consumer_group
                .clone()
                .unwrap_or_else(|| DEFAULT_CONSUMER_GROUP.to_owned())
        }),
    });
    let acl = |resource_type, name: &str, operation| AclSpec {
        principal: principal.clone(),
        resource_type,
        resource_name: Some(name.to_owned()),
        pattern_type: None,
        operations: vec![operation],
        permission: None,
        host: None,
        state: None,
    };
    for name in &produced {
        out.kafka_acls.push((
            format!("{bp}.topics"),
            acl(AclResourceType::Topic, name, AclOperation::Write),
        ));
    }
    if !read.is_empty() {
        for name in &read {
            out.kafka_acls.push((
                format!("{bp}.consumes"),
                acl(AclResourceType::Topic, name, AclOperation::Read),
            ));
        }
        let group = b.consumer_group.as_deref().unwrap_or(DEFAULT_CONSUMER_GROUP);
        out.kafka_acls.push((
            format!("{bp}.consumer_group"),
            acl(AclResourceType::Group, group, AclOperation::Read),
        ));
    }
    Ok(())
}

fn add_topic(tp: &str, b: &BusSpec, name: &str, out: &mut Expanded, seen: &mut Seen) -> Result<()> {
    let spec = TopicSpec {
        name: name.to_owned(),
        partitions: b.partitions,
        replication_factor: b.replication_factor,
        config: b.config.clone(),
        state: Some(State::Present),
    };
    if let Some(&idx) = seen.topics.get(name) {
        let (origin, other) = &out.topics[idx];
        if !same_topic(other, &spec) {
            return Err(Error::spec(
                tp,
                format!(
                    "topic '{name}' is declared with other partitions, replication factor or config at {origin}; \
                     make them agree"
                ),
            ));
        }
    } else {
        seen.topics.insert(name.to_owned(), out.topics.len());
        out.topics.push((tp.to_owned(), spec));
    }
    Ok(())
}

/// `consumes` names topics as `topics` does; `consumer_group` is a group name a listener can join.
fn check_consumes(bp: &str, b: &BusSpec, consumes: &[String]) -> Result<()> {
    for (i, t) in consumes.iter().enumerate() {
        check_topic_name(&format!("{bp}.consumes[{i}]"), t)?;
        if let Some(first) = consumes[..i].iter().position(|x| x == t) {
            return Err(Error::spec(
                format!("{bp}.consumes[{i}]"),
                format!("'{t}' is also listed at {bp}.consumes[{first}]; list each topic once"),
            ));
        }
    }
    if let Some(group) = &b.consumer_group {
        if consumes.is_empty() {
            return Err(Error::spec(
                format!("{bp}.consumer_group"),
                "is the group of the service's listeners, but consumes lists no topic; add the topics the service reads, or drop consumer_group",
            ));
        }
        if group.is_empty() || group == "*" {
            return Err(Error::spec(
                format!("{bp}.consumer_group"),
                "must name one group; wildcard groups are not granted here",
            ));
        }
        super::rabbit::check_no_control(&format!("{bp}.consumer_group"), group, "the group name")?;
    }
    Ok(())
}

/// The service's SCRAM user for a SASL Kafka (the password always enforced, as for RabbitMQ); returns its name.
fn add_kafka_user(
    bp: &str,
    s: &ServiceSpec,
    b: &BusSpec,
    connection_mechanism: Option<SaslMechanism>,
    out: &mut Expanded,
    seen: &mut Seen,
) -> Result<String> {
    let userid = b.userid.clone().unwrap_or_else(|| s.name.clone());
    if userid.is_empty() {
        return Err(Error::spec(format!("{bp}.userid"), "must not be empty"));
    }
    super::rabbit::check_no_control(&format!("{bp}.userid"), &userid, "the user name")?;
    if userid.contains(',') || userid.contains('=') || userid == "*" {
        return Err(Error::spec(
            format!("{bp}.userid"),
            format!(
                "'{}' contains ',' or '=' (which SCRAM escapes in a way some clients do not) or is '*'; choose another name",
                shown(&userid)
            ),
        ));
    }
    let password = match &b.password {
        Some(p) if !p.is_empty() => p.clone(),
        Some(_) => return Err(Error::spec(format!("{bp}.password"), "must not be empty")),
        None => {
            return Err(Error::spec(
                format!("{bp}.password"),
                format!(
                    "is required: the Kafka connection uses SASL, so the service logs in as SCRAM user '{userid}' \
                     (OSA: {}_oslomsg_notify_password)",
                    s.name
                ),
            ));
        }
    };
    let (mechanism, from) = match (b.sasl_mechanism, connection_mechanism) {
        (Some(m), _) => (m, format!("{bp}.sasl_mechanism")),
        (None, Some(m)) => (m, "kafka.sasl_mechanism".to_owned()),
        (None, None) => (SaslMechanism::ScramSha512, String::new()),
    };
    let mechanism = match mechanism {
        SaslMechanism::ScramSha256 => ScramMechanism::Sha256,
        SaslMechanism::ScramSha512 => ScramMechanism::Sha512,
        SaslMechanism::Plain => {
            return Err(Error::spec(
                if b.sasl_mechanism.is_some() {
                    from
                } else {
                    format!("{bp}.sasl_mechanism")
                },
                "PLAIN users live in the brokers' JAAS configuration, which no admin request changes; the module \
                 declares SCRAM users, so set the service's sasl_mechanism to SCRAM-SHA-512 or SCRAM-SHA-256",
            ));
        }
    };
    if let Some(&k) = seen.kafka_users.get(&userid) {
        let (origin, user) = &out.kafka_users[k];
        if user.password.as_deref() != Some(password.as_str()) || user.mechanism() != mechanism {
            return Err(Error::spec(
                format!("{bp}.password"),
                format!(
                    "Kafka user '{userid}' is declared at {origin} with another password or mechanism; a user has one"
                ),
            ));
        }
    } else {
        seen.kafka_users.insert(userid.clone(), out.kafka_users.len());
        out.kafka_users.push((
            format!("{bp}.userid"),
            KafkaUserSpec {
                name: userid.clone(),
                password: Some(password),
                mechanism: Some(mechanism),
                iterations: None,
                update_password: Some(UpdatePassword::Always),
                state: Some(State::Present),
            },
        ));
    }
    Ok(userid)
}
