//! Types and rules of the relief ledger. No I/O: every constructor parses its input and returns a
//! `Result`, so that an invalid value cannot exist past the boundary.

/// A closed set of snake_case names: `as_str`, `parse` (an error naming `$field` lists the
/// allowed values) and `ALL`.
macro_rules! str_enum {
    ($name:ident, $field:literal, { $($variant:ident => $text:literal),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(s: &str) -> Result<Self, $crate::Invalid> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    $crate::Invalid::new($field, format!("must be one of {}", [$($text),*].join(", ")))
                })
            }
        }
    };
}

pub mod checkpoint;
pub mod donations;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod payouts;
pub mod policy;
pub mod relief;
pub mod reports;
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
