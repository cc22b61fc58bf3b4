//! Publish-time check of `cron` schedules with the grammar the agent's executor uses
//! (`vigo_core::cron`), so `99 99 * * *` is refused at publish with the field and its
//! range instead of on every envoy. A templated value is checked on the agent, after
//! rendering.

use serde_json::Value;
use vigo_core::cron::{self, Field};

use super::cx::Cx;
use crate::model::ResourceDef;
use crate::schema;

/// Checks the `schedule` of a `cron` resource, or each of its five field attributes.
pub(crate) fn check_cron(cx: &mut Cx<'_>, context: &str, r: &ResourceDef) {
    let text = |key: &str| {
        r.attrs
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !schema::is_templated(s))
    };
    if let Some(schedule) = text("schedule") {
        if let Err(e) = cron::check_schedule(schedule) {
            cx.err(
                r.pos_of("schedule"),
                context,
                format!("attribute `schedule`: {e}"),
            );
        }
        return;
    }
    for field in Field::ALL {
        if let Some(value) = text(field.name())
            && let Err(e) = cron::check_field(field, value.trim())
        {
            cx.err(
                r.pos_of(field.name()),
                context,
                format!("attribute `{}`: {e}", field.name()),
            );
        }
    }
}
