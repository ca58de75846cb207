//! SCRAM credentials and ACLs through `rdkafka-sys`: rdkafka 0.39 wraps none of DescribeAcls,
//! CreateAcls, DeleteAcls, DescribeUserScramCredentials or AlterUserScramCredentials. Each call runs
//! on a private queue and blocks until its answer: call these from `spawn_blocking`. Every object the
//! C API allocates for us is owned by a guard that frees it on every exit path; objects inside a
//! result event belong to the event and are only read before the event is destroyed.
#![allow(unsafe_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, CString, c_char, c_int};
use std::time::Duration;

use rdkafka::admin::AdminClient;
use rdkafka::client::ClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka_sys::bindings as rd;
use rdkafka_sys::bindings::{
    rd_kafka_AclOperation_t as RdOp, rd_kafka_AclPermissionType_t as RdPerm, rd_kafka_ResourcePatternType_t as RdPat,
    rd_kafka_ResourceType_t as RdRes, rd_kafka_ScramMechanism_t as RdMech, rd_kafka_admin_op_t as AdminOp,
    rd_kafka_resp_err_t as RespErr,
};

use super::kafka_alter::Failure;
use crate::plan::Secret;
use crate::spec::{AclBinding, AclOperation, AclPatternType, AclPermission, AclResourceType, ScramMechanism};

/// Kafka's RESOURCE_NOT_FOUND: DescribeUserScramCredentials' answer for a user without credentials.
const RESOURCE_NOT_FOUND: RespErr = RespErr::RD_KAFKA_RESP_ERR_RESOURCE_NOT_FOUND;

/// The options, queue and result event of one admin request; freed on drop.
struct Call {
    options: *mut rd::rd_kafka_AdminOptions_t,
    queue: *mut rd::rd_kafka_queue_t,
    event: *mut rd::rd_kafka_event_t,
    timeout_ms: c_int,
}

impl Drop for Call {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or came from its librdkafka constructor and is freed only here.
        unsafe {
            if !self.event.is_null() {
                rd::rd_kafka_event_destroy(self.event);
            }
            if !self.queue.is_null() {
                rd::rd_kafka_queue_destroy(self.queue);
            }
            if !self.options.is_null() {
                rd::rd_kafka_AdminOptions_destroy(self.options);
            }
        }
    }
}

fn cstring(what: &str, s: &str) -> Result<CString, Failure> {
    CString::new(s).map_err(|_| invalid(format!("{what} contains a NUL byte")))
}

/// A failure of ours before anything was sent: never retried.
fn invalid(text: String) -> Failure {
    (RDKafkaErrorCode::InvalidArgument, text)
}

/// Copies a C string owned by librdkafka; null reads as empty.
unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: librdkafka returns NUL-terminated strings that live as long as their owner.
        unsafe { CStr::from_ptr(p).to_string_lossy().into_owned() }
    }
}

/// The code and message of an error object owned by a result (not freed here); `None` for no error.
unsafe fn owned_error(err: *const rd::rd_kafka_error_t) -> Option<Failure> {
    if err.is_null() {
        return None;
    }
    // SAFETY: `err` is a live error object that its result owns.
    unsafe {
        let code = rd::rd_kafka_error_code(err);
        if code == RespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
            return None;
        }
        Some((
            RDKafkaErrorCode::from(code),
            format!("{} ({code:?})", text(rd::rd_kafka_error_string(err))),
        ))
    }
}

impl Call {
    fn new<C: ClientContext>(admin: &AdminClient<C>, op: AdminOp, timeout: Duration) -> Result<Self, Failure> {
        let rk = admin.inner().native_ptr();
        let timeout_ms = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
        let mut call = Call {
            options: std::ptr::null_mut(),
            queue: std::ptr::null_mut(),
            event: std::ptr::null_mut(),
            timeout_ms,
        };
        // SAFETY: `rk` is the live client `admin` borrows for this whole call; the objects made here
        // are owned by `call`.
        unsafe {
            call.options = rd::rd_kafka_AdminOptions_new(rk, op);
            let mut errbuf = [0 as c_char; 256];
            let rc = rd::rd_kafka_AdminOptions_set_request_timeout(
                call.options,
                timeout_ms,
                errbuf.as_mut_ptr(),
                errbuf.len(),
            );
            if rc != RespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                return Err(invalid(text(errbuf.as_ptr())));
            }
            call.queue = rd::rd_kafka_queue_new(rk);
        }
        Ok(call)
    }

    /// Waits for the answer; `Err` when the request failed as a whole (a missing answer is
    /// `OperationTimedOut`: the request may have reached the broker).
    fn wait(&mut self, request: &str) -> Result<(), Failure> {
        // SAFETY: the queue is live; the event becomes owned by `self`.
        unsafe {
            // The request timeout bounds the answer; a second of slack covers local queueing.
            self.event = rd::rd_kafka_queue_poll(self.queue, self.timeout_ms.saturating_add(1000));
            if self.event.is_null() {
                return Err((
                    RDKafkaErrorCode::OperationTimedOut,
                    format!("{request} got no answer within {} ms", self.timeout_ms),
                ));
            }
            let err = rd::rd_kafka_event_error(self.event);
            if err != RespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
                return Err((
                    RDKafkaErrorCode::from(err),
                    format!("{} ({err:?})", text(rd::rd_kafka_event_error_string(self.event))),
                ));
            }
        }
        Ok(())
    }
}

fn res_type(t: AclResourceType) -> RdRes {
    match t {
        AclResourceType::Topic => RdRes::RD_KAFKA_RESOURCE_TOPIC,
        AclResourceType::Group => RdRes::RD_KAFKA_RESOURCE_GROUP,
        // librdkafka's BROKER is Kafka's CLUSTER resource type (both 4).
        AclResourceType::Cluster => RdRes::RD_KAFKA_RESOURCE_BROKER,
        AclResourceType::TransactionalId => RdRes::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID,
    }
}

fn pattern(p: AclPatternType) -> RdPat {
    match p {
        AclPatternType::Literal => RdPat::RD_KAFKA_RESOURCE_PATTERN_LITERAL,
        AclPatternType::Prefixed => RdPat::RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
    }
}

fn permission(p: AclPermission) -> RdPerm {
    match p {
        AclPermission::Allow => RdPerm::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW,
        AclPermission::Deny => RdPerm::RD_KAFKA_ACL_PERMISSION_TYPE_DENY,
    }
}

const OPERATIONS: [(AclOperation, RdOp); 11] = [
    (AclOperation::All, RdOp::RD_KAFKA_ACL_OPERATION_ALL),
    (AclOperation::Read, RdOp::RD_KAFKA_ACL_OPERATION_READ),
    (AclOperation::Write, RdOp::RD_KAFKA_ACL_OPERATION_WRITE),
    (AclOperation::Create, RdOp::RD_KAFKA_ACL_OPERATION_CREATE),
    (AclOperation::Delete, RdOp::RD_KAFKA_ACL_OPERATION_DELETE),
    (AclOperation::Alter, RdOp::RD_KAFKA_ACL_OPERATION_ALTER),
    (AclOperation::Describe, RdOp::RD_KAFKA_ACL_OPERATION_DESCRIBE),
    (AclOperation::ClusterAction, RdOp::RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION),
    (
        AclOperation::DescribeConfigs,
        RdOp::RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS,
    ),
    (AclOperation::AlterConfigs, RdOp::RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS),
    (
        AclOperation::IdempotentWrite,
        RdOp::RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE,
    ),
];

fn operation(o: AclOperation) -> RdOp {
    OPERATIONS
        .iter()
        .find(|(ours, _)| *ours == o)
        .map_or(RdOp::RD_KAFKA_ACL_OPERATION_UNKNOWN, |(_, rd)| *rd)
}

fn mechanism(m: ScramMechanism) -> RdMech {
    match m {
        ScramMechanism::Sha256 => RdMech::RD_KAFKA_SCRAM_MECHANISM_SHA_256,
        ScramMechanism::Sha512 => RdMech::RD_KAFKA_SCRAM_MECHANISM_SHA_512,
    }
}

/// Reads one binding from a result; `None` when a field is one we do not name.
unsafe fn read_binding(acl: *const rd::rd_kafka_AclBinding_t) -> Option<AclBinding> {
    // SAFETY: `acl` is a binding owned by a live result event.
    unsafe {
        let resource_type = match rd::rd_kafka_AclBinding_restype(acl) {
            RdRes::RD_KAFKA_RESOURCE_TOPIC => AclResourceType::Topic,
            RdRes::RD_KAFKA_RESOURCE_GROUP => AclResourceType::Group,
            RdRes::RD_KAFKA_RESOURCE_BROKER => AclResourceType::Cluster,
            RdRes::RD_KAFKA_RESOURCE_TRANSACTIONAL_ID => AclResourceType::TransactionalId,
            _ => return None,
        };
        let pattern_type = match rd::rd_kafka_AclBinding_resource_pattern_type(acl) {
            RdPat::RD_KAFKA_RESOURCE_PATTERN_LITERAL => AclPatternType::Literal,
            RdPat::RD_KAFKA_RESOURCE_PATTERN_PREFIXED => AclPatternType::Prefixed,
            _ => return None,
        };
        let permission = match rd::rd_kafka_AclBinding_permission_type(acl) {
            RdPerm::RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW => AclPermission::Allow,
            RdPerm::RD_KAFKA_ACL_PERMISSION_TYPE_DENY => AclPermission::Deny,
            _ => return None,
        };
        let op = rd::rd_kafka_AclBinding_operation(acl);
        let operation = OPERATIONS.iter().find(|(_, rd)| *rd == op)?.0;
        Some(AclBinding {
            principal: text(rd::rd_kafka_AclBinding_principal(acl)),
            resource_type,
            resource_name: text(rd::rd_kafka_AclBinding_name(acl)),
            pattern_type,
            operation,
            permission,
            host: text(rd::rd_kafka_AclBinding_host(acl)),
        })
    }
}

/// An array of bindings (or filters) we allocated; freed on drop.
struct Bindings(Vec<*mut rd::rd_kafka_AclBinding_t>);

impl Drop for Bindings {
    fn drop(&mut self) {
        for b in &self.0 {
            // SAFETY: each was returned by rd_kafka_AclBinding(Filter)_new and is freed once here.
            unsafe { rd::rd_kafka_AclBinding_destroy(*b) };
        }
    }
}

/// `filter`: an exact-match filter (DeleteAcls) rather than a binding (CreateAcls).
fn make_bindings(acls: &[&AclBinding], filter: bool) -> Result<Bindings, Failure> {
    let mut out = Bindings(Vec::with_capacity(acls.len()));
    for a in acls {
        let name = cstring("resource name", &a.resource_name)?;
        let principal = cstring("principal", &a.principal)?;
        let host = cstring("host", &a.host)?;
        let mut errbuf = [0 as c_char; 256];
        // SAFETY: the strings outlive the call (librdkafka copies them); the result is owned by `out`.
        let b = unsafe {
            let new = if filter {
                rd::rd_kafka_AclBindingFilter_new
            } else {
                rd::rd_kafka_AclBinding_new
            };
            new(
                res_type(a.resource_type),
                name.as_ptr(),
                pattern(a.pattern_type),
                principal.as_ptr(),
                host.as_ptr(),
                operation(a.operation),
                permission(a.permission),
                errbuf.as_mut_ptr(),
                errbuf.len(),
            )
        };
        if b.is_null() {
            // SAFETY: librdkafka wrote a NUL-terminated message into errbuf.
            return Err(invalid(format!("ACL ({a}): {}", unsafe { text(errbuf.as_ptr()) })));
        }
        out.0.push(b);
    }
    Ok(out)
}

/// Every ACL binding on the cluster (one DescribeAcls with a match-any filter), and how many bindings
/// name something we do not (left alone by the planner). Needs Describe on the cluster.
pub fn describe_acls<C: ClientContext>(
    admin: &AdminClient<C>,
    timeout: Duration,
) -> Result<(Vec<AclBinding>, usize), Failure> {
    let mut call = Call::new(admin, AdminOp::RD_KAFKA_ADMIN_OP_DESCRIBEACLS, timeout)?;
    let mut errbuf = [0 as c_char; 256];
    // SAFETY: the filter is owned by `filter` and outlives the request (librdkafka copies it); the
    // result array belongs to the event `call` owns.
    unsafe {
        let any = rd::rd_kafka_AclBindingFilter_new(
            RdRes::RD_KAFKA_RESOURCE_ANY,
            std::ptr::null(),
            RdPat::RD_KAFKA_RESOURCE_PATTERN_ANY,
            std::ptr::null(),
            std::ptr::null(),
            RdOp::RD_KAFKA_ACL_OPERATION_ANY,
            RdPerm::RD_KAFKA_ACL_PERMISSION_TYPE_ANY,
            errbuf.as_mut_ptr(),
            errbuf.len(),
        );
        if any.is_null() {
            return Err(invalid(text(errbuf.as_ptr())));
        }
        let filter = Bindings(vec![any]);
        rd::rd_kafka_DescribeAcls(admin.inner().native_ptr(), filter.0[0], call.options, call.queue);
        call.wait("DescribeAcls")?;
        let result = rd::rd_kafka_event_DescribeAcls_result(call.event);
        if result.is_null() {
            return Err(invalid("DescribeAcls returned an event of another type".into()));
        }
        let mut count = 0usize;
        let acls = rd::rd_kafka_DescribeAcls_result_acls(result, &raw mut count);
        let mut out = Vec::with_capacity(count);
        let mut unknown = 0;
        for i in 0..count {
            match read_binding(*acls.add(i)) {
                Some(b) => out.push(b),
                None => unknown += 1,
            }
        }
        Ok((out, unknown))
    }
}

/// Creates (`delete == false`) or deletes the bindings in one request; one outcome per binding, in
/// order. A delete that matched nothing is success. Needs Alter on the cluster.
pub fn alter_acls<C: ClientContext>(
    admin: &AdminClient<C>,
    acls: &[&AclBinding],
    delete: bool,
    timeout: Duration,
) -> Result<Vec<Result<(), Failure>>, Failure> {
    let op = if delete {
        AdminOp::RD_KAFKA_ADMIN_OP_DELETEACLS
    } else {
        AdminOp::RD_KAFKA_ADMIN_OP_CREATEACLS
    };
    let mut call = Call::new(admin, op, timeout)?;
    let mut bindings = make_bindings(acls, delete)?;
    let rk = admin.inner().native_ptr();
    // SAFETY: the bindings stay owned by `bindings` (librdkafka copies them); the results belong to
    // the event `call` owns and are read before it is destroyed.
    unsafe {
        if delete {
            rd::rd_kafka_DeleteAcls(rk, bindings.0.as_mut_ptr(), bindings.0.len(), call.options, call.queue);
            call.wait("DeleteAcls")?;
            let result = rd::rd_kafka_event_DeleteAcls_result(call.event);
            if result.is_null() {
                return Err(invalid("DeleteAcls returned an event of another type".into()));
            }
            let mut count = 0usize;
            let responses = rd::rd_kafka_DeleteAcls_result_responses(result, &raw mut count);
            Ok((0..acls.len())
                .map(|i| {
                    if i >= count {
                        return Err(invalid("the broker returned no result for it".to_owned()));
                    }
                    owned_error(rd::rd_kafka_DeleteAcls_result_response_error(*responses.add(i))).map_or(Ok(()), Err)
                })
                .collect())
        } else {
            rd::rd_kafka_CreateAcls(rk, bindings.0.as_mut_ptr(), bindings.0.len(), call.options, call.queue);
            call.wait("CreateAcls")?;
            let result = rd::rd_kafka_event_CreateAcls_result(call.event);
            if result.is_null() {
                return Err(invalid("CreateAcls returned an event of another type".into()));
            }
            let mut count = 0usize;
            let results = rd::rd_kafka_CreateAcls_result_acls(result, &raw mut count);
            Ok((0..acls.len())
                .map(|i| {
                    if i >= count {
                        return Err(invalid("the broker returned no result for it".to_owned()));
                    }
                    owned_error(rd::rd_kafka_acl_result_error(*results.add(i))).map_or(Ok(()), Err)
                })
                .collect())
        }
    }
}

/// The SCRAM credentials of `users` (mechanism → iterations); a user without any maps to an empty
/// map. Needs Describe on the cluster.
pub fn describe_scram<C: ClientContext>(
    admin: &AdminClient<C>,
    users: &[String],
    timeout: Duration,
) -> Result<BTreeMap<String, BTreeMap<ScramMechanism, i32>>, Failure> {
    let mut call = Call::new(admin, AdminOp::RD_KAFKA_ADMIN_OP_DESCRIBEUSERSCRAMCREDENTIALS, timeout)?;
    let names: Vec<CString> = users
        .iter()
        .map(|u| cstring("user name", u))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    // SAFETY: `names` outlives the call (librdkafka copies the strings); the descriptions belong to
    // the event `call` owns.
    unsafe {
        rd::rd_kafka_DescribeUserScramCredentials(
            admin.inner().native_ptr(),
            ptrs.as_mut_ptr(),
            ptrs.len(),
            call.options,
            call.queue,
        );
        call.wait("DescribeUserScramCredentials")?;
        let result = rd::rd_kafka_event_DescribeUserScramCredentials_result(call.event);
        if result.is_null() {
            return Err(invalid(
                "DescribeUserScramCredentials returned an event of another type".into(),
            ));
        }
        let mut count = 0usize;
        let descs = rd::rd_kafka_DescribeUserScramCredentials_result_descriptions(result, &raw mut count);
        let mut out = BTreeMap::new();
        for i in 0..count {
            let d = *descs.add(i);
            let user = text(rd::rd_kafka_UserScramCredentialsDescription_user(d));
            let err = rd::rd_kafka_UserScramCredentialsDescription_error(d);
            if !err.is_null() && rd::rd_kafka_error_code(err) == RESOURCE_NOT_FOUND {
                out.insert(user, BTreeMap::new());
                continue;
            }
            if let Some((code, e)) = owned_error(err) {
                return Err((code, format!("user '{user}': {e}")));
            }
            let mut creds = BTreeMap::new();
            for j in 0..rd::rd_kafka_UserScramCredentialsDescription_scramcredentialinfo_count(d) {
                let info = rd::rd_kafka_UserScramCredentialsDescription_scramcredentialinfo(d, j);
                let m = match rd::rd_kafka_ScramCredentialInfo_mechanism(info) {
                    RdMech::RD_KAFKA_SCRAM_MECHANISM_SHA_256 => ScramMechanism::Sha256,
                    RdMech::RD_KAFKA_SCRAM_MECHANISM_SHA_512 => ScramMechanism::Sha512,
                    _ => continue,
                };
                creds.insert(m, rd::rd_kafka_ScramCredentialInfo_iterations(info));
            }
            out.insert(user, creds);
        }
        Ok(out)
    }
}

/// One credential change: an upsertion carries the password (librdkafka salts and hashes it locally
/// with a random salt; the password itself never goes on the wire), a deletion does not.
pub struct ScramAlteration<'a> {
    pub user: &'a str,
    pub mechanism: ScramMechanism,
    pub upsert: Option<(i32, &'a Secret)>,
}

/// An array of alterations we allocated; freed on drop.
struct Alterations(Vec<*mut rd::rd_kafka_UserScramCredentialAlteration_t>);

impl Drop for Alterations {
    fn drop(&mut self) {
        for a in &self.0 {
            // SAFETY: each came from an Upsertion/Deletion constructor and is freed once here.
            unsafe { rd::rd_kafka_UserScramCredentialAlteration_destroy(*a) };
        }
    }
}

/// Applies the alterations in one request; outcomes keyed by user (Kafka answers once per user).
/// Needs Alter on the cluster.
pub fn alter_scram<C: ClientContext>(
    admin: &AdminClient<C>,
    alterations: &[ScramAlteration<'_>],
    timeout: Duration,
) -> Result<HashMap<String, Result<(), Failure>>, Failure> {
    let mut call = Call::new(admin, AdminOp::RD_KAFKA_ADMIN_OP_ALTERUSERSCRAMCREDENTIALS, timeout)?;
    let mut native = Alterations(Vec::with_capacity(alterations.len()));
    for a in alterations {
        let user = cstring("user name", a.user)?;
        // SAFETY: librdkafka copies the user name and password into the alteration it returns, which
        // `native` owns. No salt is passed, so librdkafka draws a random one.
        let alt = unsafe {
            match a.upsert {
                Some((iterations, password)) => {
                    let pw = password.expose().as_bytes();
                    rd::rd_kafka_UserScramCredentialUpsertion_new(
                        user.as_ptr(),
                        mechanism(a.mechanism),
                        iterations,
                        pw.as_ptr(),
                        pw.len(),
                        std::ptr::null(),
                        0,
                    )
                }
                None => rd::rd_kafka_UserScramCredentialDeletion_new(user.as_ptr(), mechanism(a.mechanism)),
            }
        };
        if alt.is_null() {
            return Err(invalid(format!(
                "librdkafka refused the credential change of user '{}'",
                a.user
            )));
        }
        native.0.push(alt);
    }
    // SAFETY: the alterations stay owned by `native` (librdkafka copies them); the responses belong
    // to the event `call` owns.
    unsafe {
        rd::rd_kafka_AlterUserScramCredentials(
            admin.inner().native_ptr(),
            native.0.as_mut_ptr(),
            native.0.len(),
            call.options,
            call.queue,
        );
        call.wait("AlterUserScramCredentials")?;
        let result = rd::rd_kafka_event_AlterUserScramCredentials_result(call.event);
        if result.is_null() {
            return Err(invalid(
                "AlterUserScramCredentials returned an event of another type".into(),
            ));
        }
        let mut count = 0usize;
        let responses = rd::rd_kafka_AlterUserScramCredentials_result_responses(result, &raw mut count);
        let mut out = HashMap::new();
        for i in 0..count {
            let r = *responses.add(i);
            let user = text(rd::rd_kafka_AlterUserScramCredentials_result_response_user(r));
            let outcome =
                owned_error(rd::rd_kafka_AlterUserScramCredentials_result_response_error(r)).map_or(Ok(()), Err);
            out.insert(user, outcome);
        }
        Ok(out)
    }
}
