-- The OpenID Connect provider's state, in the database so that a flow
-- begun on one replica finishes on another. Times are written by the
-- application in UTC. Lists are JSON arrays of strings.

-- +migrate Up
-- An authorization request waiting for its user, then for its code to be
-- redeemed. Only the code's SHA-256 is kept; code_used_at makes it single
-- use, and replayed_at marks a code presented again (its tokens are revoked).
CREATE TABLE oidc_requests (
    id                    TEXT PRIMARY KEY,
    client_id             TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    redirect_uri          TEXT NOT NULL,
    state                 TEXT NOT NULL,
    nonce                 TEXT NOT NULL,
    scopes                TEXT NOT NULL,
    response_type         TEXT NOT NULL,
    response_mode         TEXT NOT NULL,
    prompt                TEXT NOT NULL,
    max_age               INTEGER,
    login_hint            TEXT NOT NULL,
    code_challenge        TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    expires_at            TIMESTAMP NOT NULL,
    user_id               INTEGER REFERENCES users (id) ON DELETE CASCADE,
    session_id            TEXT,
    auth_time             TIMESTAMP,
    amr                   TEXT,
    code_hash             TEXT UNIQUE,
    code_expires_at       TIMESTAMP,
    code_used_at          TIMESTAMP,
    replayed_at           TIMESTAMP
);
CREATE INDEX oidc_requests_expires_at_idx ON oidc_requests (expires_at);

-- One row per access token issued to a client (id = its jti), with the
-- refresh token issued with it, if any (its SHA-256). A refresh rotates:
-- the old row is marked used and a new row of the same family inserted; a
-- used refresh token presented again revokes the whole family. user_id is
-- NULL for a client-credentials token. token_version is the user's at
-- issue: a password change or a logout everywhere ends the grant.
CREATE TABLE oidc_tokens (
    id                 TEXT PRIMARY KEY,
    family_id          TEXT NOT NULL,
    client_id          TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    user_id            INTEGER REFERENCES users (id) ON DELETE CASCADE,
    request_id         TEXT,
    session_id         TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    amr                TEXT NOT NULL,
    auth_time          TIMESTAMP,
    token_version      INTEGER NOT NULL,
    expires_at         TIMESTAMP NOT NULL,
    refresh_hash       TEXT UNIQUE,
    refresh_expires_at TIMESTAMP,
    refresh_used_at    TIMESTAMP,
    revoked_at         TIMESTAMP,
    created_at         TIMESTAMP NOT NULL,
    prune_after        TIMESTAMP NOT NULL
);
CREATE INDEX oidc_tokens_family_idx ON oidc_tokens (family_id);
CREATE INDEX oidc_tokens_request_idx ON oidc_tokens (request_id);
CREATE INDEX oidc_tokens_user_client_idx ON oidc_tokens (user_id, client_id);
CREATE INDEX oidc_tokens_prune_after_idx ON oidc_tokens (prune_after);

-- A user's remembered consent to a client, for the scopes it lists.
CREATE TABLE oidc_consents (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    scopes     TEXT NOT NULL,
    granted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- The algorithm of the client's ID tokens (RS256 unless it asked for
-- EdDSA or ES256 at registration).
ALTER TABLE oidc_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'RS256';

-- +migrate Down
ALTER TABLE oidc_clients DROP COLUMN id_token_alg;
DROP TABLE oidc_consents;
DROP TABLE oidc_tokens;
DROP TABLE oidc_requests;
