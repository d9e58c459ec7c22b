//! Every login and refresh outcome is counted exactly once, under its own label (#23 item 2):
//! each request below is driven into one outcome, and `/metrics` must show that label up by
//! one and nothing else in its family moved. The services count in one place; before the
//! reshape, the random-generator failure exit counted nothing and the refresh label was
//! worked out from the response status.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use auth_std_server::service::login::LOGIN_LABELS;
use auth_std_server::service::refresh::REFRESH_LABELS;
use auth_std_server::throttle::{RateLimit, Rates, Throttle, ThrottleLimits};
use auth_std_server::{AppState, HashPool, Settings, State, app};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Reply, phc};

async fn send(s: &AppState, body: &str) -> Reply {
    let req = Request::post("/auth/session")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap();
    common::call(app(Arc::clone(s)), req, [10, 0, 0, 9]).await
}

/// The counters of `family` (`logins` or `refreshes`), by label.
async fn counts(s: &AppState, family: &str) -> BTreeMap<String, u64> {
    let router = auth_std_server::http::admin::admin_app(Arc::clone(s));
    let req = Request::get("/metrics").body(Body::empty()).unwrap();
    let text = common::call(router, req, [127, 0, 0, 1]).await.body;
    let prefix = format!("auth_{family}_total{{outcome=\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| {
            let (label, n) = l.split_once("\"} ")?;
            Some((label.to_owned(), n.trim().parse().ok()?))
        })
        .collect()
}

/// Sends `body` and checks that exactly `label` moved in `family`, by one, with `status`.
async fn exactly_one(s: &AppState, family: &str, body: &str, status: StatusCode, label: &str) {
    let labels: &[&str] = if family == "logins" {
        &LOGIN_LABELS
    } else {
        &REFRESH_LABELS
    };
    assert!(labels.contains(&label), "{label} is not a declared label");
    let before = counts(s, family).await;
    let r = send(s, body).await;
    assert_eq!(r.status, status, "{label}: {}", r.body);
    let after = counts(s, family).await;
    let moved: BTreeMap<_, _> = after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, d)| *d > 0)
        .collect();
    assert_eq!(
        moved,
        BTreeMap::from([(label.to_owned(), 1)]),
        "{family} for {label}: {body}"
    );
    for k in after.keys() {
        assert!(labels.contains(&k.as_str()), "undeclared label {k}");
    }
}

fn users() -> String {
    format!(
        "alice\tactive\t{}\nbob\tactive\t{}\ncarol\tdisabled\t{}\n",
        phc("wonderland"),
        phc("builder"),
        phc("c4rol")
    )
}

fn tokens(r: &Reply) -> String {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_login_outcome_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::store_with(dir.path(), &users()).await;
    let keys = auth_core::KeyRing::new(auth_core::Hs256Key::new(common::SECRET).unwrap()).unwrap();
    let settings = Settings {
        policy: auth_core::password::Policy::new().with_rounds(1000),
        rates: Rates {
            user_logins: RateLimit::per_minute(1),
            ..Rates::default()
        },
        ..Settings::default()
    };
    let throttle = Throttle::new(
        ThrottleLimits {
            threshold: 1,
            ..ThrottleLimits::USERNAME
        },
        ThrottleLimits::IP,
    );
    let s: AppState = Arc::new(State::new(
        keys,
        settings,
        store,
        HashPool::new(1, 0),
        throttle,
    ));
    let ok = StatusCode::OK;
    exactly_one(
        &s,
        "logins",
        "username=alice&password=wonderland",
        ok,
        "success",
    )
    .await;
    // The account's rate: its second success within the minute.
    let r = "username=alice&password=wonderland";
    exactly_one(&s, "logins", r, StatusCode::TOO_MANY_REQUESTS, "throttled").await;
    let unauthorized = StatusCode::UNAUTHORIZED;
    exactly_one(
        &s,
        "logins",
        "username=bob&password=x",
        unauthorized,
        "wrong_password",
    )
    .await;
    // bob's one failure locks him out: admission refuses.
    let r = "username=bob&password=builder";
    exactly_one(&s, "logins", r, StatusCode::TOO_MANY_REQUESTS, "throttled").await;
    let r = "username=nobody&password=x";
    exactly_one(&s, "logins", r, unauthorized, "unknown_user").await;
    let r = "username=carol&password=c4rol";
    exactly_one(&s, "logins", r, StatusCode::FORBIDDEN, "disabled").await;
    let r = "password=only";
    exactly_one(
        &s,
        "logins",
        r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_form",
    )
    .await;
    // The one hashing worker held, no queue: the pool refuses.
    let (release, holder) = common::hold_a_hash_worker(&s).await;
    let r = "username=dave&password=x";
    let busy = StatusCode::SERVICE_UNAVAILABLE;
    exactly_one(&s, "logins", r, busy, "unavailable").await;
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    // The store gone.
    s.store.close().await;
    let r = "username=erin&password=x";
    exactly_one(&s, "logins", r, busy, "unavailable").await;
}

#[tokio::test]
async fn every_refresh_outcome_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        sessions: auth_std_server::settings::SessionSettings {
            min_rotation_interval: 0,
            ..Default::default()
        },
        ..Settings::default()
    };
    let s = common::state_with(dir.path(), &users(), settings).await;
    let first = tokens(&send(&s, "username=alice&password=wonderland").await);
    let grant = |t: &str| format!("grant_type=refresh_token&refresh_token={t}");
    let bad = StatusCode::BAD_REQUEST;
    let r = send(&s, &grant(&first)).await;
    let second = tokens(&r);
    exactly_one(&s, "refreshes", &grant(&second), StatusCode::OK, "rotated").await;
    // `first` was rotated out: presenting it again is reuse, which revokes the session.
    exactly_one(&s, "refreshes", &grant(&first), bad, "reuse").await;
    let other = tokens(&send(&s, "username=bob&password=builder").await);
    let wider = format!("{}&scope=admin", grant(&other));
    exactly_one(&s, "refreshes", &wider, bad, "invalid_scope").await;
    exactly_one(&s, "refreshes", &grant("not-a-token"), bad, "invalid_grant").await;
    let r = "grant_type=refresh_token";
    exactly_one(&s, "refreshes", r, bad, "invalid_request").await;
    // Refused tokens from one address lock it out (20 by default).
    for _ in 0..25 {
        let _ = send(&s, &grant("not-a-token-either")).await;
    }
    let locked = StatusCode::TOO_MANY_REQUESTS;
    exactly_one(&s, "refreshes", &grant(&other), locked, "throttled").await;
}

#[tokio::test]
async fn a_refresh_with_the_store_gone_counts_unavailable_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = common::state_with(dir.path(), &users(), Settings::default()).await;
    let token = tokens(&send(&s, "username=alice&password=wonderland").await);
    s.store.close().await;
    let body = format!("grant_type=refresh_token&refresh_token={token}");
    let down = StatusCode::SERVICE_UNAVAILABLE;
    exactly_one(&s, "refreshes", &body, down, "unavailable").await;
}
