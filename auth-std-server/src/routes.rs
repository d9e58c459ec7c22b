//! The routes. Every decision is auth-core's; this file moves bytes.

use auth_core::contract;
use auth_core::flow::{self, FlowConfig, Grant, LoginError};
use auth_core::form::{
    Field, FieldErrorKind, FormError, RefreshForm, TokenRequest, parse_revoke_form,
    parse_token_form, revoke_form_from_fields, token_request_from_fields,
};
use auth_core::response::{self, Reply};
use auth_core::session::{
    self, OAuthError, REFRESH_TOKEN_LEN, RefreshError, RefreshToken, Session, SessionId,
};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;

use crate::RouterState as AppState;
use crate::auth::{Authenticated, detail, error_reply, json, retry_later, unavailable};
use crate::metrics::Metrics;
#[allow(unused_imports)] // reason: named in the `#[utoipa::path]` attributes only.
use crate::openapi::{
    Dashboard, Detail, Health, OAuthErrorBody, RevokeForm, SecureResource, TokenForm,
    TokenResponse, Unprocessable,
};
use crate::store::{FoundSession, NewSession, StoreError};
use crate::throttle::SharedKeys;
use crate::users::User;

pub async fn not_found() -> Response {
    detail(StatusCode::NOT_FOUND, "Not Found")
}

/// A login body: urlencoded bytes as sent, the parts of a multipart body, or (JSON, text, no
/// body) nothing, which FastAPI answers with the missing form fields.
enum FormBody {
    Urlencoded(axum::body::Bytes),
    Fields(Vec<Part>),
}

/// One multipart part: its name and its bytes.
type Part = (String, axum::body::Bytes);

/// A part as the core's `…_from_fields` parsers take it.
type PartView<'b> = fn(&'b Part) -> (&'b str, &'b [u8]);

/// A multipart body's parts as the core's `…_from_fields` parsers take them.
type Parts<'b> = std::iter::Map<std::slice::Iter<'b, Part>, PartView<'b>>;

impl FormBody {
    /// Parses the body with `urlencoded` (decoding into `buf`) or, for a multipart body, with
    /// `parts` over its fields directly: no re-encoding.
    fn parse<'b, T>(
        &'b self,
        buf: &'b mut Vec<u8>,
        urlencoded: impl FnOnce(&'b [u8], &'b mut [u8]) -> T,
        parts: impl FnOnce(Parts<'b>) -> T,
    ) -> T {
        match self {
            FormBody::Urlencoded(bytes) => {
                buf.resize(bytes.len(), 0);
                urlencoded(bytes, buf)
            }
            FormBody::Fields(fields) => {
                let part: PartView<'b> = |(n, v)| (n.as_str(), &v[..]);
                parts(fields.iter().map(part))
            }
        }
    }
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
        // A body over the limit is 413; any other malformed multipart body is not a form: 422.
        let bad = |e: axum::extract::multipart::MultipartError| {
            let status = match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            detail(status, &e.body_text())
        };
        let mut fields = Vec::new();
        while let Some(field) = mp.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or_default().to_owned();
            let value = field.bytes().await.map_err(bad)?;
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

/// Who is asking: the peer address and its `User-Agent`, for the throttle and `session list`.
struct Client {
    ip: Option<IpAddr>,
    user_agent: String,
}

impl Client {
    fn of(req: &Request) -> Self {
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        // Shortened, and only printable ASCII kept: it is shown to operators.
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .map(|v| {
                v.as_bytes()
                    .iter()
                    .take(200)
                    .filter(|b| b.is_ascii_graphic() || **b == b' ')
                    .map(|&b| char::from(b))
                    .collect()
            })
            .unwrap_or_default();
        Client { ip, user_agent }
    }

    fn address(&self) -> String {
        self.ip
            .map(|ip| ip.to_canonical().to_string())
            .unwrap_or_default()
    }
}

/// `POST /auth/session`: the password grant (FastAPI's contract, now with a refresh token) and
/// the refresh grant (RFC 6749 §6).
#[utoipa::path(
    post,
    path = "/auth/session",
    tag = "auth",
    summary = "Log in (password grant) or refresh (refresh grant)",
    request_body(content(
        (TokenForm = "application/x-www-form-urlencoded"),
        (TokenForm = "multipart/form-data")
    )),
    responses(
        (status = 200, description = "An access token and the session's new refresh token",
            body = TokenResponse,
            headers(("Cache-Control" = String, description = "no-store"),
                    ("Pragma" = String, description = "no-cache"))),
        (status = 400, description = "Refresh grant: invalid_grant (the token is malformed, \
            unknown, expired, revoked or reused; reuse revokes its session), invalid_scope or \
            invalid_request", body = OAuthErrorBody),
        (status = 401, description = "Wrong password or unknown user", body = Detail,
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, description = "Right password, disabled account", body = Detail),
        (status = 408, description = "The request did not finish in time", body = Detail),
        (status = 413, description = "Body over 16 KiB", body = Detail),
        (status = 422, description = "A missing, repeated or malformed field, a grant_type \
            other than password or refresh_token, or a body that is not a form",
            body = Unprocessable),
        (status = 429, description = "Too many failed logins, or refused refresh tokens, for \
            the username or from the address", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "The store is unavailable, or every PBKDF2 worker is \
            busy and the queue is full", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn token(State(state): State<AppState>, req: Request) -> Response {
    let client = Client::of(&req);
    let body = match form_body(req).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let mut buf = Vec::new();
    let parsed = body.parse(&mut buf, parse_token_form, token_request_from_fields);
    match parsed {
        Ok(TokenRequest::Password(form)) => {
            let (username, password) = (form.username.to_owned(), form.password.to_owned());
            let scope = form.scope.to_owned();
            login(state, username, password, scope, client).await
        }
        Ok(TokenRequest::Refresh(form)) => refresh(&state, &form, &client).await,
        Err(errors) => {
            let res = form_error(&errors);
            let family = if res.status() == StatusCode::BAD_REQUEST {
                (&state.metrics.refreshes, "invalid_request")
            } else {
                (&state.metrics.logins, "bad_form")
            };
            Metrics::count(family.0, family.1);
            res
        }
    }
}

/// A bad form: the refresh grant's missing or undecodable token is RFC 6749 §5.2's
/// `invalid_request`; everything else (a repeated field, whatever the grant) is the
/// password grant's 422.
fn form_error(errors: &FormError<'_>) -> Response {
    let refresh_problem = errors
        .errors()
        .iter()
        .any(|e| e.field == Field::RefreshToken && e.kind != FieldErrorKind::Repeated);
    if refresh_problem {
        return oauth_error(OAuthError::INVALID_REQUEST);
    }
    let mut out = Vec::new();
    let _ = response::write_form_errors(errors, &mut out);
    json(Reply::UNPROCESSABLE, out)
}

/// 400 with an RFC 6749 §5.2 body.
fn oauth_error(error: OAuthError) -> Response {
    let mut out = Vec::new();
    let _ = response::write_oauth_error(&error, &mut out);
    json(Reply::OAUTH_ERROR, out)
}

/// The password grant.
async fn login(
    state: AppState,
    username: String,
    password: String,
    scope: String,
    client: Client,
) -> Response {
    let ip = client.ip;
    // Counted as a failure from here on, unless settled below: see `throttle`.
    let count = |outcome| Metrics::count(&state.metrics.logins, outcome);
    let attempt = match state.throttle.admit(&username, ip, Instant::now()) {
        Ok(a) => a,
        Err(wait) => {
            count("throttled");
            return throttled(&state, &username, ip, wait);
        }
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
            count("throttled");
            return throttled(&state, &username, ip, wait);
        }
        Err(_) => {
            attempt.refund();
            count("unavailable");
            return unavailable();
        }
    };
    let (user, verified_state) = match state.store.account(&username).await {
        Ok(Some(r)) => (
            Some(r.user),
            Some(crate::store::Verified {
                password_changed_at: r.password_changed_at,
                credential_epoch: r.credential_epoch,
            }),
        ),
        Ok(None) => (None, None),
        Err(StoreError::BadRow { name, source }) => {
            // Costs and answers what an unknown user does; the operator is told.
            tracing::error!(user = ?name, error = %source, "stored hash unusable");
            (None, None)
        }
        Err(_) => {
            attempt.refund();
            count("unavailable");
            return unavailable();
        }
    };
    let known = user.is_some();
    let task_state = AppState::clone(&state);
    let outcome = state
        .hashing
        .run(move || {
            // Parsed when the account was read, not here (#11 item 6).
            let account = user.as_ref().map(User::account);
            let result = flow::check_login(
                password.as_bytes(),
                account.as_ref(),
                &FlowConfig {
                    policy: task_state.settings.policy,
                    ..task_state.auth.flow_config()
                },
            );
            (result, password, user)
        })
        .await;
    let Ok((result, password, user)) = outcome else {
        attempt.refund();
        count("unavailable");
        state.metrics.pool_rejections.inc();
        return retry_later(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many logins in progress; retry shortly",
            1,
        );
    };
    let verified = match result {
        Ok(v) => v,
        Err(e) => {
            // A wrong password stays counted; so does a disabled account, whose right password
            // must not open a way around the limits.
            drop(attempt);
            // Counted before the answer, so the next login on any instance sees it.
            let _ = state
                .throttle
                .fail_shared(&state.store, &shared, now_ms)
                .await;
            tracing::info!(user = ?username, client = ?ip, outcome = ?e, "login refused");
            count(match e {
                LoginError::AccessRestricted => "disabled",
                _ if known => "wrong_password",
                _ => "unknown_user",
            });
            return error_reply(e.reply());
        }
    };
    // Successful logins are rate-limited per account (round 3 item 4): each one past the
    // session cap revokes a session, and unlimited they flooded every instance's revoked set.
    if let Err(wait) = state.buckets.logins.take(&username, Instant::now()) {
        attempt.succeed();
        count("throttled");
        return account_throttled(
            &state,
            "Too many logins for this account; retry later",
            &username,
            wait,
        );
    }
    // The session, then its first tokens: nothing is answered that the store does not hold.
    let now = crate::now();
    let (sid, refresh_token) = match new_session_secrets() {
        Ok(s) => s,
        Err(res) => {
            attempt.refund();
            count("unavailable");
            return *res;
        }
    };
    let Some(verified_state) = verified_state else {
        // `check_login` verifies only a known account.
        attempt.refund();
        count("unavailable");
        return unavailable();
    };
    let new = NewSession {
        id: sid.as_str(),
        account: &username,
        hash: &refresh_token.hash(),
        scope: &scope,
        now,
        address: &client.address(),
        user_agent: &client.user_agent,
        verified: verified_state,
    };
    match state
        .store
        .create_session(&new, state.settings.sessions.max_per_user)
        .await
    {
        Ok(evicted) => {
            for id in &evicted {
                state.revoked.insert(id, &username, now, now);
                state.metrics.sessions_revoked.inc();
            }
        }
        Err(StoreError::NoSuchUser(_)) => {
            // The password was verified against an account that `user passwd`, `user disable`
            // or `user remove` changed meanwhile (round 3 item 2): a failed login.
            drop(attempt);
            let _ = state
                .throttle
                .fail_shared(&state.store, &shared, now_ms)
                .await;
            tracing::info!(user = ?username, client = ?ip, "login refused: the account changed while its password was checked");
            count("wrong_password");
            return error_reply(LoginError::InvalidCredentials.reply());
        }
        Err(e) => {
            attempt.refund();
            count("unavailable");
            tracing::warn!(error = %e, "session not stored; login answered 503");
            return unavailable();
        }
    }
    attempt.succeed();
    count("success");
    state.metrics.sessions_started.inc();
    // Written only when there is a counter to clear, so a successful login writes nothing
    // more. A store error is logged once by the store's health; the login stands.
    if user_counted {
        let _ = state.throttle.succeed_shared(&state.store, &shared).await;
    }
    if verified.needs_rehash
        && let Some(old) = user
    {
        tokio::spawn(rehash(
            AppState::clone(&state),
            username.clone(),
            password,
            old.hash().to_owned(),
        ));
    }
    tracing::info!(user = ?username, client = ?ip, "login succeeded");
    let grant = Grant {
        subject: &username,
        sid: Some(sid.as_str()),
        scope: Some(&scope),
    };
    token_reply(&state, &grant, &refresh_token, now)
}

/// A new session id and refresh token from the OS's generator.
fn new_session_secrets() -> Result<(SessionId, RefreshToken), Box<Response>> {
    let mut rng = getrandom::SysRng;
    match (
        SessionId::generate(&mut rng),
        RefreshToken::generate(&mut rng),
    ) {
        (Ok(sid), Ok(token)) => Ok((sid, token)),
        _ => {
            tracing::error!("the OS random generator failed");
            Err(Box::new(detail(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error",
            )))
        }
    }
}

/// 200 with an access token for `grant` and `refresh_token`.
fn token_reply(
    state: &AppState,
    grant: &Grant<'_>,
    refresh_token: &RefreshToken,
    now: u64,
) -> Response {
    let access = match state.auth.issue_grant(grant, now) {
        Ok(t) => t,
        Err(err) => {
            tracing::error!(error = %err, "token encoding failed");
            return detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let mut text = [0u8; REFRESH_TOKEN_LEN];
    let Ok(refresh) = refresh_token.encode(&mut text) else {
        return detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let mut out = Vec::new();
    let _ = response::write_token_with_refresh(&access, state.settings.ttl, refresh, &mut out);
    json(Reply::TOKEN, out)
}

/// The refresh grant, counted by outcome.
async fn refresh(state: &AppState, form: &RefreshForm<'_>, client: &Client) -> Response {
    let res = refresh_inner(state, form, client).await;
    let outcome = match res.status() {
        StatusCode::OK => "rotated",
        StatusCode::TOO_MANY_REQUESTS => "throttled",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::BAD_REQUEST => match res.extensions().get::<RefreshError>() {
            Some(RefreshError::Reuse) => "reuse",
            Some(RefreshError::ScopeWider) => "invalid_scope",
            _ => "invalid_grant",
        },
        _ => "error",
    };
    Metrics::count(&state.metrics.refreshes, outcome);
    res
}

/// The refresh grant: auth-core decides; this reads and writes the session.
async fn refresh_inner(state: &AppState, form: &RefreshForm<'_>, client: &Client) -> Response {
    if let Some(wait) = state.throttle.check_grant(client.ip, Instant::now()) {
        return grant_throttled(wait);
    }
    // Malformed: refused before any lookup, so it costs no query and writes nothing.
    let Ok(presented) = RefreshToken::parse(form.refresh_token.as_bytes()) else {
        state.throttle.fail_grant(client.ip, Instant::now());
        return oauth_error(OAuthError::INVALID_GRANT);
    };
    let hash = presented.hash();
    let limits = state.settings.sessions.limits;
    // Twice at most: a refresh that loses the race to rotate is decided again, now that the
    // winner's write shows its token as rotated out.
    for _ in 0..2 {
        let found = match state.store.find_session(&hash).await {
            Ok(f) => f,
            Err(_) => return unavailable(),
        };
        let now = crate::now();
        let session = found.as_ref().map(|f| Session {
            current: f.current,
            created: f.created,
            last_used: f.last_used,
            revoked: f.revoked,
            scope: &f.scope,
            presented_rotated_at: f.rotated_at,
        });
        let account = found.as_ref().and_then(|f| f.account_state);
        let decision = session::refresh(
            &presented,
            form.scope,
            session.as_ref(),
            account.as_ref(),
            &limits,
            now,
        );
        // The account's credentials changed since the session began (a password change or a
        // disable, by the CLI or any other writer): refused and revoked, whatever the times
        // say (round 3 item 2, defence in depth beside the conditional session insert).
        let decision = match (&found, decision) {
            (Some(f), Ok(_)) if f.epochs.1.is_some_and(|now| now != f.epochs.0) => {
                Err(RefreshError::PasswordChanged)
            }
            (_, d) => d,
        };
        let (found, rotate) = match (&found, decision) {
            (Some(f), Ok(r)) => (f, r),
            (found, Err(e)) => return refused(state, found.as_ref(), e, client, now).await,
            // `refresh` refuses without a session.
            (None, Ok(_)) => return oauth_error(OAuthError::INVALID_GRANT),
        };
        // Refreshes are rate-limited per account (round 3 item 5).
        if let Err(wait) = state.buckets.refreshes.take(&found.account, Instant::now()) {
            return account_throttled(
                state,
                "Too many refreshes for this account; retry later",
                &found.account,
                wait,
            );
        }
        // Inside the minimum interval since the last rotation, the current token is answered
        // with itself and a new access token, and nothing is written: one session's refresh
        // loop cannot write a row per request (round 3 item 5).
        let min = state.settings.sessions.min_rotation_interval;
        if min > 0 && found.rotated_at.is_none() && now < found.last_used.saturating_add(min) {
            let grant = Grant {
                subject: &found.account,
                sid: Some(&found.id),
                scope: Some(rotate.scope),
            };
            return token_reply(state, &grant, &presented, now);
        }
        let next = match new_session_secrets() {
            Ok((_, t)) => t,
            Err(res) => return *res,
        };
        match state
            .store
            .rotate(&found.id, &hash, &next.hash(), now, &client.address())
            .await
        {
            Ok(true) => {
                let grant = Grant {
                    subject: &found.account,
                    sid: Some(&found.id),
                    scope: Some(rotate.scope),
                };
                return token_reply(state, &grant, &next, now);
            }
            Ok(false) => continue,
            Err(_) => return unavailable(),
        }
    }
    oauth_error(OAuthError::INVALID_GRANT)
}

/// A refused refresh: revokes the session when auth-core says so, counts the failure.
async fn refused(
    state: &AppState,
    found: Option<&FoundSession>,
    e: RefreshError,
    client: &Client,
    now: u64,
) -> Response {
    if let Some(f) = found.filter(|_| e.revokes_session()) {
        match state.store.revoke_session(&f.id, None, now).await {
            Ok(_) => {
                state.revoked.insert(&f.id, &f.account, now, now);
                state.metrics.sessions_revoked.inc();
            }
            // The refresh is refused either way; the next presentation tries again.
            Err(_) => return unavailable(),
        }
        if e == RefreshError::Reuse {
            tracing::warn!(user = ?f.account, session = %f.id, "refresh token reused; session revoked");
        } else {
            tracing::info!(user = ?f.account, session = %f.id, reason = %e, "session revoked");
        }
    }
    if matches!(e, RefreshError::Unknown | RefreshError::Reuse) {
        state.throttle.fail_grant(client.ip, Instant::now());
    }
    let mut res = oauth_error(e.oauth());
    // For the metrics: which refusal this was.
    res.extensions_mut().insert(e);
    res
}

/// 429 for an address whose refused tokens locked it out.
fn grant_throttled(wait: std::time::Duration) -> Response {
    retry_later(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many refused tokens; retry later",
        secs_up(wait),
    )
}

/// `POST /auth/revoke` (RFC 7009): revokes the session of a refresh token or an access token.
/// 200 for every well-formed request, known token or not, so it tells nobody anything.
#[utoipa::path(
    post,
    path = "/auth/revoke",
    tag = "auth",
    summary = "Log out: revoke the session of a refresh or access token (RFC 7009)",
    request_body(content(
        (RevokeForm = "application/x-www-form-urlencoded"),
        (RevokeForm = "multipart/form-data")
    )),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke: the same answer",
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "No token: invalid_request", body = OAuthErrorBody),
        (status = 408, description = "The request did not finish in time", body = Detail),
        (status = 413, description = "Body over 16 KiB", body = Detail),
        (status = 422, description = "A repeated field, or a malformed multipart body",
            body = Unprocessable),
        (status = 429, description = "Too many unknown tokens from the address", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
        (status = 503, description = "The store is unavailable", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn revoke(State(state): State<AppState>, req: Request) -> Response {
    let client = Client::of(&req);
    let body = match form_body(req).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let mut buf = Vec::new();
    let parsed = body.parse(&mut buf, parse_revoke_form, revoke_form_from_fields);
    let form = match parsed {
        Ok(f) => f,
        Err(errors)
            if errors
                .errors()
                .iter()
                .any(|e| e.kind == FieldErrorKind::Repeated) =>
        {
            let mut out = Vec::new();
            let _ = response::write_form_errors(&errors, &mut out);
            return json(Reply::UNPROCESSABLE, out);
        }
        Err(_) => return oauth_error(OAuthError::INVALID_REQUEST),
    };
    if let Some(wait) = state.throttle.check_grant(client.ip, Instant::now()) {
        return grant_throttled(wait);
    }
    // A token bucket per address (round 3 item 11): known tokens were never throttled.
    if let Some(ip) = client.ip
        && let Err(wait) = state
            .buckets
            .revokes
            .take(crate::throttle::client_group(ip), Instant::now())
    {
        return retry_later(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many revocation requests; retry later",
            secs_up(wait),
        );
    }
    let now = crate::now();
    // The hint only orders the lookups (RFC 7009 §2.1); a refresh token has one exact shape.
    let target = match RefreshToken::parse(form.token.as_bytes()) {
        Ok(t) => match state.store.find_session(&t.hash()).await {
            Ok(found) => found.map(|f| (f.id, f.account, f.revoked)),
            Err(_) => return unavailable(),
        },
        Err(_) => access_token_session(&state, form.token, now).map(|(id, account, iat)| {
            let gone =
                state.revoked.verdict(&id, &account, iat) == crate::sessions::Verdict::Revoked;
            (id, account, gone)
        }),
    };
    match target {
        // Already revoked: nothing to write and nothing to log.
        Some((_, _, true)) => {}
        Some((id, account, false)) => match state.store.revoke_session(&id, None, now).await {
            Ok(live) => {
                state.revoked.insert(&id, &account, now, now);
                if live {
                    state.metrics.sessions_revoked.inc();
                    tracing::info!(session = %id, client = ?client.ip, "session revoked");
                }
            }
            Err(_) => return unavailable(),
        },
        None => state.throttle.fail_grant(client.ip, Instant::now()),
    }
    let mut res = Response::new(axum::body::Body::empty());
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    res
}

/// How long after its `exp` an access token may still log its session out (round 3 item 11:
/// any expired token did, so one leaked into a log hours ago could still end its user's
/// session).
pub const REVOKE_EXPIRED_GRACE: u64 = 5 * 60;

/// The session id, account and `iat` of an access token whose MAC checks out, unexpired or
/// expired less than [`REVOKE_EXPIRED_GRACE`] ago: revoking the session of a just-expired
/// access token is still a logout.
fn access_token_session(
    state: &AppState,
    token: &str,
    now: u64,
) -> Option<(String, String, Option<u64>)> {
    let untrusted = auth_core::UntrustedToken::parse(token).ok()?;
    let verified = state.auth.keys().verify(&untrusted).ok()?;
    let mut buf = vec![0u8; verified.payload_len().saturating_mul(2)];
    let claims: flow::FlowClaims<'_> = verified.claims(&mut buf).ok()?;
    let exp = claims.exp?;
    if exp.saturating_add(REVOKE_EXPIRED_GRACE) < now {
        return None;
    }
    let subject = claims.sub.or(claims.uid)?.chars().collect();
    Some((claims.sid?.chars().collect(), subject, claims.iat))
}

/// Whole seconds of `wait`, rounded up.
fn secs_up(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// 429 with `Retry-After`. Logged once per client address a minute (or, without one, per
/// username), never per request (round 3 item 7: cheap 429s wrote 816 MB of log in 10 s): a
/// flood of fresh usernames from one address is one line. The name is at most
/// [`auth_core::form::MAX_USERNAME_LEN`] bytes by then, and shown `Debug`-escaped.
fn throttled(
    state: &AppState,
    username: &str,
    ip: Option<IpAddr>,
    wait: std::time::Duration,
) -> Response {
    let first = match ip {
        Some(ip) => state
            .lockout_log
            .first(crate::throttle::client_group(ip), Instant::now()),
        None => state.lockout_log.first(username, Instant::now()),
    };
    if first {
        tracing::info!(user = ?crate::throttle::log_prefix(username, 64), client = ?ip, "login throttled (logged once a minute per address)");
    }
    retry_later(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many failed login attempts; retry later",
        secs_up(wait),
    )
}

/// 429 with `Retry-After` for an account past one of its rates; logged once a minute.
fn account_throttled(
    state: &AppState,
    detail: &'static str,
    account: &str,
    wait: std::time::Duration,
) -> Response {
    if state.lockout_log.first((detail, account), Instant::now()) {
        tracing::info!(user = ?account, "{detail} (logged once a minute per account)");
    }
    retry_later(StatusCode::TOO_MANY_REQUESTS, detail, secs_up(wait))
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

/// `GET /healthz`: the process is up and answering. Cheap; never logged per request.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    summary = "Liveness: the process answers",
    responses((status = 200, description = "Up", body = Health))
)]
pub async fn healthz() -> Response {
    json(Reply::OK, br#"{"status":"ok"}"#.to_vec())
}

/// `GET /readyz`: the keys are loaded, the store answers a query within a second, and the
/// account and revocation feeds are current. 503 with the reason otherwise, so a load
/// balancer sends nothing here that would get 503 anyway.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    summary = "Readiness: keys loaded, store reachable, feeds current",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready; `detail` says why", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let cached = state
        .ready
        .lock()
        .ok()
        .and_then(|c| *c)
        .filter(|(at, _)| at.elapsed() < crate::state::READY_CACHE);
    let reason = match cached {
        Some((_, reason)) => reason,
        None => {
            let reason = readiness(&state).await;
            if let Ok(mut c) = state.ready.lock() {
                *c = Some((Instant::now(), reason));
            }
            reason
        }
    };
    match reason {
        None => json(Reply::OK, br#"{"status":"ready"}"#.to_vec()),
        Some(why) => retry_later(StatusCode::SERVICE_UNAVAILABLE, why, 1),
    }
}

/// Why this instance is not ready, if it is not: one store query.
async fn readiness(state: &AppState) -> Option<&'static str> {
    if state.auth.keys().is_empty() {
        Some("no signing key loaded")
    } else {
        match tokio::time::timeout(std::time::Duration::from_secs(1), state.store.ping()).await {
            Ok(Ok(())) if state.accounts.is_stale() => Some("account feed is stale"),
            Ok(Ok(())) => None,
            Ok(Err(_)) | Err(_) => Some("store unreachable"),
        }
    }
}

/// `GET /secure-resource`
#[utoipa::path(
    get,
    path = "/secure-resource",
    tag = "protected",
    summary = "Echo the token's first characters",
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "The token is valid", body = SecureResource),
        (status = 401, description = "No bearer token (Not authenticated), or a bad, expired \
            or revoked one (Invalid or malformed signature)", body = Detail,
            headers(("WWW-Authenticate" = String,
                description = "Bearer, or Bearer error=\"invalid_token\""))),
        (status = 403, description = "The account is disabled or gone", body = Detail),
        (status = 431, description = "Too many or too large headers", body = Detail),
        (status = 503, description = "The account store cannot answer", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn secure_resource(auth: Authenticated) -> Response {
    let mut out = Vec::new();
    let _ = contract::write_secure_resource(auth.token(), &mut out);
    json(Reply::OK, out)
}

/// `GET /dashboard/metrics`
#[utoipa::path(
    get,
    path = "/dashboard/metrics",
    tag = "protected",
    summary = "The token's owner",
    security(("OAuth2PasswordBearer" = [])),
    responses(
        (status = 200, description = "The token is valid", body = Dashboard),
        (status = 401, description = "No bearer token (Not authenticated), or a bad, expired \
            or revoked one (Invalid or malformed signature)", body = Detail,
            headers(("WWW-Authenticate" = String,
                description = "Bearer, or Bearer error=\"invalid_token\""))),
        (status = 403, description = "The account is disabled or gone", body = Detail),
        (status = 431, description = "Too many or too large headers", body = Detail),
        (status = 503, description = "The account store cannot answer", body = Detail,
            headers(("Retry-After" = u64, description = "Seconds"))),
    )
)]
pub async fn dashboard(auth: Authenticated) -> Response {
    let mut out = Vec::new();
    let _ = contract::write_dashboard(auth.subject(), &mut out);
    json(Reply::OK, out)
}
