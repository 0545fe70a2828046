-- Credit holds (issue 16); see the PostgreSQL migration for the design.
-- SQLite cannot add a table constraint to an existing table, so the
-- available >= 0 rule rides on the new column's CHECK (SQLite lets a column
-- constraint name other columns of the row).

-- +migrate Up
ALTER TABLE user_credits ADD COLUMN held INTEGER NOT NULL DEFAULT 0
    CONSTRAINT user_credits_held_check CHECK (held >= 0 AND balance - held >= 0);

CREATE TABLE credit_holds (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount          INTEGER   NOT NULL CHECK (amount > 0),
    status          TEXT      NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'captured', 'voided', 'expired')),
    captured_amount INTEGER,
    transaction_id  INTEGER,
    reference_id    TEXT,
    description     TEXT,
    created_at      TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL CHECK (expires_at > created_at),
    resolved_at     TIMESTAMP,
    CONSTRAINT credit_holds_resolved_check CHECK ((status = 'pending') = (resolved_at IS NULL)),
    CONSTRAINT credit_holds_captured_check CHECK (
        (status = 'captured') = (captured_amount IS NOT NULL)
        AND (captured_amount IS NULL OR (captured_amount > 0 AND captured_amount <= amount)))
);
CREATE UNIQUE INDEX credit_holds_reference_key ON credit_holds (user_id, reference_id) WHERE reference_id IS NOT NULL;
CREATE INDEX credit_holds_user_id_idx ON credit_holds (user_id, id);
CREATE INDEX credit_holds_due_idx ON credit_holds (expires_at, id) WHERE status = 'pending';

-- +migrate Down
DROP TABLE credit_holds;
ALTER TABLE user_credits DROP COLUMN held;
