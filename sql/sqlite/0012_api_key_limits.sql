-- An API key's own limits: requests per minute, and how much it may spend
-- (in cents) per day, per month or in total. api_key_spend counts what a key
-- spent in each period; api_key_charges remembers each charge's reference so
-- that a repeated reference counts once.

-- +migrate Up
ALTER TABLE api_keys ADD COLUMN rate_limit_per_minute INTEGER;
ALTER TABLE api_keys ADD COLUMN spend_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN spend_period TEXT;

CREATE TABLE api_key_spend (
    key_id       TEXT   NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    period_start TIMESTAMP NOT NULL,
    spent        BIGINT NOT NULL CHECK (spent >= 0),
    PRIMARY KEY (key_id, period_start)
);

CREATE TABLE api_key_charges (
    key_id       TEXT   NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    reference_id TEXT   NOT NULL,
    amount       BIGINT NOT NULL,
    period_start TIMESTAMP NOT NULL,
    PRIMARY KEY (key_id, reference_id)
);

-- +migrate Down
DROP TABLE api_key_charges;
DROP TABLE api_key_spend;
ALTER TABLE api_keys DROP COLUMN spend_period;
ALTER TABLE api_keys DROP COLUMN spend_limit;
ALTER TABLE api_keys DROP COLUMN rate_limit_per_minute;
