-- API keys (ask_…): long-lived secrets for scripts and servers. Only the
-- SHA-256 of a key is kept, with its first 8 characters for listings.

-- +migrate Up
-- scopes is a JSON array of strings. token_version is the user's when the
-- key was made: a key whose user's version moved on (logout everywhere,
-- password change) is no longer accepted. A revoked key keeps its row
-- (revoked_at set) for the audit trail; lookups skip it.
CREATE TABLE api_keys (
    id            TEXT        PRIMARY KEY,
    user_id       BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT        NOT NULL,
    shown         TEXT        NOT NULL,
    key_hash      TEXT        NOT NULL UNIQUE,
    scopes        TEXT        NOT NULL,
    token_version BIGINT      NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ,
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, created_at);

-- +migrate Down
DROP TABLE api_keys;
