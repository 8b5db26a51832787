//! Types and rules of the relief ledger. No I/O: every constructor parses its input and returns a
//! `Result`, so that an invalid value cannot exist past the boundary.

pub mod donations;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod policy;
pub mod relief;
pub mod text;
pub mod units;
pub mod users;

/// A rule broken by an input value, with the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
