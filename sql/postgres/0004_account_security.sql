-- Issue 14: sessions, verified email and the audit trail. Times are written
-- by the application in UTC, as in 0001.

-- +migrate Up
-- A login starts a session; its access tokens carry its id as the sid
-- claim. The one authentication query checks that the row exists and has
-- not expired; ending a session deletes its row.
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    user_id      BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   TIMESTAMPTZ NOT NULL,
    refreshed_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    client_ip    TEXT        NOT NULL DEFAULT '',
    user_agent   TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- NULL until the address is confirmed.
ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMPTZ;

-- Single-use email verification links (SHA-256 of the token), for the
-- address in email: the registered one, or a new one awaiting confirmation.
CREATE TABLE email_verification_tokens (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT        NOT NULL,
    token_hash TEXT        NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    used       BOOLEAN     NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX email_verification_tokens_user_id_idx ON email_verification_tokens (user_id, created_at);
CREATE INDEX email_verification_tokens_expires_at_idx ON email_verification_tokens (expires_at);

-- Security events, written in the transaction of the change they record.
-- No foreign keys: an event outlives its actor and target.
CREATE TABLE audit_events (
    id         BIGSERIAL PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    event      TEXT        NOT NULL,
    actor_id   BIGINT,
    target_id  BIGINT,
    client_ip  TEXT        NOT NULL DEFAULT '',
    user_agent TEXT        NOT NULL DEFAULT '',
    request_id TEXT        NOT NULL DEFAULT '',
    details    TEXT        NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_created_at_idx ON audit_events (created_at);
CREATE INDEX audit_events_target_id_idx ON audit_events (target_id, id);
CREATE INDEX audit_events_actor_id_idx ON audit_events (actor_id, id);
CREATE INDEX audit_events_event_idx ON audit_events (event, id);

-- +migrate Down
DROP TABLE audit_events;
DROP TABLE email_verification_tokens;
ALTER TABLE users DROP COLUMN email_verified_at;
DROP TABLE sessions;
