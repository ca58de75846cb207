//! The request parsers: the module's request (JSON → `Request::from_json`, which validates it) and the
//! `oslomsg` lookup's (JSON → `oslomsg_vars_json`). Any input must give a value or an error that names a
//! field, never a panic; an error never carries a declared password.
#![no_main]

use libfuzzer_sys::fuzz_target;
use osa_hybrid_msg::Error;
use osa_hybrid_msg::oslomsg::oslomsg_vars_json;
use osa_hybrid_msg::spec::Request;

fn check_error(e: &Error) {
    let text = e.to_string();
    assert!(!text.is_empty(), "an error without a message: {e:?}");
    if let Error::Spec { path, .. } | Error::Plan { path, .. } = e {
        assert!(!path.is_empty(), "an error without a field path: {e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Request::from_json(text) {
        check_error(&e);
    }
    if let Err(e) = oslomsg_vars_json(text) {
        check_error(&e);
    }
});
