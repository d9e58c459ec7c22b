//! The three routes. Every decision is auth-core's; this file moves bytes.

use auth_core::contract;
use auth_core::flow::{self, FlowConfig, LoginError};
use auth_core::form::{login_form_from_fields, parse_login_form};
use auth_core::response::{self, Reply};
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;

use crate::RouterState as AppState;
use crate::auth::{Authenticated, detail, error_reply, json, retry_later, unavailable};
use crate::store::StoreError;
use crate::throttle::SharedKeys;
use crate::users::User;

pub async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

/// A login body: urlencoded bytes as sent, the parts of a multipart body, or (JSON, text, no
/// body) nothing, which FastAPI answers with the missing form fields.
enum FormBody {
    Urlencoded(axum::body::Bytes),
    Fields(Vec<(String, axum::body::Bytes)>),
}

async fn form_body(req: Request) -> Result<FormBody, Response> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        let mut mp = Multipart::from_request(req, &())
            .await
            .map_err(|e| detail(StatusCode::UNPROCESSABLE_ENTITY, &e.body_text()))?;
        let mut fields = Vec::new();
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| detail(e.status(), &e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let value = field
                .bytes()
                .await
                .map_err(|e| detail(e.status(), &e.body_text()))?;
            fields.push((name, value));
        }
        return Ok(FormBody::Fields(fields));
    }
    let body = axum::body::to_bytes(req.into_body(), crate::MAX_BODY)
        .await
        .map_err(|_| detail(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large"))?;
    if content_type.starts_with("application/x-www-form-urlencoded") {
        Ok(FormBody::Urlencoded(body))
    } else {
        Ok(FormBody::Fields(Vec::new()))
    }
}

/// `POST /auth/session`
pub async fn login(State(state): State<AppState>, req: Request) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let body = match form_body(req).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let mut buf = Vec::new();
    let parsed = match &body {
        FormBody::Urlencoded(bytes) => {
            buf.resize(bytes.len(), 0);
            parse_login_form(bytes, &mut buf)
        }
        // Multipart parts go to the same field rules directly: no re-encoding.
        FormBody::Fields(fields) => {
            login_form_from_fields(fields.iter().map(|(n, v)| (n.as_str(), &v[..])))
        }
    };
    let (username, password) = match parsed {
        Ok(form) => (form.username.to_owned(), form.password.to_owned()),
        Err(errors) => {
            let mut out = Vec::new();
            let _ = response::write_form_errors(&errors, &mut out);
            return json(Reply::UNPROCESSABLE, out);
        }
    };
    // Counted as a failure from here on, unless settled below: see `throttle`.
    let attempt = match state.throttle.admit(&username, ip, Instant::now()) {
        Ok(a) => a,
        Err(wait) => return throttled(&username, wait),
    };
    let now_ms = crate::state::now_ms();
    // The counters every instance shares.
    let shared = SharedKeys::new(&username, ip);
    let user_counted = match state
        .throttle
        .check_shared(&state.store, &shared, now_ms)
        .await
    {
        Ok((None, counted)) => counted,
        Ok((Some(wait), _)) => {
            attempt.refund();
            return throttled(&username, wait);
        }
        Err(_) => {
            attempt.refund();
            return unavailable();
        }
    };
    let user = match state.store.account(&username).await {
        Ok(row) => row.map(|r| r.user),
        Err(StoreError::BadRow { name, source }) => {
            // Costs and answers what an unknown user does; the operator is told.
            tracing::error!(user = ?name, error = %source, "stored hash unusable");
            None
        }
        Err(_) => {
            attempt.refund();
            return unavailable();
        }
    };
    let task_state = AppState::clone(&state);
    let outcome = state
        .hashing
        .run(move || {
            // Parsed when the account was read, not here (#11 item 6).
            let account = user.as_ref().map(User::account);
            let mut out = [0u8; 1024];
            let settings = &task_state.settings;
            let result = flow::login(
                &username,
                password.as_bytes(),
                account.as_ref(),
                task_state.auth.keys(),
                &FlowConfig {
                    policy: settings.policy,
                    ..task_state.auth.flow_config()
                },
                crate::now(),
                &mut out,
            )
            .map(|issued| {
                (
                    issued.token.to_owned(),
                    issued.expires_in,
                    issued.needs_rehash,
                )
            });
            (result, username, password, user)
        })
        .await;
    let Ok((result, username, password, user)) = outcome else {
        attempt.refund();
        return retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many logins in progress; retry shortly",
            1,
        );
    };
    match result {
        Ok((token, expires_in, needs_rehash)) => {
            attempt.succeed();
            // Written only when there is a counter to clear, so a successful login writes
            // nothing. A store error is logged once by the store's health; the login stands.
            if user_counted {
                let _ = state.throttle.succeed_shared(&state.store, &shared).await;
            }
            if needs_rehash && let Some(old) = user {
                tokio::spawn(rehash(
                    state,
                    username.clone(),
                    password,
                    old.hash().to_owned(),
                ));
            }
            tracing::info!(user = ?username, "login succeeded");
            let mut out = Vec::new();
            let _ = response::write_token(&token, expires_in, &mut out);
            json(Reply::TOKEN, out)
        }
        Err(e) => {
            // A wrong password stays counted; so does a disabled account, whose right password
            // must not open a way around the limits. An encoding failure is ours: refunded.
            if matches!(e, LoginError::Encode(_)) {
                attempt.refund();
            } else {
                drop(attempt);
                // Counted before the answer, so the next login on any instance sees it.
                let _ = state
                    .throttle
                    .fail_shared(&state.store, &shared, now_ms)
                    .await;
            }
            match e {
                LoginError::Encode(err) => tracing::error!(error = %err, "token encoding failed"),
                _ => tracing::info!(user = ?username, outcome = ?e, "login refused"),
            }
            error_reply(e.reply())
        }
    }
}

/// 429 with `Retry-After`, the whole seconds of `wait` rounded up.
fn throttled(username: &str, wait: std::time::Duration) -> Response {
    // `?`: the username is untrusted; Debug escapes newlines and control characters.
    tracing::info!(user = ?username, "login throttled");
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    retry_later(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many failed login attempts; retry later",
        secs,
    )
}

/// Upgrades a stored hash after a successful login, off the request path. The new hash is made
/// in the hashing pool; the write is one conditional `UPDATE`, made only if the stored hash is
/// still the one verified, so a concurrent password change wins.
async fn rehash(state: AppState, username: String, password: String, old_hash: String) {
    let policy = state.settings.policy;
    let hashed = state
        .hashing
        .run(move || crate::password::hash_new(password.as_bytes(), &policy))
        .await;
    let new_hash = match hashed {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => return tracing::error!(error = %e, "stored hash upgrade failed"),
        Err(_) => {
            return tracing::warn!(
                "hashing pool busy; stored hash upgrade deferred to a later login"
            );
        }
    };
    let new = match User::new(&new_hash, true) {
        Ok(u) => u,
        Err(e) => return tracing::error!(error = %e, "new hash does not parse back"),
    };
    match state
        .store
        .rehash(&username, &old_hash, &new, crate::now())
        .await
    {
        Ok(true) => tracing::info!("stored hash upgraded to the current policy"),
        Ok(false) => tracing::info!("stored hash changed meanwhile; upgrade skipped"),
        Err(e) => {
            tracing::warn!(error = %e, "stored hash upgrade skipped; retried on the next login")
        }
    }
}

/// `GET /secure-resource`
pub async fn secure_resource(auth: Authenticated) -> Response {
    let mut out = Vec::new();
    let _ = contract::write_secure_resource(auth.token(), &mut out);
    json(Reply::OK, out)
}

/// `GET /dashboard/metrics`
pub async fn dashboard(auth: Authenticated) -> Response {
    let mut out = Vec::new();
    let _ = contract::write_dashboard(auth.subject(), &mut out);
    json(Reply::OK, out)
}
