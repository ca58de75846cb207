//! IncrementalAlterConfigs (KIP-339) through `rdkafka-sys`: rdkafka 0.39 wraps only the legacy
//! AlterConfigs, which resets every key it is not sent. This sends SET and DELETE for the managed
//! keys only, on a private queue, and reads one result per topic.
#![allow(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::{CStr, CString, c_char, c_int};
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::ClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka_sys as rd;
use rdkafka_sys::bindings::{rd_kafka_AlterConfigOpType_t as OpType, rd_kafka_ResourceType_t as ResourceType};

/// One topic's alteration: keys to set, keys to delete (back to the broker default).
pub struct TopicAlteration {
    pub topic: String,
    pub set: BTreeMap<String, String>,
    pub delete: Vec<String>,
}

/// Owns what the C API allocated, so every exit path frees it.
struct Native {
    resources: Vec<*mut rd::bindings::rd_kafka_ConfigResource_t>,
    options: *mut rd::bindings::rd_kafka_AdminOptions_t,
    queue: *mut rd::bindings::rd_kafka_queue_t,
    event: *mut rd::bindings::rd_kafka_event_t,
}

impl Drop for Native {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or was returned by its librdkafka constructor and not freed yet.
        unsafe {
            if !self.event.is_null() {
                rd::bindings::rd_kafka_event_destroy(self.event);
            }
            if !self.queue.is_null() {
                rd::bindings::rd_kafka_queue_destroy(self.queue);
            }
            if !self.options.is_null() {
                rd::bindings::rd_kafka_AdminOptions_destroy(self.options);
            }
            for r in &self.resources {
                rd::bindings::rd_kafka_ConfigResource_destroy(*r);
            }
        }
    }
}

/// A failed request or topic: librdkafka's or the broker's code, and its text.
pub type Failure = (RDKafkaErrorCode, String);

fn cstring(s: &str) -> Result<CString, Failure> {
    CString::new(s).map_err(|_| (RDKafkaErrorCode::InvalidArgument, format!("'{s}' contains a NUL byte")))
}

/// Takes an `rd_kafka_error_t`, returns its message, frees it.
unsafe fn take_error(err: *mut rd::bindings::rd_kafka_error_t) -> String {
    // SAFETY: `err` is a non-null error object returned by librdkafka, freed exactly once here.
    unsafe {
        let text = CStr::from_ptr(rd::bindings::rd_kafka_error_string(err))
            .to_string_lossy()
            .into_owned();
        rd::bindings::rd_kafka_error_destroy(err);
        text
    }
}

/// Runs the request and waits for its result. Blocking: call it from `spawn_blocking`.
/// `Err` means the whole request failed; otherwise one entry per alteration, in order.
pub fn incremental_alter<C: ClientContext>(
    admin: &AdminClient<C>,
    alterations: &[TopicAlteration],
    timeout: Duration,
) -> Result<Vec<Result<(), Failure>>, Failure> {
    let invalid = |text: String| (RDKafkaErrorCode::InvalidArgument, text);
    // The borrow of `admin` keeps the handle alive for the whole call.
    let rk = admin.inner().native_ptr();
    let timeout_ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
    let mut native = Native {
        resources: Vec::new(),
        options: std::ptr::null_mut(),
        queue: std::ptr::null_mut(),
        event: std::ptr::null_mut(),
    };
    // SAFETY: librdkafka's documented call sequence; every pointer passed was just created and is
    // freed by `Native::drop`; strings outlive the calls that read them (librdkafka copies them).
    unsafe {
        for a in alterations {
            let name = cstring(&a.topic)?;
            let res = rd::bindings::rd_kafka_ConfigResource_new(ResourceType::RD_KAFKA_RESOURCE_TOPIC, name.as_ptr());
            if res.is_null() {
                return Err(invalid(format!("librdkafka refused the topic name '{}'", a.topic)));
            }
            native.resources.push(res);
            for (key, value) in &a.set {
                let (k, v) = (cstring(key)?, cstring(value)?);
                let err = rd::bindings::rd_kafka_ConfigResource_add_incremental_config(
                    res,
                    k.as_ptr(),
                    OpType::RD_KAFKA_ALTER_CONFIG_OP_TYPE_SET,
                    v.as_ptr(),
                );
                if !err.is_null() {
                    return Err(invalid(format!(
                        "topic '{}' config {key}: {}",
                        a.topic,
                        take_error(err)
                    )));
                }
            }
            for key in &a.delete {
                let k = cstring(key)?;
                let err = rd::bindings::rd_kafka_ConfigResource_add_incremental_config(
                    res,
                    k.as_ptr(),
                    OpType::RD_KAFKA_ALTER_CONFIG_OP_TYPE_DELETE,
                    std::ptr::null(),
                );
                if !err.is_null() {
                    return Err(invalid(format!(
                        "topic '{}' config {key}: {}",
                        a.topic,
                        take_error(err)
                    )));
                }
            }
        }
        native.options = rd::bindings::rd_kafka_AdminOptions_new(
            rk,
            rd::bindings::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_INCREMENTALALTERCONFIGS,
        );
        let mut errbuf = [0 as c_char; 256];
        let rc = rd::bindings::rd_kafka_AdminOptions_set_request_timeout(
            native.options,
            timeout_ms,
            errbuf.as_mut_ptr(),
            errbuf.len(),
        );
        if rc != rd::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Err(invalid(CStr::from_ptr(errbuf.as_ptr()).to_string_lossy().into_owned()));
        }
        native.queue = rd::bindings::rd_kafka_queue_new(rk);
        rd::bindings::rd_kafka_IncrementalAlterConfigs(
            rk,
            native.resources.as_mut_ptr(),
            native.resources.len(),
            native.options,
            native.queue,
        );
        // The request timeout bounds the answer; a second of slack covers local queueing.
        native.event = rd::bindings::rd_kafka_queue_poll(native.queue, timeout_ms.saturating_add(1000));
        if native.event.is_null() {
            return Err((
                RDKafkaErrorCode::OperationTimedOut,
                format!(
                    "IncrementalAlterConfigs got no answer within {}s",
                    timeout.as_secs_f64()
                ),
            ));
        }
        let err = rd::bindings::rd_kafka_event_error(native.event);
        if err != rd::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            let text = rd::bindings::rd_kafka_event_error_string(native.event);
            return Err((
                RDKafkaErrorCode::from(err),
                if text.is_null() {
                    format!("{err:?}")
                } else {
                    CStr::from_ptr(text).to_string_lossy().into_owned()
                },
            ));
        }
        let result = rd::bindings::rd_kafka_event_IncrementalAlterConfigs_result(native.event);
        if result.is_null() {
            return Err(invalid(
                "IncrementalAlterConfigs returned an event of another type".to_owned(),
            ));
        }
        let mut count = 0usize;
        let resources = rd::bindings::rd_kafka_IncrementalAlterConfigs_result_resources(result, &raw mut count);
        let mut by_name: BTreeMap<String, Result<(), Failure>> = BTreeMap::new();
        for i in 0..count {
            let r = *resources.add(i);
            let name = CStr::from_ptr(rd::bindings::rd_kafka_ConfigResource_name(r))
                .to_string_lossy()
                .into_owned();
            let code = rd::bindings::rd_kafka_ConfigResource_error(r);
            let outcome = if code == rd::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Ok(())
            } else {
                let text = rd::bindings::rd_kafka_ConfigResource_error_string(r);
                Err((
                    RDKafkaErrorCode::from(code),
                    if text.is_null() {
                        format!("{code:?}")
                    } else {
                        format!("{} ({code:?})", CStr::from_ptr(text).to_string_lossy())
                    },
                ))
            };
            by_name.insert(name, outcome);
        }
        Ok(alterations
            .iter()
            .map(|a| {
                by_name
                    .remove(&a.topic)
                    .unwrap_or_else(|| Err(invalid("the broker returned no result for it".to_owned())))
            })
            .collect())
    }
}

/// Takes the log and error events waiting on the client's main queue, without waiting, and returns
/// the texts of errors and of log lines at level error or worse. rust-rdkafka routes librdkafka's logs
/// and errors there (`log.queue=true`) but only a producer or consumer polls it, never an admin client;
/// so a failed SASL login or certificate check would otherwise never reach the error we report.
pub fn drain_main_queue(admin: &AdminClient<impl ClientContext>) -> Vec<String> {
    let rk = admin.inner().native_ptr();
    let mut out = Vec::new();
    // SAFETY: `rk` is the live client `admin` owns; each event is destroyed after its strings are
    // copied, and the queue handle is released at the end.
    unsafe {
        let queue = rd::rd_kafka_queue_get_main(rk);
        if queue.is_null() {
            return out;
        }
        for _ in 0..100 {
            let event = rd::rd_kafka_queue_poll(queue, 0);
            if event.is_null() {
                break;
            }
            match rd::rd_kafka_event_type(event) {
                rd::RD_KAFKA_EVENT_LOG => {
                    let mut fac: *const c_char = std::ptr::null();
                    let mut text: *const c_char = std::ptr::null();
                    let mut level: c_int = 7;
                    if rd::rd_kafka_event_log(event, &raw mut fac, &raw mut text, &raw mut level) == 0
                        && level <= 3
                        && !text.is_null()
                    {
                        out.push(CStr::from_ptr(text).to_string_lossy().into_owned());
                    }
                }
                rd::RD_KAFKA_EVENT_ERROR => {
                    let text = rd::rd_kafka_event_error_string(event);
                    if !text.is_null() {
                        out.push(CStr::from_ptr(text).to_string_lossy().into_owned());
                    }
                }
                _ => {}
            }
            rd::rd_kafka_event_destroy(event);
        }
        rd::rd_kafka_queue_destroy(queue);
    }
    out
}
