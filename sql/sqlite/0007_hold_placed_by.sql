-- A hold an admin (a metering service) placed on another user's account is
-- resolved by admins only: the user whose credits it holds must not be able
-- to capture it for a cent or void it and spend the money (review finding).

-- +migrate Up
ALTER TABLE credit_holds ADD COLUMN placed_by_admin BOOLEAN NOT NULL DEFAULT FALSE;

-- +migrate Down
ALTER TABLE credit_holds DROP COLUMN placed_by_admin;
