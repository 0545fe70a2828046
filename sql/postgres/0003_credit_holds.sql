-- Credit holds (issue 16): a two-phase debit. A hold reserves part of the
-- balance; it is captured (one credit_used transaction for what it cost),
-- voided, or expired, exactly once. user_credits.held is the sum of the
-- pending holds, kept beside the balance in the same row, so that
-- "available = balance - held >= 0" is a CHECK the database enforces and
-- holds and uses on one account serialize on that row's lock.
-- transaction_id names the capture's credit_transactions row; it carries no
-- foreign key so that the ledger table can be rebuilt (0005 copies it into a
-- new table); both rows go only with their user (ON DELETE CASCADE).

-- +migrate Up
ALTER TABLE user_credits ADD COLUMN held BIGINT NOT NULL DEFAULT 0;
ALTER TABLE user_credits ADD CONSTRAINT user_credits_held_check CHECK (held >= 0 AND balance - held >= 0);

CREATE TABLE credit_holds (
    id              BIGSERIAL PRIMARY KEY,
    user_id         BIGINT      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    amount          BIGINT      NOT NULL CHECK (amount > 0),
    status          TEXT        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'captured', 'voided', 'expired')),
    captured_amount BIGINT,
    transaction_id  BIGINT,
    reference_id    TEXT,
    description     TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL CHECK (expires_at > created_at),
    resolved_at     TIMESTAMPTZ,
    -- Resolved exactly when not pending; a captured amount exactly when
    -- captured, and never more than was held.
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
ALTER TABLE user_credits DROP CONSTRAINT user_credits_held_check;
ALTER TABLE user_credits DROP COLUMN held;
