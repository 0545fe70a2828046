-- History paging at any depth (issue 17). Every ledger row carries its ordinal
-- in its user's history (seq: 1 = oldest, dense, no gaps), given by the insert
-- itself (the user's highest seq + 1; SQLite serializes writes). A page at any
-- skip is then one range of the (user_id, seq) index, and total_count is the
-- user's highest seq: one index probe instead of counting the history.

-- +migrate Up
-- Null only for a moment: existing rows are numbered below, this release's
-- inserts name seq, and the previous release's (a rolling upgrade) are
-- numbered by the trigger.
ALTER TABLE credit_transactions ADD COLUMN seq INTEGER CHECK (seq > 0);
UPDATE credit_transactions SET seq = r.seq
    FROM (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY id) AS seq FROM credit_transactions) r
    WHERE r.id = credit_transactions.id;
CREATE UNIQUE INDEX credit_transactions_user_seq_key ON credit_transactions (user_id, seq);
DROP INDEX credit_transactions_user_id_idx;
-- +migrate StatementBegin
CREATE TRIGGER credit_transactions_number AFTER INSERT ON credit_transactions WHEN NEW.seq IS NULL
BEGIN
    UPDATE credit_transactions
    SET seq = (SELECT COALESCE(MAX(seq), 0) + 1 FROM credit_transactions WHERE user_id = NEW.user_id)
    WHERE id = NEW.id;
END;
-- +migrate StatementEnd

-- +migrate Down
DROP TRIGGER credit_transactions_number;
CREATE INDEX credit_transactions_user_id_idx ON credit_transactions (user_id, id);
DROP INDEX credit_transactions_user_seq_key;
ALTER TABLE credit_transactions DROP COLUMN seq;
