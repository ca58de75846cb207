//! RabbitMQ's salted password hashes, compared locally: no login as the user, no password on the wire.
//! Format (docs/passwords.md): base64(salt[4] ‖ H(salt[4] ‖ utf8(password))).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest;
use subtle::ConstantTimeEq;

use crate::spec::HashingAlgorithm;

/// Decodes a stored hash; `None` when it is not base64 or too short to hold a salt and a digest.
pub fn decode_hash(hash: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(hash).ok()?;
    (bytes.len() > 4).then_some(bytes)
}

/// The algorithm a stored hash was made with: the declared one, else guessed from the digest length.
pub fn algorithm_of(decoded: &[u8], declared: Option<HashingAlgorithm>) -> Option<HashingAlgorithm> {
    declared.or(match decoded.len() {
        36 => Some(HashingAlgorithm::Sha256),
        68 => Some(HashingAlgorithm::Sha512),
        20 => Some(HashingAlgorithm::Md5),
        _ => None,
    })
}

fn digest(algorithm: HashingAlgorithm, salt: &[u8], password: &str) -> Vec<u8> {
    match algorithm {
        HashingAlgorithm::Sha256 => sha2::Sha256::new()
            .chain_update(salt)
            .chain_update(password)
            .finalize()
            .to_vec(),
        HashingAlgorithm::Sha512 => sha2::Sha512::new()
            .chain_update(salt)
            .chain_update(password)
            .finalize()
            .to_vec(),
        HashingAlgorithm::Md5 => md5::Md5::new()
            .chain_update(salt)
            .chain_update(password)
            .finalize()
            .to_vec(),
    }
}

/// True when `password` produces the stored hash. Unreadable hashes (LDAP users, empty) never match.
pub fn matches(password: &str, stored_hash: &str, declared: Option<HashingAlgorithm>) -> bool {
    let Some(decoded) = decode_hash(stored_hash) else {
        return false;
    };
    let Some(algorithm) = algorithm_of(&decoded, declared) else {
        return false;
    };
    let (salt, expected) = decoded.split_at(4);
    let actual = digest(algorithm, salt, password);
    actual.len() == expected.len() && bool::from(actual.ct_eq(expected))
}

/// A fresh salted hash in RabbitMQ's stored form.
pub fn hash(password: &str, algorithm: HashingAlgorithm) -> String {
    let salt: [u8; 4] = rand::random();
    hash_with_salt(password, algorithm, &salt)
}

pub fn hash_with_salt(password: &str, algorithm: HashingAlgorithm, salt: &[u8; 4]) -> String {
    let mut out = salt.to_vec();
    out.extend(digest(algorithm, salt, password));
    STANDARD.encode(out)
}
