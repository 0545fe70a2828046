-- History paging at any depth (issue 17). Every ledger row carries its ordinal
-- in its user's history (seq: 1 = oldest, dense, no gaps), given by the insert
-- itself (the user's highest seq + 1; SQLite serializes writes). A page at any
-- skip is then one range of the (user_id, seq) index, and total_count is the
-- user's highest seq: one index probe instead of counting the history.

-- +migrate Up
-- SQLite cannot add NOT NULL without a default; 0 never survives the backfill
-- below, and every insert names seq.
ALTER TABLE credit_transactions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE credit_transactions SET seq = r.seq
    FROM (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id) AS seq FROM credit_transactions) r
    WHERE r.id = credit_transactions.id;
CREATE UNIQUE INDEX credit_transactions_user_seq_key ON credit_transactions (user_id, seq);
DROP INDEX credit_transactions_user_id_idx;

-- +migrate Down
CREATE INDEX credit_transactions_user_id_idx ON credit_transactions (user_id, id);
DROP INDEX credit_transactions_user_seq_key;
ALTER TABLE credit_transactions DROP COLUMN seq;
