//! Expiry decided by the server's clock: the harness runs on a manual clock and these
//! tests move it instead of waiting.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::harness::{ADMIN_SECRET, Server, message};

#[tokio::test]
async fn an_api_token_is_refused_once_the_clock_passes_its_expiry() {
    let s = Server::start().await;
    let (status, created) = s
        .admin(
            Method::POST,
            "/api/v1/api-tokens",
            Some(json!({"name": "short", "role": "viewer", "expires_in": "1h"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["token"].as_str().unwrap().to_owned();
    assert_eq!(s.get("/api/v1/envoys", &secret).await.0, StatusCode::OK);

    assert!(s.clock.advance(Duration::from_secs(3_599)));
    assert_eq!(
        s.get("/api/v1/envoys", &secret).await.0,
        StatusCode::OK,
        "one second before its expiry"
    );
    assert!(s.clock.advance(Duration::from_secs(1)));
    let (status, body) = s.get("/api/v1/envoys", &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        message(&body).starts_with("API token `short` expired at "),
        "{body}"
    );
}

#[tokio::test]
async fn an_enrollment_token_is_listed_expired_once_the_clock_passes_its_expiry() {
    let s = Server::start().await;
    let (status, created) = s
        .admin(
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"expires_in": "10m"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let state = |list: serde_json::Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id.as_str())
            .map(|t| t["state"].clone())
            .unwrap()
    };
    assert_eq!(
        state(s.get("/api/v1/tokens", ADMIN_SECRET).await.1),
        "unused"
    );
    assert!(s.clock.advance(Duration::from_secs(600)));
    assert_eq!(
        state(s.get("/api/v1/tokens", ADMIN_SECRET).await.1),
        "expired"
    );
}
