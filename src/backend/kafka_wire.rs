//! The Kafka read of a run without librdkafka: Metadata and DescribeConfigs sent back to back on one
//! connection to the first bootstrap server that accepts one. librdkafka needs two connections for the same read (the
//! bootstrap server for metadata, then a broker it learned for DescribeConfigs), each a TLS and SASL
//! handshake, plus its threads: over SASL_SSL that was most of a no-op run (bench/RESULTS.md).
//!
//! Only the read is done here, and only for the connections it knows: PLAINTEXT, SSL with a CA file,
//! SASL_PLAINTEXT and SASL_SSL with PLAIN or SCRAM, no client certificate. Anything else, and any
//! failure at all (a refused login, an unreachable server, an answer it does not expect), returns
//! `None` with the reason, and the caller reads through librdkafka, whose errors are the ones a run
//! reports. Writes and the security reads always go through librdkafka.
//!
//! Request versions: Metadata v4 and DescribeConfigs v1, SaslHandshake v1 and SaslAuthenticate v0;
//! none is flexible (no tagged fields), all are answered by Kafka 1.1 to 4.x (KIP-896 removed only
//! older ones).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::observed::{KafkaSnapshot, ObservedTopic};
use crate::spec::{KafkaConnection, SaslMechanism, SecurityProtocol};

const CLIENT_ID: &[u8] = b"osa_hybrid_msg";
const METADATA: i16 = 3;
const DESCRIBE_CONFIGS: i16 = 32;
const SASL_HANDSHAKE: i16 = 17;
const SASL_AUTHENTICATE: i16 = 36;
/// DescribeConfigs' resource type for a topic, and the config source of a topic's own override.
const RESOURCE_TOPIC: i8 = 2;
const SOURCE_TOPIC_CONFIG: i8 = 1;
/// Kafka's UNKNOWN_TOPIC_OR_PARTITION: a declared topic that does not exist yet.
const UNKNOWN_TOPIC: i16 = 3;
/// An answer larger than this is not one of ours (a TLS alert read as plain text, a wrong port).
const MAX_ANSWER: usize = 256 << 20;
/// The wire read's own limit; librdkafka then has the rest of the run's budget.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(10);

/// Whether the connection is one this reader speaks.
pub fn supports(conn: &KafkaConnection) -> bool {
    let tls = matches!(conn.protocol(), SecurityProtocol::Ssl | SecurityProtocol::SaslSsl);
    let sasl = matches!(
        conn.protocol(),
        SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
    );
    conn.ssl_certfile.is_none()
        && conn.ssl_keyfile.is_none()
        && (!tls || conn.ssl_cafile.is_some())
        && (!sasl || (conn.sasl_mechanism.is_some() && conn.sasl_username.is_some() && conn.sasl_password.is_some()))
        && !conn.bootstrap().is_empty()
        && conn.bootstrap().iter().all(|s| host_port(s).is_some())
}

/// Reads the topics (all of them, from the metadata) and the configs of `topics` that exist, within
/// half of `remaining` (at most ten seconds), so that a server that accepts the connection and then
/// stalls leaves librdkafka the other half. `Err` carries the reason, never a secret.
pub async fn snapshot(conn: &KafkaConnection, topics: &[String], remaining: Duration) -> Result<KafkaSnapshot, String> {
    let limit = (remaining / 2).min(ATTEMPT_LIMIT);
    match tokio::time::timeout(limit, read(conn, topics)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} s", limit.as_secs_f64())),
    }
}

async fn read(conn: &KafkaConnection, topics: &[String]) -> Result<KafkaSnapshot, String> {
    let (server, host, tcp) = connect(conn).await?;
    match conn.protocol() {
        SecurityProtocol::Plaintext | SecurityProtocol::SaslPlaintext => session(tcp, conn, topics).await,
        SecurityProtocol::Ssl | SecurityProtocol::SaslSsl => {
            let tls = tls_config(conn)?;
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| format!("'{host}' is not a TLS server name: {e}"))?;
            let stream = tokio_rustls::TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS with {server}: {e}"))?;
            session(stream, conn, topics).await
        }
    }
}

/// The first bootstrap server that accepts a connection, in the order given (librdkafka's sparse
/// connections also start with one and go on to the next when it is down).
async fn connect(conn: &KafkaConnection) -> Result<(String, String, TcpStream), String> {
    let mut failed = Vec::new();
    for server in conn.bootstrap() {
        let (host, port) = host_port(&server).ok_or_else(|| format!("'{server}' is not HOST:PORT"))?;
        match TcpStream::connect((host.as_str(), port)).await {
            Ok(tcp) => {
                tcp.set_nodelay(true).map_err(|e| e.to_string())?;
                return Ok((server, host, tcp));
            }
            Err(e) => failed.push(format!("{server}: {e}")),
        }
    }
    Err(format!(
        "no bootstrap server accepts a connection ({})",
        failed.join("; ")
    ))
}

/// `host:port` or `[v6]:port`.
fn host_port(server: &str) -> Option<(String, u16)> {
    let (host, port) = server.rsplit_once(':')?;
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    (!host.is_empty()).then_some(())?;
    Some((host.to_owned(), port.parse().ok()?))
}

/// The given CA alone, as librdkafka's `ssl.ca.location` means, with the server's name checked as
/// librdkafka checks it (`ssl.endpoint.identification.algorithm=https`, its default).
fn tls_config(conn: &KafkaConnection) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let path = conn.ssl_cafile.as_deref().ok_or("no CA file")?;
    let pem = std::fs::read(path).map_err(|e| format!("read {path}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("{path}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{path}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{path} holds no certificate"));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The Kafka protocol over one established stream: requests numbered from 1.
struct Wire<S> {
    stream: S,
    next: i32,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    /// One request frame: size, header v1 (key, version, correlation id, client id), body.
    fn frame(&mut self, key: i16, version: i16, body: &[u8]) -> (i32, Vec<u8>) {
        let id = self.next;
        self.next += 1;
        let mut out = Vec::with_capacity(body.len() + 14 + CLIENT_ID.len());
        let size = 10 + CLIENT_ID.len() + body.len();
        out.extend(i32::try_from(size).unwrap_or(i32::MAX).to_be_bytes());
        out.extend(key.to_be_bytes());
        out.extend(version.to_be_bytes());
        out.extend(id.to_be_bytes());
        put_str(&mut out, CLIENT_ID);
        out.extend(body);
        (id, out)
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.write_all(bytes).await.map_err(|e| format!("send: {e}"))?;
        self.stream.flush().await.map_err(|e| format!("send: {e}"))
    }

    /// The next answer's body, checked to answer request `id`.
    async fn answer(&mut self, id: i32) -> Result<Vec<u8>, String> {
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .await
            .map_err(|e| format!("read: {e} (the connection closed: a refused login or a wrong port)"))?;
        let size = usize::try_from(i32::from_be_bytes(size)).map_err(|_| "negative answer size")?;
        if !(4..=MAX_ANSWER).contains(&size) {
            return Err(format!("an answer of {size} bytes is not a Kafka answer"));
        }
        let mut body = vec![0u8; size];
        self.stream
            .read_exact(&mut body)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let got = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        if got != id {
            return Err(format!("answer {got} where {id} was expected"));
        }
        body.drain(..4);
        Ok(body)
    }

    async fn call(&mut self, key: i16, version: i16, body: &[u8]) -> Result<Vec<u8>, String> {
        let (id, frame) = self.frame(key, version, body);
        self.send(&frame).await?;
        self.answer(id).await
    }

    async fn authenticate(&mut self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        let mut body = Vec::with_capacity(bytes.len() + 4);
        put_bytes(&mut body, bytes);
        let answer = self.call(SASL_AUTHENTICATE, 0, &body).await?;
        let mut r = Reader::new(&answer);
        let error = r.i16()?;
        let message = r.string()?;
        if error != 0 {
            return Err(format!(
                "SASL authentication refused (error {error}: {})",
                message.unwrap_or_default()
            ));
        }
        Ok(r.bytes()?.to_vec())
    }

    async fn login(&mut self, conn: &KafkaConnection) -> Result<(), String> {
        let (Some(mechanism), Some(user), Some(password)) = (
            conn.sasl_mechanism,
            conn.sasl_username.as_deref(),
            conn.sasl_password.as_deref(),
        ) else {
            return Err("SASL without mechanism, user and password".into());
        };
        let mut body = Vec::new();
        put_str(&mut body, mechanism.as_str().as_bytes());
        let answer = self.call(SASL_HANDSHAKE, 1, &body).await?;
        let error = Reader::new(&answer).i16()?;
        if error != 0 {
            return Err(format!(
                "the broker does not offer {} (error {error})",
                mechanism.as_str()
            ));
        }
        match mechanism {
            SaslMechanism::Plain => {
                let mut token = vec![0u8];
                token.extend(user.as_bytes());
                token.push(0);
                token.extend(password.as_bytes());
                self.authenticate(&token).await.map(drop)
            }
            SaslMechanism::ScramSha256 => self.scram(Hash::Sha256, user, password).await,
            SaslMechanism::ScramSha512 => self.scram(Hash::Sha512, user, password).await,
        }
    }

    /// SCRAM (RFC 5802) in two SaslAuthenticate requests; the server's signature is checked too.
    async fn scram(&mut self, hash: Hash, user: &str, password: &str) -> Result<(), String> {
        let nonce = B64.encode(rand::random::<[u8; 18]>());
        let first_bare = format!("n={},r={nonce}", user.replace('=', "=3D").replace(',', "=2C"));
        let server_first = self.authenticate(format!("n,,{first_bare}").as_bytes()).await?;
        let server_first = String::from_utf8(server_first).map_err(|_| "SCRAM: server-first is not UTF-8")?;
        let field = |key: &str| {
            server_first
                .split(',')
                .find_map(|f| f.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
                .ok_or_else(|| format!("SCRAM: server-first lacks '{key}'"))
        };
        let combined = field("r")?;
        if !combined.starts_with(&nonce) {
            return Err("SCRAM: the server's nonce does not extend ours".into());
        }
        let salt = B64.decode(field("s")?).map_err(|_| "SCRAM: salt is not base64")?;
        let iterations: u32 = field("i")?
            .parse()
            .map_err(|_| "SCRAM: iteration count is not a number")?;
        let salted = hash.salted(password.as_bytes(), &salt, iterations);
        let mac = |key: &[u8], data: &[u8]| hash.mac(key, data);
        let client_key = mac(&salted, b"Client Key");
        let stored_key = hash.digest(&client_key);
        let final_bare = format!("c=biws,r={combined}");
        let auth_message = format!("{first_bare},{server_first},{final_bare}");
        let signature = mac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&signature).map(|(a, b)| a ^ b).collect();
        let server_final = self
            .authenticate(format!("{final_bare},p={}", B64.encode(proof)).as_bytes())
            .await?;
        let expected = format!(
            "v={}",
            B64.encode(mac(&mac(&salted, b"Server Key"), auth_message.as_bytes()))
        );
        if server_final != expected.as_bytes() {
            return Err("SCRAM: the server's signature does not match".into());
        }
        Ok(())
    }
}

/// SCRAM's hash: SHA-256 or SHA-512.
#[derive(Clone, Copy)]
enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    fn mac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
            let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        match self {
            Hash::Sha256 => run::<Hmac<Sha256>>(key, data),
            Hash::Sha512 => run::<Hmac<Sha512>>(key, data),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Hi(password, salt, i) of RFC 5802: PBKDF2 with this hash's HMAC.
    fn salted(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha256 => pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(password, salt, iterations).to_vec(),
            Hash::Sha512 => pbkdf2::pbkdf2_hmac_array::<Sha512, 64>(password, salt, iterations).to_vec(),
        }
    }
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    conn: &KafkaConnection,
    topics: &[String],
) -> Result<KafkaSnapshot, String> {
    let mut wire = Wire { stream, next: 1 };
    if matches!(
        conn.protocol(),
        SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
    ) {
        wire.login(conn).await?;
    }
    // Metadata v4: every topic (a null list), and never create one (auto-creation false).
    let (metadata_id, mut out) = wire.frame(METADATA, 4, &[0xff, 0xff, 0xff, 0xff, 0]);
    let describe_id = if topics.is_empty() {
        None
    } else {
        let (id, frame) = wire.frame(DESCRIBE_CONFIGS, 1, &describe_body(topics));
        out.extend(frame);
        Some(id)
    };
    wire.send(&out).await?;
    let mut snapshot = KafkaSnapshot {
        topics: parse_metadata(&wire.answer(metadata_id).await?)?,
        ..Default::default()
    };
    if let Some(id) = describe_id {
        for (name, described) in parse_describe(&wire.answer(id).await?)? {
            // A topic the metadata does not list has nothing to describe; its error is expected.
            let Some(t) = snapshot.topics.get_mut(&name) else {
                continue;
            };
            let (config, sensitive) = described.map_err(|e| format!("DescribeConfigs of '{name}': error {e}"))?;
            t.config = config;
            t.sensitive = sensitive;
        }
    }
    Ok(snapshot)
}

/// DescribeConfigs v1: every key of each topic (a null key list), without synonyms.
fn describe_body(topics: &[String]) -> Vec<u8> {
    let mut body = Vec::with_capacity(topics.len() * 48 + 5);
    body.extend(i32::try_from(topics.len()).unwrap_or(i32::MAX).to_be_bytes());
    for t in topics {
        body.extend(RESOURCE_TOPIC.to_be_bytes());
        put_str(&mut body, t.as_bytes());
        body.extend((-1i32).to_be_bytes());
    }
    body.push(0);
    body
}

/// Metadata v4: throttle, brokers, cluster id, controller, then the topics; a topic answered with an
/// error (one being created or deleted) is left out, as librdkafka's listing leaves it.
fn parse_metadata(body: &[u8]) -> Result<BTreeMap<String, ObservedTopic>, String> {
    let mut r = Reader::new(body);
    r.i32()?;
    for _ in 0..r.count()? {
        r.i32()?;
        r.string()?;
        r.i32()?;
        r.string()?;
    }
    r.string()?;
    r.i32()?;
    let mut topics = BTreeMap::new();
    for _ in 0..r.count()? {
        let error = r.i16()?;
        let name = r.string()?;
        r.i8()?;
        let partitions = r.count()?;
        let mut replication_factor = None::<usize>;
        for _ in 0..partitions {
            r.i16()?;
            r.i32()?;
            r.i32()?;
            let replicas = r.count()?;
            r.skip(4 * replicas)?;
            let isr = r.count()?;
            r.skip(4 * isr)?;
            replication_factor = Some(replication_factor.map_or(replicas, |m| m.min(replicas)));
        }
        if let (0, Some(name)) = (error, name) {
            topics.insert(
                name,
                ObservedTopic {
                    partitions: i32::try_from(partitions).unwrap_or(i32::MAX),
                    replication_factor: i32::try_from(replication_factor.unwrap_or(0)).unwrap_or(i32::MAX),
                    ..Default::default()
                },
            );
        }
    }
    Ok(topics)
}

type Described = Result<(BTreeMap<String, String>, std::collections::BTreeSet<String>), i16>;

/// DescribeConfigs v1: per topic its own overrides (source TOPIC_CONFIG) and those whose values the
/// broker hides; UNKNOWN_TOPIC_OR_PARTITION for a topic that does not exist is not an error here.
fn parse_describe(body: &[u8]) -> Result<Vec<(String, Described)>, String> {
    let mut r = Reader::new(body);
    r.i32()?;
    let mut out = Vec::new();
    for _ in 0..r.count()? {
        let error = r.i16()?;
        r.string()?;
        r.i8()?;
        let name = r.string()?.ok_or("DescribeConfigs: a resource without a name")?;
        let mut config = BTreeMap::new();
        let mut sensitive = std::collections::BTreeSet::new();
        for _ in 0..r.count()? {
            let key = r.string()?.ok_or("DescribeConfigs: an entry without a name")?;
            let value = r.string()?;
            r.i8()?;
            let source = r.i8()?;
            let hidden = r.i8()? != 0;
            for _ in 0..r.count()? {
                r.string()?;
                r.string()?;
                r.i8()?;
            }
            if source != SOURCE_TOPIC_CONFIG {
                continue;
            }
            match (value, hidden) {
                (Some(v), false) => {
                    config.insert(key, v);
                }
                _ => {
                    sensitive.insert(key);
                }
            }
        }
        out.push((
            name,
            match error {
                0 => Ok((config, sensitive)),
                UNKNOWN_TOPIC => Ok(Default::default()),
                e => Err(e),
            },
        ));
    }
    Ok(out)
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend(i16::try_from(s.len()).unwrap_or(i16::MAX).to_be_bytes());
    out.extend(s);
}

fn put_bytes(out: &mut Vec<u8>, s: &[u8]) {
    out.extend(i32::try_from(s.len()).unwrap_or(i32::MAX).to_be_bytes());
    out.extend(s);
}

/// Big-endian fields of an answer; running past its end is an error, never a panic.
struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Reader { data, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| format!("the answer ends at byte {} (wanted {n} more)", self.data.len()))?;
        let out = &self.data[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn skip(&mut self, n: usize) -> Result<(), String> {
        self.take(n).map(drop)
    }

    fn i8(&mut self) -> Result<i8, String> {
        Ok(i8::from_be_bytes([self.take(1)?[0]]))
    }

    fn i16(&mut self) -> Result<i16, String> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An array's length; -1 (null) reads as empty.
    fn count(&mut self) -> Result<usize, String> {
        Ok(usize::try_from(self.i32()?).unwrap_or(0))
    }

    fn string(&mut self) -> Result<Option<String>, String> {
        let n = self.i16()?;
        let Ok(n) = usize::try_from(n) else {
            return Ok(None);
        };
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec())
            .map(Some)
            .map_err(|_| "a string that is not UTF-8".into())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let n = self.i32()?;
        match usize::try_from(n) {
            Ok(n) => self.take(n),
            Err(_) => Ok(&[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_split_into_host_and_port() {
        assert_eq!(host_port("kafka1:9092"), Some(("kafka1".into(), 9092)));
        assert_eq!(host_port("[::1]:9093"), Some(("::1".into(), 9093)));
        assert_eq!(host_port("kafka1"), None);
        assert_eq!(host_port(":9092"), None);
        assert_eq!(host_port("kafka1:port"), None);
    }

    #[test]
    fn a_truncated_answer_is_an_error_not_a_panic() {
        let mut body = Vec::new();
        body.extend(0i32.to_be_bytes());
        body.extend(5i32.to_be_bytes());
        for cut in 0..body.len() {
            assert!(parse_metadata(&body[..cut]).is_err());
            assert!(parse_describe(&body[..cut]).is_err());
        }
        assert!(parse_metadata(&body).is_err());
    }

    #[test]
    fn only_the_topics_own_overrides_count_and_hidden_values_are_named() {
        let mut body = Vec::new();
        body.extend(0i32.to_be_bytes());
        body.extend(2i32.to_be_bytes());
        // One topic: an override, a broker default, a hidden override.
        body.extend(0i16.to_be_bytes());
        put_str(&mut body, b"");
        body.push(2);
        put_str(&mut body, b"t1");
        body.extend(3i32.to_be_bytes());
        for (key, value, source, hidden) in [
            ("retention.ms", Some("1000"), 1i8, 0u8),
            ("cleanup.policy", Some("delete"), 5, 0),
            ("secret.key", None, 1, 1),
        ] {
            put_str(&mut body, key.as_bytes());
            match value {
                Some(v) => put_str(&mut body, v.as_bytes()),
                None => body.extend((-1i16).to_be_bytes()),
            }
            body.extend([0u8, source.to_be_bytes()[0], hidden]);
            body.extend(0i32.to_be_bytes());
        }
        // A topic that does not exist.
        body.extend(UNKNOWN_TOPIC.to_be_bytes());
        body.extend((-1i16).to_be_bytes());
        body.push(2);
        put_str(&mut body, b"t2");
        body.extend(0i32.to_be_bytes());
        let parsed = parse_describe(&body).expect("parses");
        assert_eq!(parsed.len(), 2);
        let (config, sensitive) = parsed[0].1.clone().expect("t1 described");
        assert_eq!(config, BTreeMap::from([("retention.ms".to_owned(), "1000".to_owned())]));
        assert_eq!(sensitive.into_iter().collect::<Vec<_>>(), vec!["secret.key".to_owned()]);
        assert_eq!(parsed[1].1, Ok(Default::default()));
    }

    /// One topic of a Metadata v4 answer: error code, name, partitions' replica counts.
    type Topic = (i16, String, Vec<usize>);

    fn encode_metadata(topics: &[Topic]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend(0i32.to_be_bytes());
        b.extend(1i32.to_be_bytes());
        b.extend(7i32.to_be_bytes());
        put_str(&mut b, b"localhost");
        b.extend(9092i32.to_be_bytes());
        b.extend((-1i16).to_be_bytes());
        put_str(&mut b, b"cluster");
        b.extend(7i32.to_be_bytes());
        b.extend(i32::try_from(topics.len()).unwrap().to_be_bytes());
        for (error, name, partitions) in topics {
            b.extend(error.to_be_bytes());
            put_str(&mut b, name.as_bytes());
            b.push(0);
            b.extend(i32::try_from(partitions.len()).unwrap().to_be_bytes());
            for (i, replicas) in partitions.iter().enumerate() {
                b.extend(0i16.to_be_bytes());
                b.extend(i32::try_from(i).unwrap().to_be_bytes());
                b.extend(7i32.to_be_bytes());
                for _list in ["replicas", "isr"] {
                    b.extend(i32::try_from(*replicas).unwrap().to_be_bytes());
                    for r in 0..*replicas {
                        b.extend(i32::try_from(r).unwrap().to_be_bytes());
                    }
                }
            }
        }
        b
    }

    proptest::proptest! {
        /// Every topic answered without an error is read back with its partition count and its smallest
        /// replica count; topics with an error are left out; every cut-short answer is an error.
        #[test]
        fn metadata_answers_read_back_and_cut_short_ones_fail(
            topics in proptest::collection::btree_map(
                "[a-z._-]{1,12}",
                (proptest::prop_oneof![4 => proptest::strategy::Just(0i16), 1 => 1i16..100], proptest::collection::vec(1usize..4, 0..5)),
                0..6,
            )
        ) {
            let topics: Vec<Topic> = topics.into_iter().map(|(n, (e, p))| (e, n, p)).collect();
            let body = encode_metadata(&topics);
            let read = parse_metadata(&body).expect("a whole answer parses");
            let expected: BTreeMap<String, (i32, i32)> = topics
                .iter()
                .filter(|(e, ..)| *e == 0)
                .map(|(_, n, p)| (n.clone(), (i32::try_from(p.len()).unwrap(), i32::try_from(p.iter().copied().min().unwrap_or(0)).unwrap())))
                .collect();
            let got: BTreeMap<String, (i32, i32)> =
                read.into_iter().map(|(n, t)| (n, (t.partitions, t.replication_factor))).collect();
            proptest::prop_assert_eq!(got, expected);
            for cut in 0..body.len() {
                proptest::prop_assert!(parse_metadata(&body[..cut]).is_err(), "cut at {}", cut);
            }
        }

        /// Arbitrary bytes are an error or an answer, never a panic, in both parsers.
        #[test]
        fn arbitrary_answers_never_panic(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..256)) {
            let metadata = parse_metadata(&bytes);
            let described = parse_describe(&bytes);
            // Fewer than the fixed header's bytes can never be a whole answer.
            if bytes.len() < 4 {
                proptest::prop_assert!(metadata.is_err() && described.is_err());
            }
        }
    }
}
