-- Remembered idempotent answers are sealed, and the Idempotency-Key is never stored.
--
-- tenantry.idempotency_keys kept the client's key and the whole answer in plaintext for 24
-- hours, and answers carry secrets: a new API key, an invitation token, the signup key. A row
-- is now found by key_hash, a SHA-256 of the tenant, the caller and the key; the request
-- fingerprint is an HMAC under a key derived from the Idempotency-Key; and the content type
-- and body are one AES-256-GCM ciphertext (sealed) under another key derived from it, with
-- its random nonce beside it (see http/idemseal.go). The caller (principal: an API key id,
-- "operator" or a client address) is part of key_hash and no longer a column.
--
-- The old rows are deleted rather than converted: they cannot be sealed without the keys
-- their clients hold, and they expire within 24 hours anyway (a retry of such a request
-- within that window runs again, as after any expiry).

-- +goose Up
TRUNCATE tenantry.idempotency_keys;
ALTER TABLE tenantry.idempotency_keys
    DROP CONSTRAINT idempotency_keys_pkey,
    DROP COLUMN principal,
    DROP COLUMN key,
    DROP COLUMN content_type,
    DROP COLUMN body,
    ADD COLUMN key_hash bytea NOT NULL CHECK (length(key_hash) = 32),
    ADD COLUMN nonce    bytea,
    ADD COLUMN sealed   bytea,
    ADD PRIMARY KEY (tenant_id, key_hash),
    ADD CONSTRAINT idempotency_keys_answer_sealed CHECK ((status IS NULL) = (sealed IS NULL) AND (sealed IS NULL) = (nonce IS NULL));
COMMENT ON COLUMN tenantry.idempotency_keys.key_hash IS 'SHA-256 of tenant, caller and Idempotency-Key; the key itself is never stored';
COMMENT ON COLUMN tenantry.idempotency_keys.request_hash IS 'HMAC-SHA256 of method, path and body under a key derived from the Idempotency-Key';
COMMENT ON COLUMN tenantry.idempotency_keys.sealed IS 'AES-256-GCM of the answer''s content type and body under a key derived from the Idempotency-Key';
GRANT SELECT, INSERT, UPDATE, DELETE ON tenantry.idempotency_keys TO tenantry_app;

-- +goose Down
TRUNCATE tenantry.idempotency_keys;
ALTER TABLE tenantry.idempotency_keys
    DROP CONSTRAINT idempotency_keys_pkey,
    DROP CONSTRAINT idempotency_keys_answer_sealed,
    DROP COLUMN key_hash,
    DROP COLUMN nonce,
    DROP COLUMN sealed,
    ADD COLUMN principal    text NOT NULL,
    ADD COLUMN key          text NOT NULL,
    ADD COLUMN content_type text,
    ADD COLUMN body         bytea,
    ADD PRIMARY KEY (tenant_id, principal, key);
