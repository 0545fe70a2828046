-- Issue 15: two-factor login (TOTP, RFC 6238) with one-time recovery codes.
-- The TOTP secret is stored sealed (AES-256-GCM under
-- auth.key_encryption_key, bound to the user id), never in the clear.

-- +migrate Up
-- One factor per user. confirmed_at is NULL while the enrolment awaits its
-- first code; last_step is the newest 30-second step whose code was
-- accepted: a code of that step or an older one is a replay.
CREATE TABLE mfa_totp (
    user_id      BIGINT      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       BYTEA      NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_step    BIGINT      NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL
);

-- Recovery codes: the SHA-256 of each, single use.
CREATE TABLE mfa_recovery_codes (
    id        BIGSERIAL PRIMARY KEY,
    user_id   BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT        NOT NULL,
    used_at   TIMESTAMPTZ
);
CREATE INDEX mfa_recovery_codes_user_idx ON mfa_recovery_codes (user_id, code_hash);

-- The second step of a login: the SHA-256 of its mfa_token, 5 minutes,
-- deleted when used or after 5 wrong codes.
CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failures   INTEGER     NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id);
CREATE INDEX mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);

-- +migrate Down
DROP TABLE mfa_challenges;
DROP TABLE mfa_recovery_codes;
DROP TABLE mfa_totp;
