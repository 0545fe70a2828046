-- History paging at any depth (issue 17). Every ledger row carries its ordinal
-- in its user's history (seq: 1 = oldest, dense, no gaps), given by the insert
-- itself (the user's highest seq + 1, under the balance row's lock). A page at
-- any skip is then one range of the (user_id, seq) index, and total_count is
-- the user's highest seq: one index probe instead of counting the history.
--
-- Existing rows are numbered by copying the ledger into a new table and
-- swapping it in, not by an UPDATE: at 10M rows a copy and three index builds
-- take about a minute, where updating every row in place (a second version of
-- each row, every index updated) takes many times longer. The ledger is locked
-- against writes first (reads go on), so that no row written meanwhile is left
-- behind in the old table: ledger writes wait for the copy. The copy keeps the
-- columns, defaults, CHECKs, keys, indexes, the id sequence, the foreign keys
-- that point at the ledger and the grants on it (not comments, policies or
-- triggers: the ledger has none).

-- +migrate Up
LOCK TABLE credit_transactions IN EXCLUSIVE MODE;
-- Foreign keys of other tables that point at the ledger (credit_holds'
-- transaction_id, and any later one) are set aside and put back on the new table.
CREATE TEMPORARY TABLE ledger_references ON COMMIT DROP AS
    SELECT conrelid::regclass::text AS referencing, conname, pg_get_constraintdef(oid) AS definition
    FROM pg_constraint WHERE contype = 'f' AND confrelid = 'credit_transactions'::regclass;
-- +migrate StatementBegin
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM ledger_references LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', r.referencing, r.conname);
    END LOOP;
END $$;
-- +migrate StatementEnd
CREATE TABLE credit_transactions_numbered (LIKE credit_transactions INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE credit_transactions_numbered ADD COLUMN seq BIGINT NOT NULL
    CONSTRAINT credit_transactions_seq_check CHECK (seq > 0);
INSERT INTO credit_transactions_numbered
    SELECT t.*, row_number() OVER (PARTITION BY t.user_id ORDER BY t.id) FROM credit_transactions t;
ALTER SEQUENCE credit_transactions_id_seq OWNED BY credit_transactions_numbered.id;
-- The grants on the ledger (an application role's, say) go to the new table.
-- +migrate StatementBegin
DO $$
DECLARE g record;
BEGIN
    FOR g IN SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee,
                    a.privilege_type, a.is_grantable
             FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = 'credit_transactions'::regclass LOOP
        EXECUTE format('GRANT %s ON credit_transactions_numbered TO %s%s', g.privilege_type, g.grantee,
                       CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END $$;
-- +migrate StatementEnd
DROP TABLE credit_transactions;
ALTER TABLE credit_transactions_numbered RENAME TO credit_transactions;
ALTER TABLE credit_transactions ADD CONSTRAINT credit_transactions_pkey PRIMARY KEY (id);
ALTER TABLE credit_transactions ADD CONSTRAINT credit_transactions_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX credit_transactions_reference_key
    ON credit_transactions (user_id, transaction_type, reference_id) WHERE reference_id IS NOT NULL;
-- Replaces (user_id, id): within one user, seq and id grow together (rows of
-- one user are written one at a time, under the balance row's lock).
CREATE UNIQUE INDEX credit_transactions_user_seq_key ON credit_transactions (user_id, seq);
-- +migrate StatementBegin
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM ledger_references LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', r.referencing, r.conname, r.definition);
    END LOOP;
END $$;
-- +migrate StatementEnd
-- During a rolling upgrade the previous release still inserts ledger rows
-- without seq; number them as this release does (under the same balance-row
-- lock). Later releases number their own one-statement uses and adds with
-- it too: keep it (the trigger's query sees rows committed after the
-- statement began, which the statement's own subquery would not).
-- +migrate StatementBegin
CREATE FUNCTION credit_transactions_number() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.seq := (SELECT COALESCE(MAX(seq), 0) + 1 FROM credit_transactions WHERE user_id = NEW.user_id);
    RETURN NEW;
END $$;
-- +migrate StatementEnd
CREATE TRIGGER credit_transactions_number BEFORE INSERT ON credit_transactions
    FOR EACH ROW WHEN (NEW.seq IS NULL) EXECUTE FUNCTION credit_transactions_number();
ANALYZE credit_transactions;

-- +migrate Down
DROP TRIGGER credit_transactions_number ON credit_transactions;
DROP FUNCTION credit_transactions_number();
CREATE INDEX credit_transactions_user_id_idx ON credit_transactions (user_id, id);
DROP INDEX credit_transactions_user_seq_key;
ALTER TABLE credit_transactions DROP COLUMN seq;
