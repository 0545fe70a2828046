-- History paging at any depth (issue 17). Every ledger row carries its ordinal
-- in its user's history (seq: 1 = oldest, dense, no gaps) and the balance row
-- keeps the count, both written in the transaction that writes the row. A page
-- at any skip is then one range of the (user_id, seq) index, and total_count is
-- read from one row instead of counting the history.

-- +migrate Up
ALTER TABLE user_credits ADD COLUMN tx_count INTEGER NOT NULL DEFAULT 0 CHECK (tx_count >= 0);
-- SQLite cannot add NOT NULL without a default; 0 never survives the backfill
-- below, and every insert names seq.
ALTER TABLE credit_transactions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE credit_transactions SET seq = r.seq
    FROM (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id) AS seq FROM credit_transactions) r
    WHERE r.id = credit_transactions.id;
UPDATE user_credits SET tx_count = n.count
    FROM (SELECT user_id, COUNT(*) AS count FROM credit_transactions GROUP BY user_id) n
    WHERE n.user_id = user_credits.user_id;
CREATE UNIQUE INDEX credit_transactions_user_seq_key ON credit_transactions (user_id, seq);
DROP INDEX credit_transactions_user_id_idx;

-- +migrate Down
CREATE INDEX credit_transactions_user_id_idx ON credit_transactions (user_id, id);
DROP INDEX credit_transactions_user_seq_key;
ALTER TABLE credit_transactions DROP COLUMN seq;
ALTER TABLE user_credits DROP COLUMN tx_count;
