-- Sessions (#13): one row per login, holding the SHA-256 of its current refresh token, never
-- the token. Times are Unix seconds. A session goes with its account (ON DELETE CASCADE).
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    account TEXT NOT NULL REFERENCES accounts (name) ON DELETE CASCADE,
    token_hash BYTEA NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- The login time in milliseconds: orders a user's sessions for the per-user limit.
    created_ms BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at BIGINT,
    address TEXT NOT NULL,
    user_agent TEXT NOT NULL
);
CREATE INDEX sessions_account ON sessions (account, created_ms);
CREATE INDEX sessions_last_used ON sessions (last_used_at);

-- The hashes a session's refresh tokens had before they were rotated, so that presenting one
-- again is recognised as reuse (RFC 9700 §4.14.2) and revokes the session.
CREATE TABLE rotated_tokens (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    rotated_at BIGINT NOT NULL
);
CREATE INDEX rotated_tokens_session ON rotated_tokens (session_id);

-- A rotation is one UPDATE of `token_hash`; this keeps the old hash in the same statement.
CREATE FUNCTION auth_session_rotated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.token_hash <> NEW.token_hash THEN
        INSERT INTO rotated_tokens (token_hash, session_id, rotated_at)
        VALUES (OLD.token_hash, OLD.id, NEW.last_used_at);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_rotated AFTER UPDATE OF token_hash ON sessions
    FOR EACH ROW EXECUTE FUNCTION auth_session_rotated();

-- The revocation feed: one row per revoked session, written by the trigger below whoever
-- revokes (any instance, the CLI, an operator's own SQL), with NOTIFY auth_accounts, which
-- every instance already LISTENs on. Each follows the feed into its in-memory set of revoked
-- session ids, so access tokens are checked without a query.
CREATE TABLE session_revocations (
    seq BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX session_revocations_at ON session_revocations (at);

CREATE FUNCTION auth_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        INSERT INTO session_revocations (session_id, at) VALUES (NEW.id, NEW.revoked_at);
        PERFORM pg_notify('auth_accounts', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION auth_session_revoked();
