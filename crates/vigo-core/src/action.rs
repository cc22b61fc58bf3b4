//! What one resource's run did: the result vocabulary shared by executors, the engine,
//! reports and the server.

use std::fmt;
use std::str::FromStr;

use vigo_proto::v1::Action as WireAction;

/// The outcome of one resource in one run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Already in the desired state.
    None,
    /// Did not exist; created.
    Created,
    /// Existed; modified.
    Updated,
    /// Existed; removed.
    Deleted,
    /// A guard (`when`, `onlyif`/`unless`, a failed dependency) prevented it.
    Skipped,
    /// An infrastructure problem outside the resource (broken repository, full disk).
    Blocked,
    /// The resource failed.
    Error,
}

impl Action {
    /// Every action, in wire order.
    pub const ALL: [Action; 7] = [
        Action::None,
        Action::Created,
        Action::Updated,
        Action::Deleted,
        Action::Skipped,
        Action::Blocked,
        Action::Error,
    ];

    /// The lower-case word used in reports, traces and `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
            Action::Skipped => "skipped",
            Action::Blocked => "blocked",
            Action::Error => "error",
        }
    }

    /// Whether the system was changed (what triggers `notify`).
    pub fn is_change(self) -> bool {
        matches!(self, Action::Created | Action::Updated | Action::Deleted)
    }

    /// The protobuf enum value.
    pub fn to_wire(self) -> WireAction {
        match self {
            Action::None => WireAction::None,
            Action::Created => WireAction::Created,
            Action::Updated => WireAction::Updated,
            Action::Deleted => WireAction::Deleted,
            Action::Skipped => WireAction::Skipped,
            Action::Blocked => WireAction::Blocked,
            Action::Error => WireAction::Error,
        }
    }

    /// From the protobuf enum; `None` for `ACTION_UNSPECIFIED`.
    pub fn from_wire(a: WireAction) -> Option<Self> {
        Some(match a {
            WireAction::Unspecified => return None,
            WireAction::None => Action::None,
            WireAction::Created => Action::Created,
            WireAction::Updated => Action::Updated,
            WireAction::Deleted => Action::Deleted,
            WireAction::Skipped => Action::Skipped,
            WireAction::Blocked => Action::Blocked,
            WireAction::Error => Action::Error,
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown action word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown action `{0}` (expected none, created, updated, deleted, skipped, blocked or error)"
)]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownAction(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_wire_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
            assert_eq!(Action::from_wire(a.to_wire()), Some(a));
        }
        assert_eq!(Action::from_wire(WireAction::Unspecified), None);
        assert_eq!(
            "changed".parse::<Action>().unwrap_err().to_string(),
            "unknown action `changed` (expected none, created, updated, deleted, skipped, blocked or error)"
        );
        assert!(Action::Deleted.is_change());
        assert!(!Action::Skipped.is_change());
    }
}
