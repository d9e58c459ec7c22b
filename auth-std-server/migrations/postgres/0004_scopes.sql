-- #24: the scopes an account may be granted, space-separated (each defined by the server's
-- `--scope`; `user scopes` changes them). A change is an account UPDATE, so the change feed's
-- trigger carries it to every instance, as it does a disable.
ALTER TABLE accounts ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
