-- Hardening round 3 (#22). See migrations/sqlite/0003_hardening.sql for what each item is.
ALTER TABLE accounts ADD COLUMN credential_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN credential_epoch BIGINT NOT NULL DEFAULT 0;

ALTER TABLE sessions ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rotated_tokens ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
CREATE INDEX rotated_tokens_generation ON rotated_tokens (session_id, generation);

CREATE OR REPLACE FUNCTION auth_session_rotated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.token_hash <> NEW.token_hash THEN
        INSERT INTO rotated_tokens (token_hash, session_id, rotated_at, generation)
        VALUES (OLD.token_hash, OLD.id, NEW.last_used_at, OLD.generation);
        DELETE FROM rotated_tokens WHERE session_id = OLD.id AND generation < OLD.generation - 7;
    END IF;
    RETURN NULL;
END
$$;

ALTER TABLE session_revocations ADD COLUMN account TEXT NOT NULL DEFAULT '';
CREATE OR REPLACE FUNCTION auth_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN
        INSERT INTO session_revocations (session_id, at, account)
        VALUES (NEW.id, NEW.revoked_at, NEW.account);
        PERFORM pg_notify('auth_accounts', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE UNIQUE INDEX accounts_name_lower ON accounts (lower(name));
