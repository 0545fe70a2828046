-- A hold's reference_id is an idempotency key per account and per placer:
-- the holds an admin (a metering service) places on a user's account and the
-- holds the user places on their own have separate namespaces. With one
-- namespace a user who predicts a service's reference (a job id) could place
-- a hold under it first and be handed the service's repeat (review finding).

-- +migrate Up
DROP INDEX credit_holds_reference_key;
CREATE UNIQUE INDEX credit_holds_reference_key
    ON credit_holds (user_id, placed_by_admin, reference_id) WHERE reference_id IS NOT NULL;

-- +migrate Down
-- Fails while a user and an admin share a reference on one account.
DROP INDEX credit_holds_reference_key;
CREATE UNIQUE INDEX credit_holds_reference_key ON credit_holds (user_id, reference_id) WHERE reference_id IS NOT NULL;
