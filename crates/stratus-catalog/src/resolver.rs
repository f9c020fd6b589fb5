//! Cloudify's import resolver, offline by default.
//!
//! Semantics follow cloudify-common's `DefaultImportResolver`: rules are tried in order, each
//! matching prefix is replaced and the result read; when every candidate fails and `fallback`
//! is false the import fails (code 13), otherwise the original URL is read. Stratus reads a
//! candidate from a `file://` URL or absolute path, then from the built-in catalog (so public
//! URLs work with no rules and no network), and from the network only when the operator allows
//! it, through a [`Fetcher`] the binary supplies: this crate contains no HTTP client.

use std::borrow::Cow;
use std::fmt;

use crate::catalog::Catalog;

/// Resolver settings, from the config file's `import_resolver` section (parsed by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// `(prefix, replacement)` in order, from `parameters.rules`.
    pub rules: Vec<(String, String)>,
    /// `parameters.fallback`: try the original URL when every matching rule failed.
    pub fallback: bool,
    /// Stratus's own option: fetch http(s) URLs the catalog does not hold.
    pub allow_network: bool,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            rules: Vec::new(),
            fallback: true,
            allow_network: false,
        }
    }
}

/// Fetches a URL over the network; implemented by the binary.
pub trait Fetcher {
    fn fetch(&self, url: &str) -> Result<String, String>;
}

/// Where a resolved document came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedFrom {
    File,
    Catalog,
    Network,
}

/// A resolved import.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The candidate URL that was read (after rule substitution).
    pub url: String,
    pub from: ResolvedFrom,
    pub text: Cow<'static, str>,
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub candidate: String,
    /// The rule that produced the candidate; `None` for the original URL.
    pub rule: Option<(String, String)>,
    pub reason: String,
}

/// An import no candidate could satisfy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct ResolveError {
    pub url: String,
    pub attempts: Vec<Attempt>,
    /// Whether rules matched but `fallback: false` kept the original URL from being tried.
    pub fallback_disabled: bool,
}

impl ResolveError {
    /// The reference parser's error code for an unresolvable import.
    pub const CODE: u32 = 13;
}

impl ResolveError {
    fn describe(&self) -> String {
        let mut text = String::new();
        let _ = self.write(&mut text);
        text
    }

    fn write(&self, f: &mut impl fmt::Write) -> fmt::Result {
        write!(f, "cannot resolve import '{}'; tried:", self.url)?;
        for attempt in &self.attempts {
            match &attempt.rule {
                Some((prefix, replacement)) => write!(
                    f,
                    "\n  - {} (resolver rule '{prefix}' -> '{replacement}'): {}",
                    attempt.candidate, attempt.reason
                )?,
                None => write!(
                    f,
                    "\n  - {} (the URL itself): {}",
                    attempt.candidate, attempt.reason
                )?,
            }
        }
        if self.fallback_disabled {
            write!(
                f,
                "\n  (the URL itself was not tried: import_resolver fallback is false)"
            )?;
        }
        Ok(())
    }
}

/// Resolves import URLs. See the module docs.
pub struct ImportResolver {
    config: ResolverConfig,
    catalog: &'static Catalog,
    fetcher: Option<Box<dyn Fetcher + Send + Sync>>,
}

impl ImportResolver {
    pub fn new(
        config: ResolverConfig,
        catalog: &'static Catalog,
        fetcher: Option<Box<dyn Fetcher + Send + Sync>>,
    ) -> Self {
        ImportResolver {
            config,
            catalog,
            fetcher,
        }
    }

    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    pub fn catalog(&self) -> &'static Catalog {
        self.catalog
    }

    pub fn resolve(&self, url: &str) -> Result<Resolved, ResolveError> {
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut matched_any_rule = false;
        for (prefix, replacement) in &self.config.rules {
            let Some(rest) = url.strip_prefix(prefix.as_str()) else {
                continue;
            };
            matched_any_rule = true;
            let candidate = format!("{replacement}{rest}");
            if attempts
                .iter()
                .any(|attempt| attempt.candidate == candidate)
            {
                continue;
            }
            match self.read(&candidate) {
                Ok(resolved) => return Ok(resolved),
                Err(reason) => attempts.push(Attempt {
                    candidate,
                    rule: Some((prefix.clone(), replacement.clone())),
                    reason,
                }),
            }
        }
        if matched_any_rule && !self.config.fallback {
            return Err(ResolveError {
                url: url.to_string(),
                attempts,
                fallback_disabled: true,
            });
        }
        match self.read(url) {
            Ok(resolved) => Ok(resolved),
            Err(reason) => {
                attempts.push(Attempt {
                    candidate: url.to_string(),
                    rule: None,
                    reason,
                });
                Err(ResolveError {
                    url: url.to_string(),
                    attempts,
                    fallback_disabled: false,
                })
            }
        }
    }

    /// Reads one candidate: file, then catalog, then (if allowed) network.
    fn read(&self, candidate: &str) -> Result<Resolved, String> {
        let resolved = |from, text| {
            Ok(Resolved {
                url: candidate.to_string(),
                from,
                text,
            })
        };
        if let Some(path) = file_path(candidate) {
            return match std::fs::read_to_string(path) {
                Ok(text) => resolved(ResolvedFrom::File, Cow::Owned(text)),
                Err(e) => Err(format!("cannot read file {path}: {e}")),
            };
        }
        let Some((scheme, _)) = candidate.split_once("://") else {
            return Err("not a URL or an absolute file path".to_string());
        };
        if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
            return Err(format!("unsupported URL scheme '{scheme}'"));
        }
        if let Some(text) = self.catalog.document_for_url(candidate) {
            return resolved(ResolvedFrom::Catalog, Cow::Borrowed(text));
        }
        match (&self.fetcher, self.config.allow_network) {
            (Some(fetcher), true) => match fetcher.fetch(candidate) {
                Ok(text) => resolved(ResolvedFrom::Network, Cow::Owned(text)),
                Err(e) => Err(format!("not in the built-in catalog; fetch failed: {e}")),
            },
            (None, true) => Err("not in the built-in catalog; no network fetcher is configured".to_string()),
            (_, false) => Err(
                "not in the built-in catalog, and network access is disabled (import_resolver allow_network: false)"
                    .to_string(),
            ),
        }
    }
}

/// `file:///abs`, `file://localhost/abs` and `file:/abs` → `/abs`; an absolute path is itself.
fn file_path(candidate: &str) -> Option<&str> {
    if let Some(rest) = candidate.strip_prefix("file:") {
        let rest = rest
            .strip_prefix("//")
            .map_or(rest, |r| r.strip_prefix("localhost").unwrap_or(r));
        return Some(rest);
    }
    candidate.starts_with('/').then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    const TYPES_455: &str = "www.getcloudify.org/spec/cloudify/4.5.5/types.yaml";

    fn rules(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(p, r)| (p.to_string(), r.to_string()))
            .collect()
    }

    fn resolver(config: ResolverConfig) -> ImportResolver {
        ImportResolver::new(config, Catalog::builtin(), None)
    }

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("stratus-catalog-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn catalog_serves_http_and_https_with_no_config() {
        let resolver = resolver(ResolverConfig::default());
        for scheme in ["http", "https"] {
            let resolved = resolver
                .resolve(&format!("{scheme}://{TYPES_455}"))
                .unwrap();
            assert_eq!(resolved.from, ResolvedFrom::Catalog);
            assert_eq!(
                &*resolved.text,
                Catalog::builtin().document(TYPES_455).unwrap()
            );
        }
    }

    #[test]
    fn offline_default_error_names_url_and_reason() {
        let error = resolver(ResolverConfig::default())
            .resolve("https://example.com/x.yaml")
            .unwrap_err();
        assert_eq!(error.attempts.len(), 1);
        let message = error.to_string();
        assert!(message.contains("https://example.com/x.yaml"), "{message}");
        assert!(message.contains("network access is disabled"), "{message}");
    }

    #[test]
    fn rules_in_order_first_success_wins() {
        let dir = temp_dir("order");
        std::fs::create_dir_all(dir.join("b")).unwrap();
        std::fs::write(dir.join("b/t.yaml"), "second").unwrap();
        let config = ResolverConfig {
            rules: rules(&[
                ("http://other", "file:///nowhere"),
                ("http://h", &format!("file://{}/a", dir.display())),
                ("http://h", &format!("file://{}/b", dir.display())),
            ]),
            ..ResolverConfig::default()
        };
        let resolved = resolver(config).resolve("http://h/t.yaml").unwrap();
        assert_eq!(resolved.text, "second");
        assert_eq!(resolved.from, ResolvedFrom::File);
        assert_eq!(resolved.url, format!("file://{}/b/t.yaml", dir.display()));
    }

    #[test]
    fn rule_can_redirect_to_catalog() {
        let config = ResolverConfig {
            rules: rules(&[(
                "https://mirror.local/cfy",
                "http://www.getcloudify.org/spec/cloudify",
            )]),
            fallback: false,
            ..ResolverConfig::default()
        };
        let resolved = resolver(config)
            .resolve("https://mirror.local/cfy/4.5.5/types.yaml")
            .unwrap();
        assert_eq!(resolved.from, ResolvedFrom::Catalog);
    }

    #[test]
    fn fallback_true_tries_the_original_url() {
        let config = ResolverConfig {
            rules: rules(&[("http://www.getcloudify.org", "file:///nowhere")]),
            fallback: true,
            ..ResolverConfig::default()
        };
        let resolved = resolver(config)
            .resolve(&format!("http://{TYPES_455}"))
            .unwrap();
        assert_eq!(resolved.from, ResolvedFrom::Catalog);
        assert_eq!(resolved.url, format!("http://{TYPES_455}"));
    }

    #[test]
    fn fallback_false_fails_listing_every_candidate() {
        let config = ResolverConfig {
            rules: rules(&[
                ("http://www.getcloudify.org", "file:///nowhere/one"),
                ("http://www.getcloudify.org/spec", "file:///nowhere/two"),
            ]),
            fallback: false,
            ..ResolverConfig::default()
        };
        let error = resolver(config)
            .resolve(&format!("http://{TYPES_455}"))
            .unwrap_err();
        assert!(error.fallback_disabled);
        assert_eq!(error.attempts.len(), 2);
        let message = error.to_string();
        assert!(
            message.contains("file:///nowhere/one/spec/cloudify/4.5.5/types.yaml"),
            "{message}"
        );
        assert!(
            message.contains("file:///nowhere/two/cloudify/4.5.5/types.yaml"),
            "{message}"
        );
        assert!(
            message.contains("'http://www.getcloudify.org/spec' -> 'file:///nowhere/two'"),
            "{message}"
        );
        assert!(message.contains("fallback is false"), "{message}");
    }

    #[test]
    fn fallback_false_without_matching_rule_still_tries_original() {
        let config = ResolverConfig {
            rules: rules(&[("http://elsewhere", "file:///nowhere")]),
            fallback: false,
            ..ResolverConfig::default()
        };
        assert!(resolver(config)
            .resolve(&format!("https://{TYPES_455}"))
            .is_ok());
    }

    struct Recorder(Arc<Mutex<Vec<String>>>);

    impl Fetcher for Recorder {
        fn fetch(&self, url: &str) -> Result<String, String> {
            self.0.lock().unwrap().push(url.to_string());
            if url.contains("good") {
                Ok("fetched: true".into())
            } else {
                Err("HTTP 404".into())
            }
        }
    }

    #[test]
    fn network_only_when_allowed_and_catalog_first() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let offline = ImportResolver::new(
            ResolverConfig::default(),
            Catalog::builtin(),
            Some(Box::new(Recorder(calls.clone()))),
        );
        assert!(offline.resolve("http://good.example/x.yaml").is_err());
        assert!(calls.lock().unwrap().is_empty());

        let online = ImportResolver::new(
            ResolverConfig {
                allow_network: true,
                ..ResolverConfig::default()
            },
            Catalog::builtin(),
            Some(Box::new(Recorder(calls.clone()))),
        );
        let resolved = online.resolve("http://good.example/x.yaml").unwrap();
        assert_eq!(resolved.from, ResolvedFrom::Network);
        assert_eq!(
            online.resolve(&format!("http://{TYPES_455}")).unwrap().from,
            ResolvedFrom::Catalog
        );
        let error = online.resolve("http://bad.example/x.yaml").unwrap_err();
        assert!(error.to_string().contains("HTTP 404"));
        assert_eq!(calls.lock().unwrap().len(), 2);
    }

    #[test]
    fn file_url_spellings() {
        assert_eq!(file_path("file:///opt/x.yaml"), Some("/opt/x.yaml"));
        assert_eq!(
            file_path("file://localhost/opt/x.yaml"),
            Some("/opt/x.yaml")
        );
        assert_eq!(file_path("file:/opt/x.yaml"), Some("/opt/x.yaml"));
        assert_eq!(file_path("/opt/x.yaml"), Some("/opt/x.yaml"));
        assert_eq!(file_path("http://h/x.yaml"), None);
    }

    #[test]
    fn unsupported_scheme_is_explained() {
        let error = resolver(ResolverConfig::default())
            .resolve("ftp://host/x.yaml")
            .unwrap_err();
        assert!(error.to_string().contains("unsupported URL scheme 'ftp'"));
    }
}
