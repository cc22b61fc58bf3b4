//! The storage suite: every scenario runs against both backends with the same
//! assertions — SQLite in a temporary directory, and a real PostgreSQL cluster that this
//! harness starts itself (initdb + postgres listening only on a Unix socket in its own
//! temporary directory, so no TCP port is picked or raced for; as `nobody` when the
//! tests run as root, since postgres refuses root) and removes afterwards.
//!
//! Each PostgreSQL test gets its own database in a cluster shared by the tests running in
//! the same process; the last test to finish stops the cluster and deletes its
//! directory. Missing PostgreSQL binaries fail the tests with the reason (scripts/test.sh
//! installs the `postgresql` package). One server-level check needs PostgreSQL too: a
//! server on it refuses to rotate the bundle-signing key (each replica has its own).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor};
use tempfile::TempDir;
use uuid::Uuid;
use vigo_core::Action;
use vigo_server::store::{
    ActionCounts, ApiRole, ApprovedPattern, Backend, ConfigVersion, EnvoyFilter, EnvoySeen,
    EnvoyStatus, EnvoyTraits, NewApiToken, NewAuditEntry, NewEnrollmentToken, NewEnvoy,
    NonceRecord, Page, Recorded, Reenrollment, ResourceResult, Run, Store, StoreConfig, StoreError,
    TokenHash, TokenRejection,
};

/// A fixed "now" (2026-05-28T...), so expiry is deterministic.
const NOW: i64 = 1_780_000_000;

// ------------------------------------------------------------------ the suite

/// Declares each scenario once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::TestDb::sqlite().await;
                    super::scenarios::$name(&db).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::TestDb::postgres().await;
                    super::scenarios::$name(&db).await;
                }
            )*
        }
    };
}

on_both_backends!(
    token_is_single_use,
    token_expires,
    token_hostname_pattern_is_enforced,
    token_consumed_concurrently_has_one_winner,
    token_creation_is_validated,
    reregistration_revokes_the_previous_envoy,
    envoys_are_listed_by_status_glob_and_page,
    revoking_an_envoy_is_idempotent,
    a_renewed_certificate_replaces_the_stored_one_for_active_envoys_only,
    only_changed_envoys_are_read_back,
    run_and_results_round_trip,
    check_ins_are_flushed_in_batches,
    traits_are_stored_in_batches_and_deduplicated,
    audit_log_is_newest_first_and_append_only,
    config_versions_keep_history_and_only_move_forward,
    api_tokens_are_looked_up_by_hash_and_revoked,
    approved_patterns_are_upserted_and_removed,
    reopening_keeps_data_and_migrations_are_idempotent,
    request_nonces_are_accepted_once_across_replicas,
);

mod scenarios {
    use super::*;

    /// The replay ledger (issue "Trust" item 8): a second store on the same database is
    /// another replica; a nonce one accepted the other refuses, also when both race.
    pub async fn request_nonces_are_accepted_once_across_replicas(db: &TestDb) {
        let a = &db.store;
        let b = db.reopen().await;
        let envoy = Uuid::new_v4();
        let rec = |n: u8, expires_at: i64| NonceRecord {
            envoy_id: envoy,
            nonce: [n; 16],
            expires_at,
        };
        assert_eq!(
            a.remember_nonces(&[rec(1, NOW), rec(2, NOW), rec(1, NOW)])
                .await
                .unwrap(),
            [true, true, false]
        );
        assert_eq!(
            b.remember_nonces(&[rec(1, NOW), rec(3, NOW)])
                .await
                .unwrap(),
            [false, true]
        );
        // Another envoy may use the same bytes.
        let other = NonceRecord {
            envoy_id: Uuid::new_v4(),
            ..rec(1, NOW)
        };
        assert_eq!(b.remember_nonces(&[other]).await.unwrap(), [true]);
        // Racing replicas: exactly one of them accepts each nonce.
        let batch: Vec<_> = (10..60).map(|n| rec(n, NOW + 100)).collect();
        let (x, y) = tokio::join!(a.remember_nonces(&batch), b.remember_nonces(&batch));
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!(x.iter().zip(&y).all(|(p, q)| p ^ q), "{x:?} {y:?}");
        // Expired rows are pruned in bounded batches; unexpired ones stay.
        assert_eq!(a.prune_nonces(NOW + 1, 2).await.unwrap(), 2);
        assert_eq!(a.prune_nonces(NOW + 1, 100).await.unwrap(), 2);
        assert_eq!(a.prune_nonces(NOW + 1, 100).await.unwrap(), 0);
        assert_eq!(
            b.remember_nonces(&[rec(10, NOW + 100)]).await.unwrap(),
            [false]
        );
        b.close().await;
    }

    pub async fn token_is_single_use(db: &TestDb) {
        let s = &db.store;
        let token = new_token("enr_1", "secret-1", None);
        s.create_enrollment_token(&token).await.unwrap();

        let used = s
            .consume_token(&token.hash, "web-1.lan", NOW)
            .await
            .unwrap();
        assert_eq!(used.id, "enr_1");
        assert_eq!(used.used_at, Some(NOW));
        assert_eq!(used.used_by.as_deref(), Some("web-1.lan"));

        let again = s.consume_token(&token.hash, "web-2.lan", NOW + 1).await;
        assert_eq!(
            rejection(again),
            TokenRejection::AlreadyUsed {
                used_at: NOW,
                used_by: "web-1.lan".into()
            }
        );

        let unknown = s
            .consume_token(&TokenHash::of_secret("never issued"), "web-1.lan", NOW)
            .await;
        assert_eq!(rejection(unknown), TokenRejection::Unknown);

        // The listing shows who used it; the plaintext is nowhere.
        let listed = s.list_enrollment_tokens().await.unwrap();
        assert_eq!(listed, vec![used]);
        assert_eq!(listed[0].hash, TokenHash::of_secret("secret-1"));
    }

    pub async fn token_expires(db: &TestDb) {
        let s = &db.store;
        let token = new_token("enr_exp", "secret-exp", None);
        s.create_enrollment_token(&token).await.unwrap();

        // Expired exactly at expires_at, and the refusal leaves the token unused.
        let late = s
            .consume_token(&token.hash, "web-1.lan", token.expires_at)
            .await;
        assert_eq!(
            rejection(late),
            TokenRejection::Expired {
                expires_at: token.expires_at
            }
        );
        let stored = s.enrollment_token_by_hash(&token.hash).await.unwrap();
        assert_eq!(stored.unwrap().used_at, None);

        // One second earlier it still works.
        let used = s
            .consume_token(&token.hash, "web-1.lan", token.expires_at - 1)
            .await
            .unwrap();
        assert_eq!(used.used_at, Some(token.expires_at - 1));

        s.delete_enrollment_token("enr_exp").await.unwrap();
        assert!(s.list_enrollment_tokens().await.unwrap().is_empty());
        assert!(matches!(
            s.delete_enrollment_token("enr_exp").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    pub async fn token_hostname_pattern_is_enforced(db: &TestDb) {
        let s = &db.store;
        let token = new_token("enr_web", "secret-web", Some("web-[0-9]*.lan"));
        s.create_enrollment_token(&token).await.unwrap();

        let wrong = s.consume_token(&token.hash, "db-1.lan", NOW).await;
        assert_eq!(
            rejection(wrong),
            TokenRejection::HostnameMismatch {
                pattern: "web-[0-9]*.lan".into(),
                hostname: "db-1.lan".into()
            }
        );
        let stored = s.enrollment_token_by_hash(&token.hash).await.unwrap();
        assert_eq!(
            stored.unwrap().used_at,
            None,
            "a mismatch must not burn the token"
        );

        // Hostnames compare case-insensitively.
        let used = s
            .consume_token(&token.hash, "WEB-42.lan", NOW)
            .await
            .unwrap();
        assert_eq!(used.used_by.as_deref(), Some("WEB-42.lan"));
    }

    pub async fn token_consumed_concurrently_has_one_winner(db: &TestDb) {
        const ROUNDS: usize = 20;
        for round in 0..ROUNDS {
            let token = new_token(&format!("enr_race_{round}"), &format!("race-{round}"), None);
            db.store.create_enrollment_token(&token).await.unwrap();
            let start = Arc::new(tokio::sync::Barrier::new(2));
            let tasks: Vec<_> = ["left.lan", "right.lan"]
                .into_iter()
                .map(|host| {
                    let store = db.store.clone();
                    let start = Arc::clone(&start);
                    let hash = token.hash;
                    tokio::spawn(async move {
                        start.wait().await;
                        store.consume_token(&hash, host, NOW).await
                    })
                })
                .collect();
            let mut winners = Vec::new();
            let mut losers = Vec::new();
            for task in tasks {
                match task.await.unwrap() {
                    Ok(t) => winners.push(t.used_by.unwrap()),
                    Err(e) => losers.push(rejection::<()>(Err(e))),
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
            assert_eq!(
                losers,
                vec![TokenRejection::AlreadyUsed {
                    used_at: NOW,
                    used_by: winners[0].clone()
                }],
                "round {round}"
            );
            let stored = db.store.enrollment_token_by_hash(&token.hash).await;
            assert_eq!(stored.unwrap().unwrap().used_by, Some(winners[0].clone()));
        }
    }

    pub async fn token_creation_is_validated(db: &TestDb) {
        let s = &db.store;
        let mut bad_expiry = new_token("enr_a", "a", None);
        bad_expiry.expires_at = bad_expiry.created_at;
        assert!(matches!(
            s.create_enrollment_token(&bad_expiry).await,
            Err(StoreError::Invalid {
                what: "token expiry",
                ..
            })
        ));
        let bad_pattern = new_token("enr_b", "b", Some("web-[0-9"));
        assert!(matches!(
            s.create_enrollment_token(&bad_pattern).await,
            Err(StoreError::Invalid {
                what: "hostname pattern",
                ..
            })
        ));

        s.create_enrollment_token(&new_token("enr_c", "c", None))
            .await
            .unwrap();
        // Same secret under another id, and same id with another secret.
        for dup in [new_token("enr_d", "c", None), new_token("enr_c", "d", None)] {
            assert!(matches!(
                s.create_enrollment_token(&dup).await,
                Err(StoreError::AlreadyExists {
                    what: "enrollment token",
                    ..
                })
            ));
        }
        assert_eq!(s.list_enrollment_tokens().await.unwrap().len(), 1);
    }

    pub async fn reregistration_revokes_the_previous_envoy(db: &TestDb) {
        let s = &db.store;
        let first = new_envoy("web-1.lan", NOW);
        let registered = s
            .register_envoy(&first, Reenrollment::Refuse)
            .await
            .unwrap();
        assert_eq!(registered.revoked, None);
        assert_eq!(registered.envoy.status, EnvoyStatus::Active);
        assert_eq!(s.envoy(first.id).await.unwrap(), Some(registered.envoy));

        // Same hostname (any case) without --force: refused, naming the holder.
        let second = new_envoy("WEB-1.lan", NOW + 10);
        match s.register_envoy(&second, Reenrollment::Refuse).await {
            Err(StoreError::HostnameEnrolled { hostname, envoy_id }) => {
                assert_eq!(hostname, "WEB-1.lan");
                assert_eq!(envoy_id, first.id);
            }
            other => panic!("expected HostnameEnrolled, got {other:?}"),
        }
        assert_eq!(s.envoy(second.id).await.unwrap(), None);

        // With --force: the old envoy is revoked in the same transaction.
        let forced = s
            .register_envoy(&second, Reenrollment::RevokePrevious)
            .await
            .unwrap();
        assert_eq!(forced.revoked, Some(first.id));
        let old = s.envoy(first.id).await.unwrap().unwrap();
        assert_eq!(old.status, EnvoyStatus::Revoked);
        assert_eq!(old.revoked_at, Some(NOW + 10));
        let holder = s.active_envoy_by_hostname("web-1.LAN").await.unwrap();
        assert_eq!(holder.map(|e| e.id), Some(second.id));

        // A revoked envoy never comes back under its id.
        let mut reuse = new_envoy("web-9.lan", NOW + 20);
        reuse.id = first.id;
        assert!(matches!(
            s.register_envoy(&reuse, Reenrollment::RevokePrevious).await,
            Err(StoreError::AlreadyExists { what: "envoy", .. })
        ));
        // Nor does the failed attempt leave anything behind.
        assert_eq!(s.active_envoy_by_hostname("web-9.lan").await.unwrap(), None);

        assert_eq!(s.count_envoys(None).await.unwrap(), 2);
        assert_eq!(s.count_envoys(Some(EnvoyStatus::Active)).await.unwrap(), 1);
        assert_eq!(s.count_envoys(Some(EnvoyStatus::Revoked)).await.unwrap(), 1);
    }

    pub async fn envoys_are_listed_by_status_glob_and_page(db: &TestDb) {
        let s = &db.store;
        let hosts = [
            "web-2.lan",
            "db-1.lan",
            "Web-1.lan",
            "web-10.lan",
            "web_x.lan",
            "cache.lan",
        ];
        let mut ids = BTreeMap::new();
        for (i, host) in hosts.iter().enumerate() {
            let e = new_envoy(host, NOW + i as i64);
            s.register_envoy(&e, Reenrollment::Refuse).await.unwrap();
            ids.insert(*host, e.id);
        }
        s.revoke_envoy(ids["db-1.lan"], NOW + 100).await.unwrap();

        let names = |envoys: Vec<vigo_server::store::Envoy>| -> Vec<String> {
            envoys.into_iter().map(|e| e.hostname).collect()
        };
        let all = s.list_envoys(&EnvoyFilter::default()).await.unwrap();
        assert_eq!(
            names(all),
            [
                "cache.lan",
                "db-1.lan",
                "Web-1.lan",
                "web-10.lan",
                "web-2.lan",
                "web_x.lan"
            ]
        );

        let active = EnvoyFilter {
            status: Some(EnvoyStatus::Active),
            ..EnvoyFilter::default()
        };
        assert_eq!(s.list_envoys(&active).await.unwrap().len(), 5);
        let revoked = EnvoyFilter {
            status: Some(EnvoyStatus::Revoked),
            ..EnvoyFilter::default()
        };
        assert_eq!(names(s.list_envoys(&revoked).await.unwrap()), ["db-1.lan"]);

        // `*` and `?` in SQL, case-insensitive; `_` is a literal, not LIKE's wildcard.
        let glob = |g: &str| EnvoyFilter {
            hostname: Some(g.into()),
            ..EnvoyFilter::default()
        };
        assert_eq!(
            names(s.list_envoys(&glob("WEB-*")).await.unwrap()),
            ["Web-1.lan", "web-10.lan", "web-2.lan"]
        );
        assert_eq!(
            names(s.list_envoys(&glob("web-?.lan")).await.unwrap()),
            ["Web-1.lan", "web-2.lan"]
        );
        assert_eq!(
            names(s.list_envoys(&glob("web_*")).await.unwrap()),
            ["web_x.lan"]
        );
        // A `[set]` is matched in Rust, with the same page semantics.
        assert_eq!(
            names(s.list_envoys(&glob("web-[12]*")).await.unwrap()),
            ["Web-1.lan", "web-10.lan", "web-2.lan"]
        );
        let paged_set = EnvoyFilter {
            hostname: Some("web-[12]*".into()),
            limit: Some(1),
            offset: 1,
            ..EnvoyFilter::default()
        };
        assert_eq!(
            names(s.list_envoys(&paged_set).await.unwrap()),
            ["web-10.lan"]
        );
        assert!(matches!(
            s.list_envoys(&glob("web-[")).await,
            Err(StoreError::Invalid { .. })
        ));

        // Pages.
        let page = |limit, offset| EnvoyFilter {
            status: Some(EnvoyStatus::Active),
            limit: Some(limit),
            offset,
            ..EnvoyFilter::default()
        };
        assert_eq!(
            names(s.list_envoys(&page(2, 0)).await.unwrap()),
            ["cache.lan", "Web-1.lan"]
        );
        assert_eq!(
            names(s.list_envoys(&page(2, 2)).await.unwrap()),
            ["web-10.lan", "web-2.lan"]
        );
        assert_eq!(
            names(s.list_envoys(&page(2, 4)).await.unwrap()),
            ["web_x.lan"]
        );
        assert!(s.list_envoys(&page(2, 6)).await.unwrap().is_empty());
    }

    pub async fn revoking_an_envoy_is_idempotent(db: &TestDb) {
        let s = &db.store;
        let e = new_envoy("kiosk-1.lan", NOW);
        s.register_envoy(&e, Reenrollment::Refuse).await.unwrap();
        let revoked = s.revoke_envoy(e.id, NOW + 5).await.unwrap();
        assert_eq!(revoked.status, EnvoyStatus::Revoked);
        assert_eq!(revoked.revoked_at, Some(NOW + 5));
        let again = s.revoke_envoy(e.id, NOW + 9).await.unwrap();
        assert_eq!(
            again.revoked_at,
            Some(NOW + 5),
            "the first revocation time stays"
        );
        assert!(matches!(
            s.revoke_envoy(Uuid::new_v4(), NOW).await,
            Err(StoreError::NotFound { what: "envoy", .. })
        ));
        // The hostname is free again.
        let next = new_envoy("kiosk-1.lan", NOW + 10);
        let registered = s.register_envoy(&next, Reenrollment::Refuse).await.unwrap();
        assert_eq!(registered.revoked, None);
    }

    pub async fn a_renewed_certificate_replaces_the_stored_one_for_active_envoys_only(db: &TestDb) {
        let s = &db.store;
        let e = new_envoy("web-9.lan", NOW);
        let other = new_envoy("web-10.lan", NOW);
        for x in [&e, &other] {
            s.register_envoy(x, Reenrollment::Refuse).await.unwrap();
        }
        let pem = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";
        s.record_renewed_cert(e.id, "0badc0de", pem).await.unwrap();
        let stored = s.envoy(e.id).await.unwrap().unwrap();
        assert_eq!(stored.cert_serial, "0badc0de");
        assert_eq!(stored.cert_pem, pem);
        assert_eq!(stored.status, EnvoyStatus::Active);
        let untouched = s.envoy(other.id).await.unwrap().unwrap();
        assert_eq!(untouched.cert_serial, other.cert_serial);

        s.revoke_envoy(e.id, NOW + 1).await.unwrap();
        assert!(matches!(
            s.record_renewed_cert(e.id, "0ddba11", pem).await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(
            s.envoy(e.id).await.unwrap().unwrap().cert_serial,
            "0badc0de",
            "a revoked envoy keeps its last certificate on record"
        );
        assert!(matches!(
            s.record_renewed_cert(Uuid::new_v4(), "01", pem).await,
            Err(StoreError::NotFound { .. })
        ));
    }

    pub async fn only_changed_envoys_are_read_back(db: &TestDb) {
        let s = &db.store;
        let old = new_envoy("old-1.lan", NOW - 1_000);
        let revoked = new_envoy("gone-1.lan", NOW - 1_000);
        let fresh = new_envoy("new-1.lan", NOW);
        for e in [&old, &revoked, &fresh] {
            s.register_envoy(e, Reenrollment::Refuse).await.unwrap();
        }
        s.revoke_envoy(revoked.id, NOW + 1).await.unwrap();
        let mut changed: Vec<String> = s
            .envoys_changed_since(NOW - 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.hostname)
            .collect();
        changed.sort();
        assert_eq!(changed, ["gone-1.lan", "new-1.lan"], "not old-1, unchanged");
        assert!(s.envoys_changed_since(NOW + 2).await.unwrap().is_empty());
    }

    pub async fn run_and_results_round_trip(db: &TestDb) {
        let s = &db.store;
        let envoy = new_envoy("app-1.lan", NOW);
        s.register_envoy(&envoy, Reenrollment::Refuse)
            .await
            .unwrap();

        // More results than one multi-row INSERT takes, every action represented.
        let results: Vec<ResourceResult> = (0..1203)
            .map(|i| ResourceResult {
                resource_id: format!("file:/etc/app/{i}.conf"),
                resource_type: "file".into(),
                name: format!("/etc/app/{i}.conf"),
                action: Action::ALL[i % Action::ALL.len()],
                message: if i % 2 == 0 {
                    String::new()
                } else {
                    format!("changed mode of {i}")
                },
                duration_micros: 1000 + i as u64,
            })
            .collect();
        let counts = vigo_server::store::tally(&results);
        assert_eq!(counts.total(), 1203);
        assert_eq!(counts.error, 171);

        let older = new_run(envoy.id, NOW + 60, ActionCounts::default());
        let run = new_run(envoy.id, NOW + 120, counts);
        assert_eq!(s.record_run(&older, &[]).await.unwrap(), Recorded::New);
        assert_eq!(s.record_run(&run, &results).await.unwrap(), Recorded::New);

        assert_eq!(s.run(run.id).await.unwrap(), Some(run.clone()));
        assert_eq!(s.run_results(run.id).await.unwrap(), results);
        assert!(s.run_results(older.id).await.unwrap().is_empty());

        // A replay from the agent's offline queue changes nothing.
        let mut replay = run.clone();
        replay.dry_run = true;
        assert_eq!(
            s.record_run(&replay, &results[..1]).await.unwrap(),
            Recorded::Replay
        );
        assert_eq!(s.run(run.id).await.unwrap(), Some(run.clone()));
        assert_eq!(s.run_results(run.id).await.unwrap().len(), 1203);

        // Newest first, paged.
        let listed = s.runs_of_envoy(envoy.id, Page::first(10)).await.unwrap();
        assert_eq!(
            listed.iter().map(|r| r.id).collect::<Vec<_>>(),
            [run.id, older.id]
        );
        let second = Page {
            limit: 1,
            offset: 1,
        };
        assert_eq!(
            s.runs_of_envoy(envoy.id, second).await.unwrap(),
            vec![older.clone()]
        );

        // Unknown envoy: nothing stored, typed error.
        let stray = new_run(Uuid::new_v4(), NOW, ActionCounts::default());
        assert!(matches!(
            s.record_run(&stray, &results[..3]).await,
            Err(StoreError::NotFound { what: "envoy", .. })
        ));
        assert_eq!(s.run(stray.id).await.unwrap(), None);
        assert!(s.run_results(stray.id).await.unwrap().is_empty());

        // Results come back in pages, in order, each saying where the next starts.
        let mut paged = Vec::new();
        let mut from = 0;
        loop {
            let page = s.run_results_page(run.id, from, 500).await.unwrap();
            assert!(page.results.len() <= 500);
            paged.extend(page.results);
            match page.next {
                Some(next) => from = next,
                None => break,
            }
        }
        assert_eq!(paged, s.run_results(run.id).await.unwrap());
        let last = s.run_results_page(run.id, 1200, 500).await.unwrap();
        assert_eq!((last.results.len(), last.next), (3, None));

        // Retention removes runs and their results, a bounded batch at a time.
        assert_eq!(s.prune_runs(run.finished_at, 100).await.unwrap(), 1);
        assert_eq!(s.run(older.id).await.unwrap(), None);
        assert_eq!(s.run_results(run.id).await.unwrap().len(), 1203);
        assert_eq!(s.prune_runs(run.finished_at + 1, 100).await.unwrap(), 1);
        assert!(s.run_results(run.id).await.unwrap().is_empty());
        let many: Vec<Run> = (0..5)
            .map(|i| new_run(envoy.id, NOW - 100 + i, ActionCounts::default()))
            .collect();
        for r in &many {
            s.record_run(r, &results[..2]).await.unwrap();
        }
        assert_eq!(s.prune_runs(NOW, 2).await.unwrap(), 2);
        assert_eq!(s.run(many[0].id).await.unwrap(), None, "oldest first");
        assert!(s.run(many[2].id).await.unwrap().is_some());
        assert_eq!(s.prune_runs(NOW, 2).await.unwrap(), 2);
        assert_eq!(s.prune_runs(NOW, 2).await.unwrap(), 1);
        assert_eq!(s.prune_runs(NOW, 2).await.unwrap(), 0);
        assert!(s.run_results(many[4].id).await.unwrap().is_empty());
    }

    pub async fn check_ins_are_flushed_in_batches(db: &TestDb) {
        let s = &db.store;
        let a = new_envoy("a.lan", NOW);
        let b = new_envoy("b.lan", NOW);
        let gone = new_envoy("gone.lan", NOW);
        for e in [&a, &b, &gone] {
            s.register_envoy(e, Reenrollment::Refuse).await.unwrap();
        }
        s.revoke_envoy(gone.id, NOW + 1).await.unwrap();

        let seen = |id, at, version: Option<&str>| EnvoySeen {
            id,
            last_seen_at: at,
            policy_version: version.map(str::to_owned),
        };
        let batch = [
            seen(a.id, NOW + 30, Some("20260105T093000Z")),
            seen(b.id, NOW + 31, None),
            seen(gone.id, NOW + 32, Some("20260105T093000Z")),
            seen(Uuid::new_v4(), NOW + 33, None),
        ];
        assert_eq!(s.touch_envoys(&batch).await.unwrap(), 2);
        assert_eq!(s.touch_envoys(&[]).await.unwrap(), 0);

        let a_now = s.envoy(a.id).await.unwrap().unwrap();
        assert_eq!(a_now.last_seen_at, Some(NOW + 30));
        assert_eq!(a_now.policy_version.as_deref(), Some("20260105T093000Z"));
        let b_now = s.envoy(b.id).await.unwrap().unwrap();
        assert_eq!(b_now.last_seen_at, Some(NOW + 31));
        assert_eq!(b_now.policy_version, None);
        let gone_now = s.envoy(gone.id).await.unwrap().unwrap();
        assert_eq!(
            gone_now.last_seen_at, None,
            "revoked envoys are not touched"
        );

        // A late, older flush does not move last-seen back; no version keeps the old one.
        s.touch_envoys(&[seen(a.id, NOW + 10, None)]).await.unwrap();
        let a_later = s.envoy(a.id).await.unwrap().unwrap();
        assert_eq!(a_later.last_seen_at, Some(NOW + 30));
        assert_eq!(a_later.policy_version.as_deref(), Some("20260105T093000Z"));

        // A batch of 600 in one call.
        let many: Vec<EnvoySeen> = (0..600)
            .map(|i| seen(if i % 2 == 0 { a.id } else { b.id }, NOW + 100 + i, None))
            .collect();
        assert_eq!(s.touch_envoys(&many).await.unwrap(), 600);
        assert_eq!(
            s.envoy(b.id).await.unwrap().unwrap().last_seen_at,
            Some(NOW + 699)
        );
    }

    pub async fn traits_are_stored_in_batches_and_deduplicated(db: &TestDb) {
        let s = &db.store;
        let a = new_envoy("a.lan", NOW);
        let b = new_envoy("b.lan", NOW);
        for e in [&a, &b] {
            s.register_envoy(e, Reenrollment::Refuse).await.unwrap();
        }
        assert_eq!(s.envoy_traits(a.id).await.unwrap(), None);

        let traits = |id, json: &str| EnvoyTraits {
            id,
            traits_json: json.into(),
        };
        let a_json = r#"{"os":{"family":"debian","version":"12"}}"#;
        let batch = [
            traits(a.id, a_json),
            traits(b.id, r#"{"os":{"family":"rhel"}}"#),
        ];
        assert_eq!(s.store_traits(&batch).await.unwrap(), 2);
        assert_eq!(s.envoy_traits(a.id).await.unwrap().as_deref(), Some(a_json));
        let a_now = s.envoy(a.id).await.unwrap().unwrap();
        assert_eq!(
            a_now.traits_sha256.as_deref(),
            Some(TokenHash::of_secret(a_json).to_hex().as_str()),
            "the stored hash is the SHA-256 of the document"
        );

        // The same documents again: nothing rewritten. One changed: one written.
        assert_eq!(s.store_traits(&batch).await.unwrap(), 0);
        let changed = [
            traits(a.id, a_json),
            traits(b.id, r#"{"os":{"family":"rocky"}}"#),
        ];
        assert_eq!(s.store_traits(&changed).await.unwrap(), 1);

        // One invalid document fails the whole batch before anything is written.
        let bad = [traits(a.id, r#"{"os":{}}"#), traits(b.id, "{not json")];
        assert!(matches!(
            s.store_traits(&bad).await,
            Err(StoreError::Invalid {
                what: "traits document",
                ..
            })
        ));
        assert_eq!(s.envoy_traits(a.id).await.unwrap().as_deref(), Some(a_json));
        assert!(matches!(
            s.envoy_traits(Uuid::new_v4()).await,
            Err(StoreError::NotFound { what: "envoy", .. })
        ));
    }

    pub async fn audit_log_is_newest_first_and_append_only(db: &TestDb) {
        let s = &db.store;
        let mut ids = Vec::new();
        for i in 0..5 {
            let entry = s
                .append_audit(&NewAuditEntry {
                    // Clocks of several replicas may disagree: order is by append.
                    at: NOW - i,
                    actor: "admin".into(),
                    action: format!("action.{i}"),
                    target: (i % 2 == 0).then(|| format!("target-{i}")),
                    detail: serde_json::json!({"i": i, "forced": i == 3}),
                })
                .await
                .unwrap();
            ids.push(entry.id);
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");

        let newest = s.list_audit(3, None).await.unwrap();
        assert_eq!(
            newest.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["action.4", "action.3", "action.2"]
        );
        assert_eq!(
            newest[1].detail,
            serde_json::json!({"i": 3, "forced": true})
        );
        assert_eq!(newest[1].target, None);
        assert_eq!(newest[0].target.as_deref(), Some("target-4"));
        assert_eq!(newest[2].at, NOW - 2);

        let next = s.list_audit(3, Some(newest[2].id)).await.unwrap();
        assert_eq!(
            next.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["action.1", "action.0"]
        );

        // The database itself refuses to rewrite history.
        for sql in [
            "UPDATE audit_log SET actor = 'mallory'",
            "DELETE FROM audit_log",
        ] {
            let err = db.raw_execute(sql).await.expect_err(sql);
            assert!(err.contains("append-only"), "{sql}: {err}");
        }
        assert_eq!(s.list_audit(100, None).await.unwrap().len(), 5);
    }

    pub async fn config_versions_keep_history_and_only_move_forward(db: &TestDb) {
        let s = &db.store;
        assert_eq!(s.latest_version().await.unwrap(), None);
        assert!(s.version_history(10).await.unwrap().is_empty());

        let v1 = new_version("20260105T093000Z", &[("site.vgo", "a: 1\n")]);
        let v2 = new_version(
            "20260105T101500Z",
            &[
                ("site.vgo", "a: 2\n"),
                ("templates/motd.tmpl", "Hello {{ .Vars.x }}\n"),
            ],
        );
        s.publish_version(&v1).await.unwrap();
        s.publish_version(&v2).await.unwrap();
        assert_eq!(s.latest_version().await.unwrap(), Some(v2.clone()));
        assert_eq!(
            s.config_version(&v1.version).await.unwrap(),
            Some(v1.clone())
        );
        assert_eq!(s.config_version("20200101T000000Z").await.unwrap(), None);

        let history = s.version_history(10).await.unwrap();
        assert_eq!(
            history
                .iter()
                .map(|v| v.version.as_str())
                .collect::<Vec<_>>(),
            [v2.version.as_str(), v1.version.as_str()]
        );
        assert_eq!(history[0].tree_hash, v2.tree_hash);
        assert_eq!(s.version_history(1).await.unwrap().len(), 1);

        // Equal or older versions are refused, naming the latest.
        for stale in [v2.version.as_str(), "20260105T100000Z"] {
            match s.publish_version(&new_version(stale, &[])).await {
                Err(StoreError::VersionNotNewer { version, latest }) => {
                    assert_eq!(version, stale);
                    assert_eq!(latest, v2.version);
                }
                other => panic!("expected VersionNotNewer for {stale}, got {other:?}"),
            }
        }
        assert!(matches!(
            s.publish_version(&new_version("2026-01-05T10:15", &[]))
                .await,
            Err(StoreError::Invalid {
                what: "config version",
                ..
            })
        ));
        assert_eq!(s.version_history(10).await.unwrap().len(), 2);
    }

    pub async fn api_tokens_are_looked_up_by_hash_and_revoked(db: &TestDb) {
        let s = &db.store;
        let new = |id: &str, name: &str, secret: &str, role| NewApiToken {
            id: id.into(),
            name: name.into(),
            hash: TokenHash::of_secret(secret),
            role,
            owner: Some("alice".into()),
            created_at: NOW,
            expires_at: Some(NOW + 3600),
        };
        let ci = s
            .create_api_token(&new("tok_1", "ci", "vgot_one", ApiRole::Viewer))
            .await
            .unwrap();
        s.create_api_token(&new("tok_2", "auditor", "vgot_two", ApiRole::Compliance))
            .await
            .unwrap();

        let found = s
            .api_token_by_hash(&TokenHash::of_secret("vgot_one"))
            .await
            .unwrap();
        assert_eq!(found.as_ref(), Some(&ci));
        assert!(ci.is_valid_at(NOW + 3599));
        assert!(!ci.is_valid_at(NOW + 3600));
        assert_eq!(
            s.api_token_by_hash(&TokenHash::of_secret("vgot_nope"))
                .await
                .unwrap(),
            None
        );

        // Names are unique among live tokens.
        assert!(matches!(
            s.create_api_token(&new("tok_3", "ci", "vgot_three", ApiRole::Admin))
                .await,
            Err(StoreError::AlreadyExists { .. })
        ));

        let revoked = s.revoke_api_token("tok_1", NOW + 10).await.unwrap();
        assert_eq!(revoked.revoked_at, Some(NOW + 10));
        assert!(!revoked.is_valid_at(NOW + 11));
        let again = s.revoke_api_token("tok_1", NOW + 20).await.unwrap();
        assert_eq!(again.revoked_at, Some(NOW + 10));
        assert!(matches!(
            s.revoke_api_token("tok_404", NOW).await,
            Err(StoreError::NotFound { .. })
        ));

        // ...so a revoked token's name can be reused.
        s.create_api_token(&new("tok_3", "ci", "vgot_three", ApiRole::Admin))
            .await
            .unwrap();
        let listed = s.list_api_tokens().await.unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|t| (t.id.as_str(), t.role, t.revoked_at.is_some()))
                .collect::<Vec<_>>(),
            [
                ("tok_1", ApiRole::Viewer, true),
                ("tok_2", ApiRole::Compliance, false),
                ("tok_3", ApiRole::Admin, false)
            ]
        );
    }

    pub async fn approved_patterns_are_upserted_and_removed(db: &TestDb) {
        let s = &db.store;
        let pattern = |p: &str, trusted, at| ApprovedPattern {
            pattern: p.into(),
            trusted,
            created_at: at,
        };
        s.put_pattern(&pattern("web-*", false, NOW)).await.unwrap();
        s.put_pattern(&pattern("db-[0-9]*", true, NOW + 1))
            .await
            .unwrap();
        // Re-approving changes trust and keeps the original time.
        s.put_pattern(&pattern("web-*", true, NOW + 2))
            .await
            .unwrap();
        assert_eq!(
            s.list_patterns().await.unwrap(),
            [
                pattern("db-[0-9]*", true, NOW + 1),
                pattern("web-*", true, NOW)
            ]
        );
        assert!(matches!(
            s.put_pattern(&pattern("[", false, NOW)).await,
            Err(StoreError::Invalid { .. })
        ));

        s.remove_pattern("web-*").await.unwrap();
        assert!(matches!(
            s.remove_pattern("web-*").await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(
            s.list_patterns().await.unwrap(),
            [pattern("db-[0-9]*", true, NOW + 1)]
        );
    }

    pub async fn reopening_keeps_data_and_migrations_are_idempotent(db: &TestDb) {
        let e = new_envoy("persist.lan", NOW);
        db.store
            .register_envoy(&e, Reenrollment::Refuse)
            .await
            .unwrap();
        let again = db.reopen().await;
        assert_eq!(again.backend(), db.store.backend());
        let stored = again.envoy(e.id).await.unwrap().unwrap();
        assert_eq!(stored.hostname, "persist.lan");
        assert_eq!(stored.public_key, e.public_key);
        again.close().await;
    }
}

/// SQLite only: the file is in WAL mode (readers never wait for the writer).
#[tokio::test]
async fn sqlite_file_is_in_wal_mode() {
    let db = TestDb::sqlite().await;
    let Location::Sqlite(dir) = &db.location else {
        unreachable!("TestDb::sqlite is SQLite")
    };
    let options =
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("data/vigo.db"));
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

// ------------------------------------------------------------------ replicas

/// Several replicas share PostgreSQL but each signs bundles with its own copy of the
/// bundle-signing key file, so a real server on PostgreSQL refuses to rotate it (409,
/// naming why) and keeps its key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_bundle_key_is_refused_when_replicas_share_postgres() {
    let cluster = PgCluster::shared();
    let url = cluster.create_database().await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "server:\n  grpc_listen: \"127.0.0.1:0\"\n  api_listen: \"127.0.0.1:0\"\n  hostname: localhost\ndatabase:\n  driver: postgres\n  url: \"{url}\"\n"
    );
    let config = vigo_server::config::ServerConfig::parse(
        &yaml,
        &dir.path().join("server.yaml"),
        dir.path(),
    )
    .unwrap();
    let running = vigo_server::serve::start(config).await.unwrap();
    let key_id = running.state.pki.signing_key_id();
    let token = fs::read_to_string(dir.path().join("local-admin.token")).unwrap();
    let tls = vigo_server::pki::client_config(running.state.pki.ca_pem(), None).unwrap();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls((*tls).clone())
        .build()
        .unwrap();
    let answer = client
        .post(format!(
            "https://localhost:{}/api/v1/server/rotate-bundle-key",
            running.api_addr.port()
        ))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::CONFLICT);
    let body: serde_json::Value = answer.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("database.driver postgres"), "{message}");
    assert!(message.contains("replica"), "{message}");
    assert_eq!(running.state.pki.signing_key_id(), key_id);
    assert!(!dir.path().join("tls/bundle_key.rotations").exists());
    running.shutdown().await.unwrap();
}

// ------------------------------------------------------------------ builders

fn new_token(id: &str, secret: &str, pattern: Option<&str>) -> NewEnrollmentToken {
    NewEnrollmentToken {
        id: id.into(),
        hash: TokenHash::of_secret(secret),
        created_at: NOW - 60,
        expires_at: NOW + 3600,
        hostname_pattern: pattern.map(str::to_owned),
    }
}

fn new_envoy(hostname: &str, at: i64) -> NewEnvoy {
    let id = Uuid::new_v4();
    let mut public_key = [0u8; 32];
    public_key[..16].copy_from_slice(id.as_bytes());
    NewEnvoy {
        id,
        hostname: hostname.into(),
        public_key,
        cert_serial: hex_serial(&id),
        cert_pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".into(),
        environment: Some("production".into()),
        address: Some("10.20.0.7".into()),
        agent_version: Some("0.1.0".into()),
        enrolled_at: at,
    }
}

fn hex_serial(id: &Uuid) -> String {
    id.simple().to_string()[..16].to_owned()
}

fn new_run(envoy_id: Uuid, started_at: i64, counts: ActionCounts) -> Run {
    Run {
        id: Uuid::now_v7(),
        envoy_id,
        started_at,
        finished_at: started_at + 3,
        duration_micros: 2_750_000,
        policy_version: Some("20260105T093000Z".into()),
        dry_run: false,
        counts,
    }
}

fn new_version(version: &str, files: &[(&str, &str)]) -> ConfigVersion {
    let tree: BTreeMap<String, String> = files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect();
    ConfigVersion {
        version: version.into(),
        tree_hash: format!(
            "sha256:{}",
            TokenHash::of_secret(&format!("{tree:?}")).to_hex()
        ),
        tree,
        published_at: NOW,
        published_by: "admin".into(),
    }
}

/// The rejection inside a `TokenRejected` error (panics on any other outcome).
fn rejection<T: std::fmt::Debug>(result: Result<T, StoreError>) -> TokenRejection {
    match result {
        Err(StoreError::TokenRejected(why)) => why,
        other => panic!("expected a token rejection, got {other:?}"),
    }
}

// ------------------------------------------------------------------ backends

/// A store under test and what must outlive it (fields drop in order: the pool first).
pub struct TestDb {
    store: Store,
    location: Location,
}

enum Location {
    Sqlite(TempDir),
    Postgres {
        url: String,
        _cluster: Arc<PgCluster>,
    },
}

impl TestDb {
    async fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("vigo-store-sqlite-")
            .tempdir()
            .expect("temporary directory");
        // A data dir that does not exist yet: the store creates it.
        let config = StoreConfig::Sqlite {
            data_dir: dir.path().join("data"),
        };
        let store = Store::open(&config).await.unwrap();
        assert_eq!(store.backend(), Backend::Sqlite);
        assert!(dir.path().join("data/vigo.db").is_file());
        TestDb {
            store,
            location: Location::Sqlite(dir),
        }
    }

    async fn postgres() -> TestDb {
        let cluster = PgCluster::shared();
        let url = cluster.create_database().await;
        let config = StoreConfig::Postgres {
            url: url.clone(),
            max_connections: 5,
        };
        let store = Store::open(&config).await.unwrap();
        assert_eq!(store.backend(), Backend::Postgres);
        TestDb {
            store,
            location: Location::Postgres {
                url,
                _cluster: cluster,
            },
        }
    }

    /// A second store on the same database (migrations run again).
    async fn reopen(&self) -> Store {
        match &self.location {
            Location::Sqlite(dir) => Store::open_sqlite(&dir.path().join("data")).await,
            Location::Postgres { url, .. } => Store::open_postgres(url, 2).await,
        }
        .unwrap()
    }

    /// Runs raw SQL beside the store, returning the database's error text.
    async fn raw_execute(&self, sql: &'static str) -> Result<(), String> {
        let result = match &self.location {
            Location::Sqlite(dir) => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(dir.path().join("data/vigo.db"));
                let mut conn = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .unwrap();
                conn.execute(sql).await.map(drop)
            }
            Location::Postgres { url, .. } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                conn.execute(sql).await.map(drop)
            }
        };
        result.map_err(|e| e.to_string())
    }
}

/// A throwaway PostgreSQL cluster: initdb'd into a temporary directory, `postgres`
/// running as a child of this process, reached through its Unix socket in that
/// directory. Dropping it stops the server, reaps it and deletes the directory.
pub struct PgCluster {
    server: Mutex<Child>,
    _dir: TempDir,
    /// The directory holding the server's socket (`.s.PGSQL.5432`).
    socket_dir: PathBuf,
}

/// The cluster shared by this process's tests while at least one holds it.
static SHARED: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());

/// Names of the per-test databases.
static NEXT_DATABASE: AtomicU32 = AtomicU32::new(0);

impl PgCluster {
    fn shared() -> Arc<PgCluster> {
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cluster) = shared.upgrade() {
            return cluster;
        }
        let cluster = Arc::new(PgCluster::start());
        *shared = Arc::downgrade(&cluster);
        cluster
    }

    fn start() -> PgCluster {
        let bin = postgres_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("vigo-store-pg-")
            .tempdir()
            .expect("temporary directory");
        let run_as = unprivileged_user();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
                .expect("chown the cluster directory to nobody");
        }
        let data = dir.path().join("data");
        let initdb = as_user(Command::new(bin.join("initdb")), run_as, dir.path())
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .output()
            .expect("run initdb");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );

        // No TCP at all: the socket lives in the cluster's own directory.
        let socket_dir = dir.path().to_path_buf();
        let log_path = dir.path().join("postgres.log");
        let log = fs::File::create(&log_path).expect("create the server log");
        let mut server = as_user(Command::new(bin.join("postgres")), run_as, dir.path())
            .arg("-D")
            .arg(&data)
            .args(["-c", "listen_addresses="])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", socket_dir.display()))
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off", "-c", "max_connections=200"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start postgres");
        if !wait_ready(&bin, &socket_dir, &mut server) {
            stop(&mut server);
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            panic!("postgres did not start; its log:\n{log}");
        }
        PgCluster {
            server: Mutex::new(server),
            _dir: dir,
            socket_dir,
        }
    }

    fn admin_url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@localhost/{database}?host={}",
            self.socket_dir.display()
        )
    }

    /// Creates an empty database for one test and returns its URL.
    async fn create_database(&self) -> String {
        let name = format!(
            "vigo_test_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = sqlx::PgConnection::connect(&self.admin_url("postgres"))
            .await
            .expect("connect to the test cluster");
        let create = format!("CREATE DATABASE {name}");
        admin
            .execute(sqlx::AssertSqlSafe(create))
            .await
            .expect("create the test database");
        admin.close().await.ok();
        self.admin_url(&name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let server = self.server.get_mut().unwrap_or_else(|e| e.into_inner());
        stop(server);
        // `dir` is deleted next, when the fields drop.
    }
}

/// Stops postgres with a fast shutdown (SIGINT), escalating to SIGKILL, and reaps it.
fn stop(server: &mut Child) {
    if let Ok(pid) = i32::try_from(server.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGINT,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        match server.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// Polls `pg_isready` until the server accepts connections (true), exits, or 30 s pass.
fn wait_ready(bin: &Path, socket_dir: &Path, server: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return false;
        }
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-t", "1", "-h"])
            .arg(socket_dir)
            .status()
            .is_ok_and(|s| s.success());
        if ready {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// The newest `/usr/lib/postgresql/N/bin` with a server in it (or `VIGO_TEST_PG_BIN`).
fn postgres_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("VIGO_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").is_file().then_some((major, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "no PostgreSQL server under /usr/lib/postgresql/*/bin: install the Debian \
             package `postgresql` (scripts/test.sh does) or set VIGO_TEST_PG_BIN"
        ),
    }
}

/// `nobody`'s uid and gid when running as root (postgres refuses to run as root).
fn unprivileged_user() -> Option<(u32, u32)> {
    if !nix::unistd::Uid::effective().is_root() {
        return None;
    }
    let user = nix::unistd::User::from_name("nobody")
        .ok()
        .flatten()
        .expect("running as root, the test cluster needs the user `nobody`");
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

/// Sets the command's working directory and, when given, its user and group.
fn as_user(mut cmd: Command, user: Option<(u32, u32)>, cwd: &Path) -> Command {
    use std::os::unix::process::CommandExt;
    cmd.current_dir(cwd);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}
