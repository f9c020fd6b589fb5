//! Any bytes as a blueprint: parse, and plan with no inputs. Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stratus_dsl::{DocumentCache, ImportError, ImportLoader, LoadedImport};

struct NoImports;

impl ImportLoader for NoImports {
    fn load(&self, import: &str, _importer: &str) -> Result<LoadedImport, ImportError> {
        Err(ImportError { message: format!("no imports while fuzzing ({import})") })
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(blueprint) = stratus_dsl::parse(text, "fuzz.yaml", &NoImports, &DocumentCache::new()) {
        if let Ok(plan) = stratus_dsl::prepare(&blueprint, &serde_json::Map::new()) {
            // The plan's JSON, written directly and through its whole tree.
            let _ = serde_json::to_vec(&plan);
            let _ = plan.into_value();
        }
    }
});
