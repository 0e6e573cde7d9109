-- Product modules bring projections of their own (domain/module): each has a checkpoint row
-- per tenant named "<module>.<projection>", beside Tenantry's 'auth' and 'usage'. The names
-- are the projector's (server-declared, never a caller's), shaped like event type words so
-- that they stay printable and short in logs, metrics and advisory lock keys.

-- +goose Up
ALTER TABLE tenantry.projections DROP CONSTRAINT projections_projection_check;
ALTER TABLE tenantry.projections ADD CONSTRAINT projections_projection_check
    CHECK (projection ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$' AND octet_length(projection) <= 63);
