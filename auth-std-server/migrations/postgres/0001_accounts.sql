-- Accounts, the change feed that keeps every instance's account cache current, and the
-- shared login-failure counters (#12). Times are Unix seconds, `last_failure` milliseconds.
CREATE TABLE accounts (
    name TEXT PRIMARY KEY NOT NULL,
    active BOOLEAN NOT NULL,
    hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);

-- One row per change to an account, written by the trigger below, so that a change made by any
-- writer (any instance, the CLI, an operator's own SQL) reaches every cache. The trigger also
-- notifies `auth_accounts`, delivered at commit, so instances that LISTEN see it at once.
-- Inserts need none: the caches never hold names that do not exist.
CREATE TABLE account_changes (
    seq BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX account_changes_at ON account_changes (at);

CREATE FUNCTION auth_account_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed TEXT;
BEGIN
    changed := OLD.name;
    INSERT INTO account_changes (name, at) VALUES (changed, EXTRACT(EPOCH FROM now())::BIGINT);
    PERFORM pg_notify('auth_accounts', changed);
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_changed AFTER UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION auth_account_changed();

-- Failed logins per username and per client address, shared by every instance. `key` is a
-- SHA-256 (hex) of the kind and the username or address group, never the name itself.
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);
CREATE INDEX login_failures_last ON login_failures (last_failure);
