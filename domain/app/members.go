package app

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
)

// Members manages who belongs to a tenant: invitations, their acceptance, roles and
// removals. Every method changes the tenant's membership stream through Command.
type Members struct {
	Events EventStore
	Now    func() time.Time
	// Plans gives each plan version's seat limit (PlanCatalog.Limits).
	Plans PlanLimits
	// InvitationTTL is how long an invitation can be accepted.
	InvitationTTL time.Duration
}

// PlanLimits answers a plan version's limits from memory (PlanCatalog); a version it does
// not know answers the zero, invalid Limits.
type PlanLimits interface {
	Limits(plan domain.PlanName, version int) domain.Limits
}

// DefaultLimits are the default catalog's limits (for tests and tools that run without a
// catalog): version 1 of free, pro and enterprise.
type DefaultLimits domain.Plans

// Limits implements PlanLimits.
func (d DefaultLimits) Limits(plan domain.PlanName, version int) domain.Limits {
	if version > 1 {
		return domain.Limits{}
	}
	return domain.Plans(d).Limits(plan)
}

// MembershipChange is where a membership command's events landed (Seq 0: none were
// written) and the state it decided on.
type MembershipChange struct {
	Membership *membership.Membership
	Seq        int64
}

// changeMembership runs decide against the tenant's membership stream.
func changeMembership(ctx context.Context, store EventStore, tenant uuid.UUID, meta domain.Metadata, applied bool,
	decide func(*membership.Membership) ([]domain.Event, error),
) (MembershipChange, error) {
	cmd := Command[*membership.Membership]{Store: store, Tenant: tenant, Stream: membership.StreamID, New: func() *membership.Membership { return &membership.Membership{} },
		Metadata: meta, Applied: applied}
	m, res, err := cmd.Run(ctx, decide)
	if err != nil {
		return MembershipChange{}, err
	}
	return MembershipChange{Membership: m, Seq: res.LastSeq}, nil
}

// InviteInput offers a seat of Tenant (on Plan) to Email with Role, invited by InvitedBy.
// InvitationID is chosen by the caller (derived from an idempotency key, say), so a retried
// invitation meets the first one instead of offering a second seat.
type InviteInput struct {
	Tenant       uuid.UUID
	Plan         domain.PlanName
	PlanVersion  int
	InvitationID uuid.UUID
	Email        domain.Email
	Role         domain.Role
	InvitedBy    uuid.UUID
	Meta         domain.Metadata
}

// Invited is an offered seat: Token is the invitation's secret, shown once, for the
// inviter to pass on.
type Invited struct {
	Token     string
	ExpiresAt time.Time
	Seq       int64
}

// Invite offers a seat, within the plan's seat limit.
func (u Members) Invite(ctx context.Context, in InviteInput) (Invited, error) {
	token, _, sum, err := NewSecret(InvitationScheme, in.Tenant, in.InvitationID)
	if err != nil {
		return Invited{}, err
	}
	now := u.Now().UTC()
	expires := now.Add(u.InvitationTTL)
	seats := u.Plans.Limits(in.Plan, in.PlanVersion).Seats
	ch, err := changeMembership(ctx, u.Events, in.Tenant, in.Meta, false, func(m *membership.Membership) ([]domain.Event, error) {
		return m.Invite(in.InvitationID, in.Email, in.Role, in.InvitedBy, sum, expires, seats, now)
	})
	if err != nil {
		return Invited{}, err
	}
	return Invited{Token: token, ExpiresAt: expires, Seq: ch.Seq}, nil
}

// AcceptInput accepts invitation InvitationID of Tenant (on Plan) with its Token.
type AcceptInput struct {
	Tenant       uuid.UUID
	Plan         domain.PlanName
	PlanVersion  int
	InvitationID uuid.UUID
	Token        string
	Meta         domain.Metadata
}

// Accepted is the new member with their first API key.
type Accepted struct {
	Member MemberSummary
	APIKey NewKey
	Seq    int64
}

// Accept turns an invitation into a member with their first API key, in one append. An
// unknown invitation is not found; a token whose secret does not match is forbidden.
func (u Members) Accept(ctx context.Context, in AcceptInput) (Accepted, error) {
	memberID, keyID := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	secret, prefix, sum, err := mintKey(in.Tenant, keyID)
	if err != nil {
		return Accepted{}, err
	}
	seats := u.Plans.Limits(in.Plan, in.PlanVersion).Seats
	now := u.Now().UTC()
	ch, err := changeMembership(ctx, u.Events, in.Tenant, in.Meta, true, func(m *membership.Membership) ([]domain.Event, error) {
		joined, err := m.Accept(in.InvitationID, membership.HashToken(in.Token), memberID, seats, now)
		if err != nil {
			return nil, err
		}
		if err := applyDecided(m, joined); err != nil {
			return nil, err
		}
		mem, _ := m.Member(memberID)
		keyed, err := m.CreateAPIKey(keyID, memberID, mem.Role, "invitation", prefix, sum, now)
		if err != nil {
			return nil, err
		}
		if err := applyDecided(m, keyed); err != nil {
			return nil, err
		}
		return append(joined, keyed...), nil
	})
	if err != nil {
		return Accepted{}, err
	}
	mem, _ := ch.Membership.Member(memberID)
	role := mem.Role.String()
	return Accepted{
		Member: MemberSummary{ID: memberID, Email: mem.Email.String(), Role: role},
		APIKey: NewKey{ID: keyID, Key: secret, Prefix: prefix, Role: role, MemberID: memberID, Name: "invitation"},
		Seq:    ch.Seq,
	}, nil
}

// Target names one member, invitation or API key of a tenant.
type Target struct {
	Tenant uuid.UUID
	ID     uuid.UUID
	Meta   domain.Metadata
}

// ChangeRole gives a member another role (the tenant always keeps an admin).
func (u Members) ChangeRole(ctx context.Context, in Target, role domain.Role) (MemberSummary, int64, error) {
	ch, err := changeMembership(ctx, u.Events, in.Tenant, in.Meta, false, func(m *membership.Membership) ([]domain.Event, error) {
		return m.ChangeRole(in.ID, role, u.Now().UTC())
	})
	if err != nil {
		return MemberSummary{}, 0, err
	}
	mem, _ := ch.Membership.Member(in.ID)
	return MemberSummary{ID: in.ID, Email: mem.Email.String(), Role: mem.Role.String()}, ch.Seq, nil
}

// Remove removes a member, with their API keys and the invitations they issued. An
// invitation's id is refused as not found, naming the route that revokes it, so a client
// that confused the two learns it and nothing is removed by mistake.
func (u Members) Remove(ctx context.Context, in Target) (int64, error) {
	ch, err := changeMembership(ctx, u.Events, in.Tenant, in.Meta, false, func(m *membership.Membership) ([]domain.Event, error) {
		if _, isInvitation := m.Invitation(in.ID); isInvitation {
			return nil, domain.NotFound("no member %s: it is a pending invitation; revoke it with DELETE /v1/invitations/%s", in.ID, in.ID)
		}
		return m.Remove(in.ID, u.Now().UTC())
	})
	return ch.Seq, err
}

// RevokeInvitation withdraws a pending invitation (expired or not).
func (u Members) RevokeInvitation(ctx context.Context, in Target) (int64, error) {
	ch, err := changeMembership(ctx, u.Events, in.Tenant, in.Meta, false, func(m *membership.Membership) ([]domain.Event, error) {
		return m.RevokeInvitation(in.ID, u.Now().UTC())
	})
	return ch.Seq, err
}
