-- Upstream identity providers (Google, Microsoft Entra, GitHub, any OpenID
-- Connect provider): the identities linked to each account, the sign-in
-- flows in progress and the one-time codes an app exchanges. Flows and codes
-- live in the database, not in memory, so that a flow begun on one replica
-- finishes on another.

-- +migrate Up
-- One row per identity linked to an account: the provider's name (as
-- configured) and its stable subject (the ID token's sub; GitHub's numeric
-- user id); the email the provider last asserted, whether it said the email
-- was verified; when it was linked and last used.
CREATE TABLE user_identities (
    id             BIGSERIAL PRIMARY KEY,
    user_id        BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT        NOT NULL,
    subject        TEXT        NOT NULL,
    email          TEXT        NOT NULL DEFAULT '',
    email_verified BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at     TIMESTAMPTZ NOT NULL,
    last_used_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (provider, subject)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

-- A flow in progress, from its start to the provider's callback: the
-- SHA-256 of its state; the nonce and the PKCE verifier sent upstream; where
-- the browser goes afterwards; the PKCE challenge of the app that will
-- exchange the result (sign-in) or the account being linked (link). Single
-- use, 10 minutes.
CREATE TABLE federation_flows (
    state_hash     TEXT        PRIMARY KEY,
    provider       TEXT        NOT NULL,
    nonce          TEXT        NOT NULL,
    pkce_verifier  TEXT        NOT NULL,
    redirect_to    TEXT        NOT NULL,
    code_challenge TEXT        NOT NULL DEFAULT '',
    link_user_id   BIGINT      REFERENCES users (id) ON DELETE CASCADE,
    expires_at     TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX federation_flows_expires_at_idx ON federation_flows (expires_at);

-- A verified upstream sign-in (or link) waiting for its app: the SHA-256
-- of the one-time code the callback gave the browser, the app's PKCE
-- challenge, the account a link is for (which alone may redeem it), and
-- what the provider asserted (JSON). Single use, 2 minutes.
CREATE TABLE federation_codes (
    code_hash      TEXT        PRIMARY KEY,
    code_challenge TEXT        NOT NULL,
    link_user_id   BIGINT      REFERENCES users (id) ON DELETE CASCADE,
    identity       TEXT        NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX federation_codes_expires_at_idx ON federation_codes (expires_at);

-- The first factor of a sign-in waiting for its second ('pwd', or 'fed'
-- after an upstream provider): the finished sign-in's amr starts with it.
ALTER TABLE mfa_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd';

-- +migrate Down
ALTER TABLE mfa_challenges DROP COLUMN first_factor;
DROP TABLE federation_codes;
DROP TABLE federation_flows;
DROP TABLE user_identities;
