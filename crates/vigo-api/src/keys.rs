//! The bundle-signing key: `GET /api/v1/server/bundle-key`,
//! `POST /api/v1/server/rotate-bundle-key`.

use serde::{Deserialize, Serialize};

/// `GET /api/v1/server/bundle-key`: the key in use and how it came to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleKey {
    /// Its key id (what `SignedBundle.key_id` carries).
    pub key_id: String,
    /// Its raw 32 bytes, hex.
    pub public_key: String,
    /// Every rotation, oldest first.
    pub rotations: Vec<Rotation>,
}

/// One rotation of the bundle-signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotation {
    /// The key id rotated from.
    pub old_key_id: String,
    /// The key id rotated to.
    pub new_key_id: String,
    /// When (Unix seconds).
    pub rotated_at: i64,
}

/// `POST /api/v1/server/rotate-bundle-key`: what the rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rotated {
    /// The key rotated from.
    pub old_key_id: String,
    /// The key in use from now on.
    pub new_key_id: String,
    /// Its raw 32 bytes, hex.
    pub public_key: String,
    /// When (Unix seconds).
    pub rotated_at: i64,
    /// How many rotations the chain holds now.
    pub rotations: usize,
}
