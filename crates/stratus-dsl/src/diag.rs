//! Diagnostics: every problem found in a blueprint, with where it is and the reference
//! parser's numeric error code where it has one.
//!
//! The parser keeps going after a problem wherever the rest of the blueprint can still be
//! checked, so a user sees every problem in one pass (rust-analyzer's rule), and renders them
//! at the edge (the CLI, the REST API).

use std::fmt;

use crate::yaml::Span;

/// The reference's exception class, kept because clients (and our differential tests) key on
/// it: Cloudify's REST API maps `DSLParsingException`s to `invalid_blueprint_error`, missing
/// inputs to `missing_required_deployment_input_error`, and so on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `DSLParsingFormatException`: the document does not have the required shape.
    Format,
    /// `DSLParsingLogicException`: the shape is right but the content is inconsistent.
    Logic,
    /// `DSLParsingInputTypeException`.
    InputType,
    /// `DSLParsingException`: generic (e.g. data type violations of inputs).
    Parsing,
    /// `MissingRequiredInputError` (deployment creation).
    MissingRequiredInput,
    /// `UnknownInputError` (deployment creation, or `get_input` of an undeclared input).
    UnknownInput,
    /// `InputEvaluationError`.
    InputEvaluation,
    /// `ConstraintException`: an input value violates a constraint.
    Constraint,
    /// `FunctionEvaluationError`.
    FunctionEvaluation,
    /// `FunctionValidationError`.
    FunctionValidation,
    /// `IllegalConnectedToConnectionType`: a relationship's `connection_type` is neither
    /// `all_to_all` nor `all_to_one`.
    IllegalConnectionType,
    /// `UnsupportedGetSecretError`: `get_secret` with no secret store to check it against.
    UnsupportedGetSecret,
    /// `UnknownSecretError`: a secret `get_secret` names does not exist.
    UnknownSecret,
    /// PyYAML's `ScannerError`: a malformed token (tab indentation, unclosed quote, …).
    YamlScanner,
    /// PyYAML's `ComposerError`: an alias to an undefined anchor.
    YamlComposer,
    /// `KeyError`: a function names a node template that does not exist.
    Key,
    /// `IndexError`: an index outside a list.
    Index,
    /// `ValueError` / other errors the reference raises without a code.
    Value,
}

impl Kind {
    pub fn reference_name(self) -> &'static str {
        match self {
            Kind::Format => "DSLParsingFormatException",
            Kind::Logic => "DSLParsingLogicException",
            Kind::InputType => "DSLParsingInputTypeException",
            Kind::Parsing => "DSLParsingException",
            Kind::MissingRequiredInput => "MissingRequiredInputError",
            Kind::UnknownInput => "UnknownInputError",
            Kind::InputEvaluation => "InputEvaluationError",
            Kind::Constraint => "ConstraintException",
            Kind::FunctionEvaluation => "FunctionEvaluationError",
            Kind::FunctionValidation => "FunctionValidationError",
            Kind::IllegalConnectionType => "IllegalConnectedToConnectionType",
            Kind::UnsupportedGetSecret => "UnsupportedGetSecretError",
            Kind::UnknownSecret => "UnknownSecretError",
            Kind::YamlScanner => "ScannerError",
            Kind::YamlComposer => "ComposerError",
            Kind::Key => "KeyError",
            Kind::Index => "IndexError",
            Kind::Value => "ValueError",
        }
    }
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub kind: Kind,
    /// The reference parser's error code, where it has one.
    pub code: Option<i32>,
    pub message: String,
    /// File (or URL) the problem is in; empty for problems with the inputs given.
    pub file: String,
    /// 1-based; 0 when the problem has no place in a file.
    pub line: u32,
    pub column: u32,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        } else if !self.file.is_empty() {
            write!(f, "{}: ", self.file)?;
        }
        write!(f, "error")?;
        if let Some(code) = self.code {
            write!(f, "[{code}]")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A problem found during parsing, before its span is turned into a file name.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: Kind,
    pub code: Option<i32>,
    pub message: String,
    pub span: Option<Span>,
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(kind: Kind, code: i32, span: Span, message: impl Into<String>) -> Problem {
        Problem {
            kind,
            code: Some(code),
            message: message.into(),
            span: Some(span),
            hint: None,
        }
    }

    pub fn logic(code: i32, span: Span, message: impl Into<String>) -> Problem {
        Problem::new(Kind::Logic, code, span, message)
    }

    pub fn format(code: i32, span: Span, message: impl Into<String>) -> Problem {
        Problem::new(Kind::Format, code, span, message)
    }

    pub fn uncoded(kind: Kind, span: Option<Span>, message: impl Into<String>) -> Problem {
        Problem {
            kind,
            code: None,
            message: message.into(),
            span,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    pub fn locate(self, files: &[String]) -> Diagnostic {
        let (file, line, column) = match self.span {
            Some(span) => (
                files.get(span.file as usize).cloned().unwrap_or_default(),
                span.line,
                span.column,
            ),
            None => (String::new(), 0, 0),
        };
        Diagnostic {
            kind: self.kind,
            code: self.code,
            message: self.message,
            file,
            line,
            column,
            hint: self.hint,
        }
    }
}

/// Collects problems; the parser passes one of these down instead of returning early.
#[derive(Debug, Default)]
pub struct Problems {
    pub list: Vec<Problem>,
}

impl Problems {
    pub fn push(&mut self, problem: Problem) {
        self.list.push(problem);
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Runs `f`, recording its problem if it fails.
    pub fn check<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.push(problem);
                None
            }
        }
    }
}
