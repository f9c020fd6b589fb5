//! Any text as YAML: wherever the fast YAML path handles it, its events and marks must be
//! yaml-rust2's, and `yaml::load` must equal the yaml-rust2-only load (tree or error). The
//! bounded version is the property test in `crates/stratus-dsl/tests/yaml_fast.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stratus_dsl::yaml::testing::{fast_events, load_reference, reference_events};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(events) = fast_events(text) {
        match reference_events(text) {
            Ok(reference) => assert_eq!(events, reference, "events differ for {text:?}"),
            Err(err) => panic!("fast path handled text yaml-rust2 rejects ({err}): {text:?}"),
        }
    }
    // Debug strings, so that NaN floats compare equal.
    assert_eq!(
        format!("{:?}", stratus_dsl::yaml::load(text, 0)),
        format!("{:?}", load_reference(text, 0)),
        "load differs for {text:?}"
    );
});
