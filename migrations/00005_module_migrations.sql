-- Product modules' tenant migrations (issue 18) go through the same table and the same
-- functions as Tenantry's own: `version` stays the one global order in which every tenant
-- schema applies them (tenant_schemas.version counts it), and each row also names the
-- module that shipped it and the file's own number within that module. Tenantry's own
-- files are module 'tenantry', their numbers unchanged.

-- +goose Up
ALTER TABLE tenantry.tenant_migrations
    ADD COLUMN module         text    NOT NULL DEFAULT 'tenantry' CHECK (module ~ '^[a-z][a-z0-9_]{1,30}$'),
    ADD COLUMN module_version integer CHECK (module_version > 0);

UPDATE tenantry.tenant_migrations SET module_version = version;

ALTER TABLE tenantry.tenant_migrations
    ALTER COLUMN module_version SET NOT NULL,
    ADD CONSTRAINT tenant_migrations_module_version_key UNIQUE (module, module_version);
