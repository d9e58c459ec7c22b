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

-- One row per change to an account, written by the triggers below, so that a change made by
-- any writer (this server, the CLI, an operator's own SQL) reaches every cache. Inserts need
-- none: the caches never hold names that do not exist.
CREATE TABLE account_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX account_changes_at ON account_changes (at);

CREATE TRIGGER accounts_updated AFTER UPDATE ON accounts BEGIN
    INSERT INTO account_changes (name, at) VALUES (OLD.name, CAST(strftime('%s', 'now') AS INTEGER));
END;
CREATE TRIGGER accounts_deleted AFTER DELETE ON accounts BEGIN
    INSERT INTO account_changes (name, at) VALUES (OLD.name, CAST(strftime('%s', 'now') AS INTEGER));
END;

-- Failed logins per username and per client address, shared by every instance. `key` is a
-- SHA-256 (hex) of the kind and the username or address group, never the name itself.
CREATE TABLE login_failures (
    key TEXT PRIMARY KEY NOT NULL,
    failures BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);
CREATE INDEX login_failures_last ON login_failures (last_failure);
