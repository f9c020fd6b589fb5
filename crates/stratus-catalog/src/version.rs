//! Plugin version ordering and `version=` specs, as the reference resolver compares them.
//!
//! A version splits on `.`, `-` and `+`; all-digit parts compare as integers, others as text
//! (a number sorts before text, so `2.3.0 < 2.3.0+t.0.3 < 2.4.0`). A spec is comma-separated
//! clauses that must all hold, each `>=`, `<=`, `==`, `!=`, `>` or `<` and a version; no
//! operator means `==`; an empty spec matches everything.

use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Number(u64),
    Text(String),
}

/// A version's comparison key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VersionKey(Vec<Part>);

impl VersionKey {
    pub fn new(version: &str) -> VersionKey {
        VersionKey(
            version
                .split(['.', '-', '+'])
                .map(|part| match part.parse::<u64>() {
                    Ok(n) if part.bytes().all(|b| b.is_ascii_digit()) => Part::Number(n),
                    _ => Part::Text(part.to_string()),
                })
                .collect(),
        )
    }
}

/// Orders two versions.
pub fn compare(a: &str, b: &str) -> Ordering {
    VersionKey::new(a).cmp(&VersionKey::new(b))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Le,
    Eq,
    Ne,
    Gt,
    Lt,
}

/// A parsed `version=` spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionSpec {
    clauses: Vec<(Op, VersionKey)>,
}

impl VersionSpec {
    pub fn parse(spec: &str) -> VersionSpec {
        let clauses = spec
            .split(',')
            .map(str::trim)
            .filter(|clause| !clause.is_empty())
            .map(|clause| {
                let ops = [
                    (">=", Op::Ge),
                    ("<=", Op::Le),
                    ("==", Op::Eq),
                    ("!=", Op::Ne),
                    (">", Op::Gt),
                    ("<", Op::Lt),
                ];
                let (op, rest) = ops
                    .iter()
                    .find_map(|(text, op)| clause.strip_prefix(text).map(|rest| (*op, rest)))
                    .unwrap_or((Op::Eq, clause));
                (op, VersionKey::new(rest.trim_start()))
            })
            .collect();
        VersionSpec { clauses }
    }

    pub fn matches(&self, version: &str) -> bool {
        let have = VersionKey::new(version);
        self.clauses.iter().all(|(op, want)| match op {
            Op::Ge => have >= *want,
            Op::Le => have <= *want,
            Op::Eq => have == *want,
            Op::Ne => have != *want,
            Op::Gt => have > *want,
            Op::Lt => have < *want,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newest<'a>(versions: &[&'a str], spec: &str) -> Option<&'a str> {
        let spec = VersionSpec::parse(spec);
        versions
            .iter()
            .copied()
            .filter(|v| spec.matches(v))
            .max_by(|a, b| compare(a, b))
    }

    const K8S: &[&str] = &[
        "1.0.0", "1.4.9", "1.4.10", "1.4.13", "1.7.2", "2.0.0", "3.4.3", "3.9.0",
    ];

    #[test]
    fn numeric_parts_compare_as_numbers() {
        assert_eq!(compare("1.4.10", "1.4.9"), Ordering::Greater);
        assert_eq!(compare("1.4", "1.4.0"), Ordering::Less);
        assert_eq!(compare("01.2", "1.2"), Ordering::Equal);
    }

    #[test]
    fn local_suffix_sorts_between_releases() {
        assert_eq!(compare("2.3.0", "2.3.0+t.0.3"), Ordering::Less);
        assert_eq!(compare("2.3.0+t.0.3", "2.4.0"), Ordering::Less);
        assert_eq!(
            newest(&["2.3.0", "2.3.0+t.0.3", "2.4.0"], "<2.4.0"),
            Some("2.3.0+t.0.3")
        );
        assert_eq!(newest(&["2.3.0", "2.3.0+t.0.3"], "==2.3.0"), Some("2.3.0"));
    }

    #[test]
    fn ranges() {
        assert_eq!(newest(K8S, ">=3.4.3,<4.0.0"), Some("3.9.0"));
        assert_eq!(newest(K8S, ">=1.4.0,<1.5.0"), Some("1.4.13"));
        assert_eq!(newest(K8S, "<=1.4.9"), Some("1.4.9"));
        assert_eq!(newest(K8S, ">1.4.13, <2"), Some("1.7.2"));
        assert_eq!(newest(K8S, "!=3.9.0,>=3"), Some("3.4.3"));
        assert_eq!(newest(K8S, ">= 4"), None);
    }

    #[test]
    fn exact_and_empty() {
        assert_eq!(newest(K8S, "==1.4.13"), Some("1.4.13"));
        assert_eq!(newest(K8S, "1.4.13"), Some("1.4.13"));
        assert_eq!(newest(K8S, "1.4.12"), None);
        assert_eq!(newest(K8S, ""), Some("3.9.0"));
        assert_eq!(newest(K8S, " , "), Some("3.9.0"));
    }
}
