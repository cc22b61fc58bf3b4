//! The body of every error answer.

use serde::{Deserialize, Serialize};

/// `{"message": "…"}` with the HTTP status, plus `"errors": […]` when there are several
/// problems (an invalid stacks tree: one `file:line:column: …` line each).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, one line for a human.
    pub message: String,
    /// Every problem, when there are several; absent on the wire when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}
