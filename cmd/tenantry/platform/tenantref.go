package platform

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/eventstore"
)

// Every command that names a tenant takes --tenant as a slug or an id, read by the rule the
// API uses (eventstore.ParseTenantRef) and resolved through the tenant directory
// (eventstore.FindTenant). A name that is neither, or that no tenant has, is a usage error
// (exit 2).

// checkTenantRef refuses, before any database is opened, a --tenant that is missing or is
// neither a tenant id nor a slug.
func checkTenantRef(ref string) error {
	if ref == "" {
		return usageErr(errors.New("--tenant is required (a slug or an id)"))
	}
	if _, _, err := eventstore.ParseTenantRef(ref); err != nil {
		return usageErr(fmt.Errorf("--tenant: %w", err))
	}
	return nil
}

// findTenant resolves --tenant through the directory.
func findTenant(ctx context.Context, store *eventstore.Store, ref string) (eventstore.TenantEntry, error) {
	if err := checkTenantRef(ref); err != nil {
		return eventstore.TenantEntry{}, err
	}
	t, err := store.FindTenant(ctx, ref)
	if errors.Is(err, eventstore.ErrTenantNotFound) {
		return t, usageErr(fmt.Errorf("--tenant: %w", err))
	}
	return t, err
}

// resolveTenant is findTenant for a command that needs only the id and must work on a tenant
// the directory may not list (a rebuild repairs a tenant whatever its read models hold): an
// id is taken as it is (eventstore.ResolveTenant), a slug is looked up.
func resolveTenant(ctx context.Context, store *eventstore.Store, ref string) (uuid.UUID, error) {
	if err := checkTenantRef(ref); err != nil {
		return uuid.Nil, err
	}
	id, err := store.ResolveTenant(ctx, ref)
	if errors.Is(err, eventstore.ErrTenantNotFound) {
		return id, usageErr(fmt.Errorf("--tenant: %w", err))
	}
	return id, err
}
