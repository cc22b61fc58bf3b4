//! Signed tasks: an ad-hoc task is remote code execution as root, so the server signs each
//! [`TaskSpec`] for one envoy with its bundle-signing key and the agent runs nothing it has
//! not verified with the key it pinned at enrollment (the same key, and the same
//! rotations, as for bundles). A compromised TLS terminator or a hijacked stream can drop
//! tasks, but cannot forge, alter, redirect, replay or prolong one.
//!
//! The signature covers [`TASK_DOMAIN`] ‖ payload. A signed bundle's signature covers its
//! payload alone, and a payload starting with the domain's first byte (`v`, protobuf wire
//! type 6) never decodes as a bundle, so neither can stand in for the other.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use prost::Message;
use vigo_proto::v1::{SignedTask, TaskSpec};

use crate::signing::key_id;

/// Domain separation for task signatures.
pub const TASK_DOMAIN: &[u8] = b"vigo.v1.task\0";

/// How far a task's `issued_unix` may lie in the agent's future (clock skew).
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// The longest validity a signed task may claim: a task is signed when it is delivered,
/// so a long-lived signature is never needed and never accepted.
pub const MAX_VALIDITY_SECS: i64 = 24 * 3600;

/// The largest task payload an agent decodes.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// The highest `nice` value (as nice(1)).
pub const MAX_NICE: i32 = 19;

/// Why an agent refused a task without running it. Each message says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskRefusal {
    /// The dispatch carries no signed task (an unsigned, first-protocol dispatch).
    #[error(
        "refused: the task is not signed (this agent runs only tasks signed by the server key it pinned)"
    )]
    Unsigned,
    /// The task names another signing key than the pinned one.
    #[error("refused: the task is signed by key {got}, but the pinned server key is {pinned}")]
    WrongKey {
        /// The key id in the task.
        got: String,
        /// The pinned key's id.
        pinned: String,
    },
    /// The signature does not verify over the payload.
    #[error("refused: bad task signature (altered, or not signed by the pinned key)")]
    BadSignature,
    /// The payload is too large to decode.
    #[error("refused: task payload of {0} bytes exceeds {MAX_PAYLOAD_BYTES}")]
    TooLarge(usize),
    /// The payload is not a task.
    #[error("refused: undecodable task payload: {0}")]
    Undecodable(String),
    /// The task is signed for another envoy.
    #[error("refused: the task is addressed to envoy {addressed}, not to this envoy ({me})")]
    WrongEnvoy {
        /// The envoy id in the task.
        addressed: String,
        /// This envoy's id.
        me: String,
    },
    /// `expires_unix` has passed.
    #[error("refused: the task expired {ago_secs}s ago")]
    Expired {
        /// Seconds since it expired.
        ago_secs: i64,
    },
    /// `issued_unix` is further in the future than the allowed clock skew.
    #[error(
        "refused: the task is issued {ahead_secs}s in the future (allowed skew {MAX_CLOCK_SKEW_SECS}s)"
    )]
    NotYetValid {
        /// How far ahead.
        ahead_secs: i64,
    },
    /// The validity window is empty or longer than [`MAX_VALIDITY_SECS`].
    #[error("refused: the task claims a validity of {secs}s (at most {MAX_VALIDITY_SECS}s)")]
    BadValidity {
        /// `expires_unix - issued_unix`.
        secs: i64,
    },
    /// This task id ran (or was refused) here before.
    #[error("refused: task {0} was already received by this envoy (replay)")]
    Replayed(String),
    /// A field is out of range.
    #[error("refused: {0}")]
    Invalid(String),
}

/// The bytes a task signature covers.
fn signed_message(payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(TASK_DOMAIN.len() + payload.len());
    m.extend_from_slice(TASK_DOMAIN);
    m.extend_from_slice(payload);
    m
}

/// Signs `spec` with the server's bundle-signing key.
pub fn sign(spec: &TaskSpec, key: &SigningKey) -> SignedTask {
    let payload = spec.encode_to_vec();
    let signature = key.sign(&signed_message(&payload)).to_bytes().to_vec();
    SignedTask {
        payload,
        signature,
        key_id: key_id(&key.verifying_key()),
    }
}

/// Verifies `signed` for the envoy `me` at `now_unix` against the `pinned` key; `seen`
/// answers whether a task id was received here before. Nothing of the payload is trusted
/// (not even its id) before the signature over its exact bytes checks out.
pub fn verify(
    signed: &SignedTask,
    pinned: &VerifyingKey,
    me: &str,
    now_unix: i64,
    seen: impl FnOnce(&str) -> bool,
) -> Result<TaskSpec, TaskRefusal> {
    let pinned_id = key_id(pinned);
    if signed.key_id != pinned_id {
        return Err(TaskRefusal::WrongKey {
            got: signed.key_id.clone(),
            pinned: pinned_id,
        });
    }
    if signed.payload.len() > MAX_PAYLOAD_BYTES {
        return Err(TaskRefusal::TooLarge(signed.payload.len()));
    }
    let bytes: [u8; 64] = signed
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| TaskRefusal::BadSignature)?;
    pinned
        .verify_strict(
            &signed_message(&signed.payload),
            &Signature::from_bytes(&bytes),
        )
        .map_err(|_| TaskRefusal::BadSignature)?;
    let spec = TaskSpec::decode(signed.payload.as_slice())
        .map_err(|e| TaskRefusal::Undecodable(e.to_string()))?;
    if spec.envoy_id != me {
        return Err(TaskRefusal::WrongEnvoy {
            addressed: spec.envoy_id,
            me: me.to_string(),
        });
    }
    let validity = spec.expires_unix.saturating_sub(spec.issued_unix);
    if validity <= 0 || validity > MAX_VALIDITY_SECS {
        return Err(TaskRefusal::BadValidity { secs: validity });
    }
    if spec.issued_unix.saturating_sub(now_unix) > MAX_CLOCK_SKEW_SECS {
        return Err(TaskRefusal::NotYetValid {
            ahead_secs: spec.issued_unix - now_unix,
        });
    }
    if now_unix > spec.expires_unix {
        return Err(TaskRefusal::Expired {
            ago_secs: now_unix - spec.expires_unix,
        });
    }
    check_fields(&spec)?;
    if seen(&spec.task_id) {
        return Err(TaskRefusal::Replayed(spec.task_id));
    }
    Ok(spec)
}

/// The range checks a signed task must pass too (a signing bug must not widen what runs).
fn check_fields(spec: &TaskSpec) -> Result<(), TaskRefusal> {
    if spec.task_id.is_empty() || spec.task_id.len() > 128 {
        return Err(TaskRefusal::Invalid(
            "task id is empty or longer than 128 bytes".into(),
        ));
    }
    if spec.command.trim().is_empty() {
        return Err(TaskRefusal::Invalid("the command is empty".into()));
    }
    if !(0..=MAX_NICE).contains(&spec.nice) {
        return Err(TaskRefusal::Invalid(format!(
            "nice {} is outside 0–{MAX_NICE}",
            spec.nice
        )));
    }
    if spec.timeout_secs == 0 {
        return Err(TaskRefusal::Invalid("the timeout is 0 seconds".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use vigo_proto::v1::PolicyBundle;

    use super::*;

    const ME: &str = "6f1c1a52-0d7e-4f4e-9a59-3b1f2f6b8c11";
    const NOW: i64 = 1_800_000_000;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn spec() -> TaskSpec {
        TaskSpec {
            task_id: "t-1".into(),
            envoy_id: ME.into(),
            issued_unix: NOW - 10,
            expires_unix: NOW + 300,
            command: "uptime".into(),
            timeout_secs: 60,
            nice: 5,
            operator: "alice".into(),
            ..Default::default()
        }
    }

    fn check(signed: &SignedTask) -> Result<TaskSpec, TaskRefusal> {
        verify(signed, &key(1).verifying_key(), ME, NOW, |_| false)
    }

    #[test]
    fn a_task_signed_for_this_envoy_verifies() {
        assert_eq!(check(&sign(&spec(), &key(1))).unwrap(), spec());
    }

    #[test]
    fn a_task_signed_by_another_key_is_refused() {
        let err = check(&sign(&spec(), &key(2))).unwrap_err();
        assert!(matches!(err, TaskRefusal::WrongKey { .. }), "{err}");
        // Claiming the pinned key's id does not help.
        let mut forged = sign(&spec(), &key(2));
        forged.key_id = key_id(&key(1).verifying_key());
        assert_eq!(check(&forged).unwrap_err(), TaskRefusal::BadSignature);
    }

    #[test]
    fn an_altered_command_is_refused() {
        let mut signed = sign(&spec(), &key(1));
        let mut altered = spec();
        altered.command = "rm -rf /srv".into();
        signed.payload = altered.encode_to_vec();
        assert_eq!(check(&signed).unwrap_err(), TaskRefusal::BadSignature);
    }

    #[test]
    fn a_task_for_another_envoy_is_refused() {
        let mut s = spec();
        s.envoy_id = "another".into();
        let err = check(&sign(&s, &key(1))).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("refused: the task is addressed to envoy another, not to this envoy ({ME})")
        );
    }

    #[test]
    fn expired_future_and_overlong_tasks_are_refused() {
        let mut s = spec();
        s.issued_unix = NOW - 400;
        s.expires_unix = NOW - 100;
        assert_eq!(
            check(&sign(&s, &key(1))).unwrap_err(),
            TaskRefusal::Expired { ago_secs: 100 }
        );
        let mut s = spec();
        s.issued_unix = NOW + 301;
        s.expires_unix = NOW + 600;
        assert_eq!(
            check(&sign(&s, &key(1))).unwrap_err(),
            TaskRefusal::NotYetValid { ahead_secs: 301 }
        );
        let mut s = spec();
        s.expires_unix = s.issued_unix + MAX_VALIDITY_SECS + 1;
        assert!(matches!(
            check(&sign(&s, &key(1))).unwrap_err(),
            TaskRefusal::BadValidity { .. }
        ));
    }

    #[test]
    fn a_task_seen_before_is_refused_as_a_replay() {
        let signed = sign(&spec(), &key(1));
        let err = verify(&signed, &key(1).verifying_key(), ME, NOW, |id| id == "t-1").unwrap_err();
        assert_eq!(err, TaskRefusal::Replayed("t-1".into()));
    }

    #[test]
    fn out_of_range_fields_are_refused_even_when_signed() {
        for (edit, want) in [
            (
                (|s: &mut TaskSpec| s.nice = 20) as fn(&mut TaskSpec),
                "nice 20 is outside 0–19",
            ),
            (|s| s.command = "  ".into(), "the command is empty"),
            (|s| s.timeout_secs = 0, "the timeout is 0 seconds"),
            (|s| s.task_id.clear(), "task id is empty"),
        ] {
            let mut s = spec();
            edit(&mut s);
            let err = check(&sign(&s, &key(1))).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn a_signed_bundle_is_not_a_task_and_a_signed_task_is_not_a_bundle() {
        // A bundle's signature (over its bare payload) does not verify as a task's.
        let bundle = crate::signing::sign(&PolicyBundle::default(), &key(1));
        let as_task = SignedTask {
            payload: bundle.payload.clone(),
            signature: bundle.signature.clone(),
            key_id: bundle.key_id,
        };
        assert_eq!(check(&as_task).unwrap_err(), TaskRefusal::BadSignature);
        // A task's signed message never decodes as a bundle.
        let task = sign(&spec(), &key(1));
        let as_bundle = vigo_proto::v1::SignedBundle {
            payload: signed_message(&task.payload),
            signature: task.signature,
            key_id: task.key_id,
        };
        assert!(crate::signing::verify(&as_bundle, &key(1).verifying_key()).is_err());
    }

    proptest! {
        #[test]
        fn every_bit_flip_is_refused(flip in any::<proptest::sample::Index>(), in_signature in any::<bool>()) {
            let mut signed = sign(&spec(), &key(1));
            let target = if in_signature { &mut signed.signature } else { &mut signed.payload };
            let bit = flip.index(target.len() * 8);
            target[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(check(&signed).is_err());
        }
    }
}
