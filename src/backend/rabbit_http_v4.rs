//! RabbitMQ 4.x management endpoints the `rabbitmq_http_client` crate does not cover, on the shared `raw`
//! helper of `rabbit_http.rs`, whose child module this is: vhost deletion protection (4.1+) and the
//! deprecated features in use (3.13+).

use super::{HttpRabbit, enc};
use crate::error::{Error, Result};
use crate::observed::DeprecatedFeature;

impl HttpRabbit {
    /// `POST` (on) or `DELETE` (off) `/api/vhosts/{name}/deletion/protection`; both are idempotent (204),
    /// and 4.0.5 answers 405. Mutates; needs `administrator`.
    /// Sent to endpoint `i` (the caller fails over).
    pub(super) async fn set_vhost_protection(&self, i: usize, name: &str, protected: bool) -> Result<()> {
        let (method, what) = if protected {
            (reqwest::Method::POST, "enable")
        } else {
            (reqwest::Method::DELETE, "lift")
        };
        self.raw_on(
            i,
            method,
            &format!("vhosts/{}/deletion/protection", enc(name)),
            None,
            &format!("{what} deletion protection of vhost '{name}'"),
        )
        .await
        .map(drop)
    }

    /// `GET /api/deprecated-features/used`: the deprecated features something on the broker uses now.
    /// `None` when the broker has no such endpoint (404: RabbitMQ before 3.13). Reads only.
    pub(super) async fn deprecated_features_in_use(&self) -> Result<Option<Vec<DeprecatedFeature>>> {
        let action = "GET /api/deprecated-features/used";
        let text = match self
            .raw(reqwest::Method::GET, "deprecated-features/used", None, action)
            .await
        {
            Ok(text) => text,
            Err(Error::Api { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| Error::Api {
            broker: crate::error::Broker::RabbitMq,
            action: action.to_owned(),
            status: 0,
            reason: format!("the answer is not a list of deprecated features ({e})"),
        })
    }
}
