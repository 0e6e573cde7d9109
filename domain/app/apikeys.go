package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
)

// APIKeys mints and revokes a tenant's API keys (events of its membership stream).
type APIKeys struct {
	Events EventStore
	Now    func() time.Time
}

// CreateKeyInput mints key KeyID (chosen by the caller, so a retried request meets the
// first key instead of minting a second) for member Member of Tenant. A zero Role gives
// the key its member's role.
type CreateKeyInput struct {
	Tenant uuid.UUID
	KeyID  uuid.UUID
	Member uuid.UUID
	Role   domain.Role
	Name   string
	Meta   domain.Metadata
}

// Create mints a key bound to a member; the secret is in the answer only.
func (u APIKeys) Create(ctx context.Context, in CreateKeyInput) (NewKey, int64, error) {
	secret, prefix, sum, err := mintKey(in.Tenant, in.KeyID)
	if err != nil {
		return NewKey{}, 0, err
	}
	ch, err := changeMembership(ctx, u.Events, in.Tenant, in.Meta, false, func(m *membership.Membership) ([]domain.Event, error) {
		role := in.Role
		if role.IsZero() {
			mem, found := m.Member(in.Member)
			if !found {
				return nil, domain.NotFound("member not found")
			}
			role = mem.Role
		}
		return m.CreateAPIKey(in.KeyID, in.Member, role, in.Name, prefix, sum, u.Now().UTC())
	})
	if err != nil {
		return NewKey{}, 0, err
	}
	k, _ := ch.Membership.APIKey(in.KeyID)
	return NewKey{ID: in.KeyID, Key: secret, Prefix: prefix, Role: k.Role.String(), MemberID: in.Member, Name: k.Name}, ch.Seq, nil
}

// Revoke revokes a key for good.
func (u APIKeys) Revoke(ctx context.Context, in Target) (int64, error) {
	ch, err := changeMembership(ctx, u.Events, in.Tenant, in.Meta, false, func(m *membership.Membership) ([]domain.Event, error) {
		return m.RevokeAPIKey(in.ID, u.Now().UTC())
	})
	return ch.Seq, err
}
