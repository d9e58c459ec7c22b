-- Hardening round 3 (#22).
--
-- Item 2: a credential epoch per account, bumped by every password change and disable, and
-- copied into each session at login. A login stores its session only if the account's epoch,
-- password time and status are still the ones its password was verified against, and a
-- refresh is refused once the epochs differ.
ALTER TABLE accounts ADD COLUMN credential_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN credential_epoch BIGINT NOT NULL DEFAULT 0;

-- Item 5: a session's rotation count. A rotated-out hash is kept with the generation it had,
-- and only the last 8 generations are kept, so one account's refresh loop cannot grow the
-- store without bound (it was about 146 B a refresh, kept 30 days).
ALTER TABLE sessions ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE rotated_tokens ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
CREATE INDEX rotated_tokens_generation ON rotated_tokens (session_id, generation);

DROP TRIGGER sessions_rotated;
CREATE TRIGGER sessions_rotated AFTER UPDATE OF token_hash ON sessions
    WHEN OLD.token_hash <> NEW.token_hash
BEGIN
    INSERT INTO rotated_tokens (token_hash, session_id, rotated_at, generation)
    VALUES (OLD.token_hash, OLD.id, NEW.last_used_at, OLD.generation);
    DELETE FROM rotated_tokens WHERE session_id = OLD.id AND generation < OLD.generation - 7;
END;

-- Item 4: the revocation feed names the account, so that each instance's set of revoked ids
-- can fail closed for one account, not for everyone, when it overflows.
ALTER TABLE session_revocations ADD COLUMN account TEXT NOT NULL DEFAULT '';
DROP TRIGGER sessions_revoked;
CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
    WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO session_revocations (session_id, at, account)
    VALUES (NEW.id, NEW.revoked_at, NEW.account);
END;

-- Item 12: names that differ only in case are one name. A store that already holds such a
-- pair fails here; the server then names the pairs (see the store's migration error).
CREATE UNIQUE INDEX accounts_name_lower ON accounts (lower(name));
