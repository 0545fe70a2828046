-- Issue 26: passkeys (WebAuthn). A user's credentials, and the challenges of
-- ceremonies in progress. Challenges live in the database, not in memory, so
-- that a ceremony begun on one replica finishes on another.

-- +migrate Up
-- One row per registered credential. credential_id is the raw credential id
-- (unique across all users); public_key the COSE key as the authenticator
-- sent it; transports a JSON array of strings.
CREATE TABLE webauthn_credentials (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   BLOB       NOT NULL UNIQUE,
    public_key      BLOB       NOT NULL,
    sign_count      BIGINT      NOT NULL DEFAULT 0,
    transports      TEXT        NOT NULL DEFAULT '[]',
    aaguid          BLOB,
    backup_eligible BOOLEAN     NOT NULL DEFAULT FALSE,
    backup_state    BOOLEAN     NOT NULL DEFAULT FALSE,
    user_verified   BOOLEAN     NOT NULL DEFAULT FALSE,
    name            TEXT        NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    last_used_at    TIMESTAMP
);
CREATE INDEX webauthn_credentials_user_idx ON webauthn_credentials (user_id);

-- A ceremony in progress: the SHA-256 of its random challenge, what it is for
-- ('register' or 'login'), the user (NULL for a discoverable-credential
-- login), the library's session data as JSON; single use, 5 minutes.
CREATE TABLE webauthn_challenges (
    challenge_hash TEXT        PRIMARY KEY,
    purpose        TEXT        NOT NULL,
    user_id        INTEGER REFERENCES users (id) ON DELETE CASCADE,
    session_data   TEXT        NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at_idx ON webauthn_challenges (expires_at);

-- +migrate Down
DROP TABLE webauthn_challenges;
DROP TABLE webauthn_credentials;
