-- History paging at any depth (issue 17). Every ledger row carries its ordinal
-- in its user's history (seq: 1 = oldest, dense, no gaps) and the balance row
-- keeps the count, both written in the transaction that writes the row. A page
-- at any skip is then one range of the (user_id, seq) index, and total_count is
-- read from one row instead of counting the history.

-- +migrate Up
ALTER TABLE user_credits ADD COLUMN tx_count BIGINT NOT NULL DEFAULT 0 CHECK (tx_count >= 0);
ALTER TABLE credit_transactions ADD COLUMN seq BIGINT;
UPDATE credit_transactions t SET seq = r.seq
    FROM (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id) AS seq FROM credit_transactions) r
    WHERE r.id = t.id;
UPDATE user_credits c SET tx_count = n.count
    FROM (SELECT user_id, COUNT(*) AS count FROM credit_transactions GROUP BY user_id) n
    WHERE n.user_id = c.user_id;
ALTER TABLE credit_transactions ALTER COLUMN seq SET NOT NULL;
ALTER TABLE credit_transactions ADD CONSTRAINT credit_transactions_seq_check CHECK (seq > 0);
-- Replaces (user_id, id): within one user, seq and id grow together (rows of
-- one user are written one at a time, under the balance row's lock).
CREATE UNIQUE INDEX credit_transactions_user_seq_key ON credit_transactions (user_id, seq);
DROP INDEX credit_transactions_user_id_idx;

-- +migrate Down
CREATE INDEX credit_transactions_user_id_idx ON credit_transactions (user_id, id);
DROP INDEX credit_transactions_user_seq_key;
ALTER TABLE credit_transactions DROP COLUMN seq;
ALTER TABLE user_credits DROP COLUMN tx_count;
