-- All times are written by the application in UTC (never now() in SQL), so
-- that both dialects behave alike and tests can move the clock.

-- +migrate Up
CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT        NOT NULL,
    email         TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    is_admin      BOOLEAN     NOT NULL DEFAULT FALSE,
    token_version BIGINT      NOT NULL DEFAULT 1,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE password_reset_tokens (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT        NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    used       BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX password_reset_tokens_user_id_idx ON password_reset_tokens (user_id, created_at);
CREATE INDEX password_reset_tokens_expires_at_idx ON password_reset_tokens (expires_at);

CREATE TABLE revoked_tokens (
    jti        TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at);

-- Failed logins per lowercased submitted username, in fixed one-hour windows.
CREATE TABLE login_failures (
    username     TEXT PRIMARY KEY,
    window_start TIMESTAMPTZ NOT NULL,
    failures     INTEGER     NOT NULL
);

CREATE TABLE user_credits (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    balance    BIGINT      NOT NULL DEFAULT 0 CHECK (balance >= 0),
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE credit_transactions (
    id               BIGSERIAL PRIMARY KEY,
    user_id          BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount           BIGINT      NOT NULL CHECK (amount > 0),
    transaction_type TEXT        NOT NULL CHECK (transaction_type IN ('credit_added', 'credit_used')),
    reference_id     TEXT,
    description      TEXT,
    balance_after    BIGINT      NOT NULL CHECK (balance_after >= 0),
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX credit_transactions_reference_key
    ON credit_transactions (user_id, transaction_type, reference_id) WHERE reference_id IS NOT NULL;
CREATE INDEX credit_transactions_user_id_idx ON credit_transactions (user_id, id);

-- Outbound email, written in the transaction of the change that causes it.
-- next_attempt_at doubles as the claim lease of the worker that is sending it.
CREATE TABLE email_outbox (
    id              BIGSERIAL PRIMARY KEY,
    kind            TEXT        NOT NULL,
    recipient       TEXT        NOT NULL,
    data            TEXT        NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX email_outbox_due_idx ON email_outbox (next_attempt_at) WHERE status = 'pending';

-- +migrate Down
DROP TABLE email_outbox;
DROP TABLE credit_transactions;
DROP TABLE user_credits;
DROP TABLE login_failures;
DROP TABLE revoked_tokens;
DROP TABLE password_reset_tokens;
DROP TABLE users;
