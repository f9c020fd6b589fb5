//! MSB (ONAP's Microservice Bus) registration, as k8splugin did it: no call to MSB, but an
//! annotation `msb.onap.org/service-info` on the component's ClusterIP Service, which MSB's
//! Kubernetes watcher reads to register the service. Pure data, no I/O.
//!
//! Followed from k8splugin 1.x–2.x (`tasks._setup_msb_registration`, `msb/msb.py`,
//! `k8sclient.deploy`): only `dcae.nodes.ContainerizedPlatformComponent` declares the
//! `msb_registration` property (`dcae.types.MSBRegistration`: `port`, `version`, `url_path`,
//! `uses_ssl`), and only its start (`create_and_start_container_for_platforms`) reads it. A
//! registration is made when the property has a `port`; the entry is `serviceName` (the
//! component's `dns_name`, else `name`), `port` (as a string), `version` (default `v1`), `url`
//! (`url_path`, default `/v1`), `protocol` `REST`, `enable_ssl` (`uses_ssl`, default false) and
//! `visualRange` `"1"` (inside ONAP only). The annotation's value is the JSON list of entries,
//! written as Python's `json.dumps` wrote it (`", "` and `": "` separators, non-ASCII escaped),
//! and it goes on the ClusterIP Service only — never on the NodePort one; without ports there is
//! no Service, so nothing is annotated.
//!
//! Like `msb.py`, bad values are sanitised, never refused (MSB registration is asynchronous
//! and fails silently, so a visible, imperfect entry is better than none): numbers and booleans
//! become strings where MSB expects strings; a `null` field counts as absent (k8splugin would
//! have written `null`, or `"None"` for the port); `uses_ssl` given as text is read as a
//! boolean word (`"false"` is false; Python's `bool("false")` was true). What looks wrong — a
//! port that is not a number or not one of the container's ports — is reported as a warning.

use serde_json::{Map, Value};

/// The annotation k8splugin put on the ClusterIP Service.
pub const ANNOTATION: &str = "msb.onap.org/service-info";

/// One MSB service entry (`msb._sanitize_service_info`'s keys, in its order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub service_name: String,
    pub port: String,
    pub version: String,
    pub url: String,
    pub protocol: String,
    pub enable_ssl: bool,
    pub visual_range: String,
}

/// A scalar as MSB's string, `None` for null, lists and maps.
fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        _ => None,
    }
}

fn truth(value: &Value) -> Option<bool> {
    match value {
        Value::Null => None,
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64() != Some(0.0)),
        Value::String(s) => Some(matches!(
            s.trim().to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1"
        )),
        Value::Array(a) => Some(!a.is_empty()),
        Value::Object(o) => Some(!o.is_empty()),
    }
}

/// The registration a platform component's `msb_registration` property asks for, and warnings
/// about what was sanitised. `None` when there is no property or it has no `port` (k8splugin:
/// "If 'port' property is not provided, the plugin will not do the registration").
pub fn registration(
    service_name: &str,
    property: Option<&Value>,
    container_ports: &[u16],
) -> (Option<Registration>, Vec<String>) {
    let mut warnings = Vec::new();
    let Some(property) = property.filter(|p| !p.is_null()) else {
        return (None, warnings);
    };
    let Some(fields) = property.as_object() else {
        warnings.push(format!(
            "msb_registration is not a mapping ({property}): no MSB registration"
        ));
        return (None, warnings);
    };
    let field = |key: &str| fields.get(key).filter(|v| !v.is_null());
    let Some(port_value) = field("port") else {
        if !fields.is_empty() {
            warnings.push(
                "msb_registration has no port: no MSB registration (k8splugin needs the port)"
                    .into(),
            );
        }
        return (None, warnings);
    };
    let port = match scalar(Some(port_value)) {
        Some(port) => port.trim().to_string(),
        None => {
            warnings.push(format!(
                "msb_registration.port {port_value} is not a port number; registering port \"80\" (msb.py's default)"
            ));
            "80".into()
        }
    };
    match port.parse::<u16>() {
        Ok(number) if number != 0 && container_ports.contains(&number) => {}
        Ok(number) if number != 0 => warnings.push(format!(
            "msb_registration.port {number} is not one of the container ports {container_ports:?}: MSB will register a port the Service does not have"
        )),
        _ => warnings.push(format!(
            "msb_registration.port \"{port}\" is not a port number: MSB will not be able to reach the service"
        )),
    }
    let mut text_or = |key: &str, default: &str| match field(key) {
        None => default.to_string(),
        Some(value) => scalar(Some(value)).unwrap_or_else(|| {
            warnings.push(format!(
                "msb_registration.{key} {value} is not a string; using \"{default}\""
            ));
            default.to_string()
        }),
    };
    let version = text_or("version", "v1");
    let url = text_or("url_path", "/v1");
    let registration = Registration {
        service_name: service_name.to_string(),
        port,
        version,
        url,
        protocol: "REST".into(),
        enable_ssl: field("uses_ssl").and_then(truth).unwrap_or(false),
        visual_range: "1".into(),
    };
    (Some(registration), warnings)
}

/// The annotation's value: the JSON list of entries, as `json.dumps` wrote it.
pub fn annotation_value(registrations: &[Registration]) -> String {
    let entries: Vec<String> = registrations
        .iter()
        .map(|r| {
            let fields = [
                ("serviceName", crate::pyjson::string(&r.service_name)),
                ("port", crate::pyjson::string(&r.port)),
                ("version", crate::pyjson::string(&r.version)),
                ("url", crate::pyjson::string(&r.url)),
                ("protocol", crate::pyjson::string(&r.protocol)),
                ("enable_ssl", r.enable_ssl.to_string()),
                ("visualRange", crate::pyjson::string(&r.visual_range)),
            ];
            let body: Vec<String> = fields
                .iter()
                .map(|(key, value)| format!("\"{key}\": {value}"))
                .collect();
            format!("{{{}}}", body.join(", "))
        })
        .collect();
    format!("[{}]", entries.join(", "))
}

/// The Service annotations for `registrations` (empty when there are none).
pub fn annotations(registrations: &[Registration]) -> Map<String, Value> {
    let mut map = Map::new();
    if !registrations.is_empty() {
        map.insert(
            ANNOTATION.into(),
            Value::String(annotation_value(registrations)),
        );
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(property: Value, ports: &[u16]) -> (Option<Registration>, Vec<String>) {
        registration("dcae-holmes", Some(&property), ports)
    }

    #[test]
    fn defaults_are_k8splugins() {
        let (registration, warnings) = entry(json!({"port": "9101"}), &[9101]);
        assert!(warnings.is_empty(), "{warnings:?}");
        let value = annotation_value(&[registration.unwrap()]);
        assert_eq!(
            value,
            r#"[{"serviceName": "dcae-holmes", "port": "9101", "version": "v1", "url": "/v1", "protocol": "REST", "enable_ssl": false, "visualRange": "1"}]"#
        );
        // MSB reads it as JSON.
        let parsed: Value = serde_json::from_str(&value).unwrap();
        assert_eq!(parsed[0]["visualRange"], "1");
    }

    #[test]
    fn every_field_is_taken() {
        let (registration, warnings) = entry(
            json!({"port": 8443, "version": "v2", "url_path": "/api/holmes", "uses_ssl": true}),
            &[8443],
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            registration.unwrap(),
            Registration {
                service_name: "dcae-holmes".into(),
                port: "8443".into(),
                version: "v2".into(),
                url: "/api/holmes".into(),
                protocol: "REST".into(),
                enable_ssl: true,
                visual_range: "1".into(),
            }
        );
    }

    #[test]
    fn no_port_no_registration() {
        assert_eq!(registration("c", None, &[80]), (None, vec![]));
        assert_eq!(registration("c", Some(&Value::Null), &[80]), (None, vec![]));
        // An empty mapping: nothing asked, nothing said.
        assert_eq!(entry(json!({}), &[80]), (None, vec![]));
        let (none, warnings) = entry(json!({"version": "v2"}), &[80]);
        assert!(
            none.is_none() && warnings[0].contains("no port"),
            "{warnings:?}"
        );
        let (none, warnings) = entry(json!({"port": null, "url_path": "/x"}), &[80]);
        assert!(none.is_none() && warnings.len() == 1, "{warnings:?}");
        let (none, warnings) = entry(json!("9101"), &[80]);
        assert!(
            none.is_none() && warnings[0].contains("not a mapping"),
            "{warnings:?}"
        );
    }

    #[test]
    fn bad_values_are_sanitised_and_reported() {
        let (registration, warnings) = entry(
            json!({"port": "http", "version": 2, "url_path": ["/a"], "uses_ssl": "false"}),
            &[80],
        );
        let registration = registration.unwrap();
        assert_eq!(registration.port, "http");
        assert_eq!(registration.version, "2");
        assert_eq!(registration.url, "/v1");
        assert!(!registration.enable_ssl);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("not a port number"), "{warnings:?}");
        assert!(warnings[1].contains("url_path"), "{warnings:?}");
        let (registration, warnings) = entry(json!({"port": {"n": 1}, "uses_ssl": "True"}), &[80]);
        let registration = registration.unwrap();
        assert_eq!(
            (registration.port.as_str(), registration.enable_ssl),
            ("80", true)
        );
        assert!(
            warnings[0].contains("registering port \"80\""),
            "{warnings:?}"
        );
        let (_, warnings) = entry(json!({"port": 9999}), &[80, 443]);
        assert!(
            warnings[0].contains("not one of the container ports [80, 443]"),
            "{warnings:?}"
        );
    }

    #[test]
    fn text_is_escaped_as_python_did() {
        let registration = Registration {
            service_name: "a\"b".into(),
            port: "80".into(),
            version: "v1".into(),
            url: "/é/\u{1F600}\n".into(),
            protocol: "REST".into(),
            enable_ssl: true,
            visual_range: "1".into(),
        };
        let value = annotation_value(&[registration.clone(), registration]);
        assert!(value.starts_with(r#"[{"serviceName": "a\"b", "#), "{value}");
        assert!(
            value.contains(r#""url": "/\u00e9/\ud83d\ude00\n""#),
            "{value}"
        );
        assert!(value.contains(r#""enable_ssl": true"#), "{value}");
        assert!(value.contains("}, {"), "{value}");
        let parsed: Value = serde_json::from_str(&value).unwrap();
        assert_eq!(parsed[1]["url"], "/é/\u{1F600}\n");
        assert!(annotations(&[]).is_empty());
    }
}
