//! Cloudify's list protocol: `_include`, `_sort` (`-field` descending, repeatable), `_size`,
//! `_offset`, `_range=field,from,to`, `field=value` filters (a repeated field means OR),
//! `_all_tenants`, and the `{"items", "metadata": {"pagination"}}` envelope.
//!
//! Parsing is separate from applying (parse, then validate): [`ListParams::parse`] turns the
//! raw query into plain data and rejects malformed numbers; [`page`] filters, sorts and slices
//! rows and renders the envelope. Without `_include`, items are the rows' cached serialized
//! form, so a list costs little more than copying bytes.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::state::Row;

/// Cloudify's largest page.
pub const MAX_PAGE_SIZE: u64 = 1000;

/// How list items are shown: the stored body minus private fields (served straight from the
/// stored text when it has none), or a kind-specific rendering (cached per row).
#[derive(Clone, Copy)]
pub enum Render {
    Stored,
    With(fn(&Row) -> Value),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    pub include: Option<Vec<String>>,
    pub sort: Vec<(String, bool)>,
    pub size: u64,
    pub offset: u64,
    pub ranges: Vec<(String, Option<String>, Option<String>)>,
    pub filters: IndexMap<String, Vec<String>>,
    pub all_tenants: bool,
}

/// The raw query string as ordered pairs.
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A query flag (`true`/`false`, any case); absent is false.
pub fn flag(pairs: &[(String, String)], name: &str) -> ApiResult<bool> {
    match pairs.iter().rev().find(|(k, _)| k == name) {
        None => Ok(false),
        Some((_, v)) => parse_bool(v).ok_or_else(|| {
            ApiError::bad_parameters(format!("{name} must be true or false, got '{v}'"))
        }),
    }
}

/// Cloudify accepts booleans as JSON booleans or as strings.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" | "" => Some(false),
        _ => None,
    }
}

impl ListParams {
    /// `reserved` names query parameters the endpoint reads itself (not filters).
    pub fn parse(pairs: &[(String, String)], reserved: &[&str]) -> ApiResult<ListParams> {
        let mut params = ListParams {
            size: MAX_PAGE_SIZE,
            ..ListParams::default()
        };
        for (key, value) in pairs {
            match key.as_str() {
                "_include" => {
                    let fields = value
                        .split(',')
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(str::to_string);
                    params.include.get_or_insert_with(Vec::new).extend(fields);
                }
                "_sort" => {
                    let (field, descending) = match value.strip_prefix('-') {
                        Some(field) => (field, true),
                        None => (value.strip_prefix('+').unwrap_or(value), false),
                    };
                    params.sort.push((field.to_string(), descending));
                }
                "_size" => params.size = number(key, value)?.min(MAX_PAGE_SIZE),
                "_offset" => params.offset = number(key, value)?,
                "_range" => {
                    let mut parts = value.splitn(3, ',');
                    let field = parts.next().unwrap_or("").to_string();
                    let from = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
                    let to = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
                    if field.is_empty() {
                        return Err(ApiError::bad_parameters(format!(
                            "_range must be FIELD,FROM,TO, got '{value}'"
                        )));
                    }
                    params.ranges.push((field, from, to));
                }
                "_all_tenants" => {
                    params.all_tenants = parse_bool(value).ok_or_else(|| {
                        ApiError::bad_parameters(format!(
                            "_all_tenants must be true or false, got '{value}'"
                        ))
                    })?
                }
                other if other.starts_with('_') || reserved.contains(&other) => {}
                other => params
                    .filters
                    .entry(other.to_string())
                    .or_default()
                    .push(value.clone()),
            }
        }
        Ok(params)
    }
}

fn number(key: &str, value: &str) -> ApiResult<u64> {
    value.trim().parse::<u64>().map_err(|_| {
        ApiError::bad_parameters(format!(
            "{key} must be a non-negative integer, got '{value}'"
        ))
    })
}

/// How a stored value compares with a filter written as text.
fn matches_text(value: Option<&Value>, text: &str) -> bool {
    match value {
        Some(Value::String(s)) => s == text,
        Some(Value::Bool(b)) => parse_bool(text) == Some(*b),
        Some(Value::Number(n)) => n.to_string() == text,
        Some(Value::Null) | None => text.is_empty() || text.eq_ignore_ascii_case("none"),
        Some(Value::Array(items)) => items.iter().any(|item| matches_text(Some(item), text)),
        Some(Value::Object(_)) => false,
    }
}

fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            None | Some(Value::Null) => 0,
            Some(Value::Bool(_)) => 1,
            Some(Value::Number(_)) => 2,
            Some(Value::String(_)) => 3,
            _ => 4,
        }
    }
    match (a, b) {
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn in_range(value: Option<&Value>, from: &Option<String>, to: &Option<String>) -> bool {
    let Some(text) = value.and_then(Value::as_str) else {
        return false;
    };
    from.as_deref().is_none_or(|f| text >= f) && to.as_deref().is_none_or(|t| text <= t)
}

/// Filters, sorts and pages `rows`, rendering each item with `render`.
pub fn page(mut rows: Vec<Arc<Row>>, params: &ListParams, render: Render) -> Response {
    if !params.filters.is_empty() || !params.ranges.is_empty() {
        rows.retain(|row| {
            params.filters.iter().all(|(field, wanted)| {
                wanted
                    .iter()
                    .any(|text| matches_text(row.lookup(field).as_ref(), text))
            }) && params
                .ranges
                .iter()
                .all(|(field, from, to)| in_range(row.lookup(field).as_ref(), from, to))
        });
    }
    if !params.sort.is_empty() {
        let mut keyed: Vec<(Vec<Option<Value>>, Arc<Row>)> = rows
            .into_iter()
            .map(|row| {
                let keys = params
                    .sort
                    .iter()
                    .map(|(field, _)| row.lookup(field))
                    .collect();
                (keys, row)
            })
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            params
                .sort
                .iter()
                .zip(a.iter().zip(b.iter()))
                .map(|((_, descending), (x, y))| {
                    let order = compare(x.as_ref(), y.as_ref());
                    if *descending {
                        order.reverse()
                    } else {
                        order
                    }
                })
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        rows = keyed.into_iter().map(|(_, row)| row).collect();
    }
    let total = rows.len() as u64;
    let start = params.offset.min(total) as usize;
    let end = (params.offset.saturating_add(params.size)).min(total) as usize;
    render_page(&rows[start..end], total, params, render)
}

/// The envelope around one page of rows, `total` being the count of all matching rows.
pub fn render_page(rows: &[Arc<Row>], total: u64, params: &ListParams, render: Render) -> Response {
    let mut out = Vec::with_capacity(96 + rows.len() * 1024);
    out.extend_from_slice(b"{\"items\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match (&params.include, render) {
            (None, Render::Stored) if !row.has_private_fields() => {
                out.extend_from_slice(row.raw().as_bytes())
            }
            (None, Render::Stored) => out.extend_from_slice(&row.wire_bytes(Row::public_body)),
            (None, Render::With(f)) => out.extend_from_slice(&row.wire_bytes(f)),
            (Some(fields), Render::Stored) => {
                out.extend_from_slice(&serde_json::to_vec(&row.project(fields)).unwrap_or_default())
            }
            (Some(fields), Render::With(_)) => {
                let rendered = match render {
                    Render::Stored => row.public_body(),
                    Render::With(f) => f(row),
                };
                let projected: Map<String, Value> = fields
                    .iter()
                    .filter_map(|f| rendered.get(f).map(|v| (f.clone(), v.clone())))
                    .collect();
                out.extend_from_slice(
                    &serde_json::to_vec(&Value::Object(projected)).unwrap_or_default(),
                );
            }
        }
    }
    out.extend_from_slice(
        format!(
            "],\"metadata\":{{\"pagination\":{{\"total\":{total},\"size\":{},\"offset\":{}}},\"filtered\":null}}}}",
            params.size, params.offset
        )
        .as_bytes(),
    );
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

impl ListParams {
    /// Whether the list is a plain page in creation order (no filter, range or sort).
    pub fn is_plain(&self) -> bool {
        self.filters.is_empty() && self.ranges.is_empty() && self.sort.is_empty()
    }
}

/// Keeps only the `_include`d top-level fields of a single item.
pub fn project(value: Value, include: &Option<Vec<String>>) -> Value {
    match (include, value) {
        (Some(fields), Value::Object(mut map)) => Value::Object(
            fields
                .iter()
                .filter_map(|f| map.remove(f).map(|v| (f.clone(), v)))
                .collect(),
        ),
        (_, value) => value,
    }
}
