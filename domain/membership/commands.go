package membership

import (
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
)

// AddFounder makes the first member, always an admin. It is allowed only on
// an empty membership, when the tenant is created.
func (m *Membership) AddFounder(memberID uuid.UUID, email domain.Email, now time.Time) ([]domain.Event, error) {
	if m.version != 0 {
		return nil, domain.Conflict("the tenant already has members; the founder is added only once")
	}
	if memberID == uuid.Nil {
		return nil, domain.Invalid("member_id", "member id is required")
	}
	if email.IsZero() {
		return nil, domain.Invalid("email", "email is required")
	}
	return []domain.Event{Joined{MemberID: memberID, Email: email, Role: domain.RoleAdmin}}, nil
}

func (m *Membership) founded() error {
	if m.version == 0 {
		return domain.NotFound("membership not found")
	}
	return nil
}

// Invite offers email a seat with role until expiresAt. seats is the plan's
// seat limit: members plus pending invitations may not exceed it. invitedBy
// must be a current member; checking that they may manage members is the
// caller's authorisation step.
func (m *Membership) Invite(invitationID uuid.UUID, email domain.Email, role domain.Role, invitedBy uuid.UUID,
	tokenSHA256 string, expiresAt time.Time, seats int, now time.Time,
) ([]domain.Event, error) {
	if err := m.founded(); err != nil {
		return nil, err
	}
	switch {
	case invitationID == uuid.Nil:
		return nil, domain.Invalid("invitation_id", "invitation id is required")
	case email.IsZero():
		return nil, domain.Invalid("email", "email is required")
	case role.IsZero():
		return nil, domain.Invalid("role", "role is required")
	case !isSHA256Hex(tokenSHA256):
		return nil, domain.Invalid("token_sha256", "token hash must be the SHA-256 of the token as 64 lowercase hex characters")
	case !expiresAt.After(now):
		return nil, domain.Invalid("expires_at", "invitation must expire in the future")
	case seats < 1:
		return nil, domain.Invalid("seats", "seat limit must be at least 1")
	}
	if m.usedInvitationIDs[invitationID] {
		return nil, domain.Conflict("invitation id %s is already in use", invitationID)
	}
	if _, ok := m.members[invitedBy]; !ok {
		return nil, domain.Forbidden("only a member of this tenant can invite")
	}
	if m.memberByEmail(email) {
		return nil, domain.Conflict("%s is already a member", email)
	}
	for _, inv := range m.invitations {
		if inv.Email == email && !inv.Expired(now) {
			return nil, domain.Conflict("%s already has a pending invitation", email)
		}
	}
	if used := m.SeatsUsed(now); used >= seats {
		return nil, domain.LimitExceeded("seats",
			"all %d seats of the plan are in use by members and pending invitations; upgrade the plan, or remove a member or revoke an invitation", seats)
	}
	return []domain.Event{Invited{
		InvitationID: invitationID, Email: email, Role: role, InvitedBy: invitedBy,
		TokenSHA256: tokenSHA256, ExpiresAt: expiresAt.UTC(),
	}}, nil
}

// Accept turns an outstanding invitation into member memberID. The token hash
// is checked before expiry, so only the holder of the token learns that an
// invitation exists and has expired.
func (m *Membership) Accept(invitationID uuid.UUID, tokenSHA256 string, memberID uuid.UUID, now time.Time) ([]domain.Event, error) {
	if memberID == uuid.Nil {
		return nil, domain.Invalid("member_id", "member id is required")
	}
	inv, ok := m.invitations[invitationID]
	if !ok {
		return nil, domain.NotFound("invitation not found; it may have been accepted or revoked")
	}
	if !sameHash(tokenSHA256, inv.tokenSHA256) {
		return nil, domain.Forbidden("invitation token is not valid")
	}
	if inv.Expired(now) {
		return nil, domain.Conflict("invitation expired at %s; ask an admin for a new one",
			inv.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if m.usedMemberIDs[memberID] {
		return nil, domain.Conflict("member id %s is already in use", memberID)
	}
	if m.memberByEmail(inv.Email) {
		return nil, domain.Conflict("%s is already a member", inv.Email)
	}
	return []domain.Event{Joined{MemberID: memberID, Email: inv.Email, Role: inv.Role, InvitationID: invitationID}}, nil
}

// RevokeInvitation withdraws an outstanding invitation, expired or not.
func (m *Membership) RevokeInvitation(invitationID uuid.UUID, now time.Time) ([]domain.Event, error) {
	if err := m.founded(); err != nil {
		return nil, err
	}
	if _, ok := m.invitations[invitationID]; !ok {
		return nil, domain.NotFound("invitation not found; it may have been accepted or revoked")
	}
	return []domain.Event{InvitationRevoked{InvitationID: invitationID}}, nil
}

// ChangeRole gives a member a new role. The last admin cannot be demoted, so
// a tenant can never lock itself out of its own administration. The member's
// API keys whose role the new role no longer covers are revoked with it.
func (m *Membership) ChangeRole(memberID uuid.UUID, role domain.Role, now time.Time) ([]domain.Event, error) {
	if err := m.founded(); err != nil {
		return nil, err
	}
	if role.IsZero() {
		return nil, domain.Invalid("role", "role is required")
	}
	mem, ok := m.members[memberID]
	if !ok {
		return nil, domain.NotFound("member not found")
	}
	if mem.Role == role {
		return nil, domain.Conflict("member already has the %s role", role)
	}
	if mem.Role == domain.RoleAdmin && m.admins() == 1 {
		return nil, domain.Conflict("cannot change the role of the last admin; make another member admin first")
	}
	evs := []domain.Event{RoleChanged{MemberID: memberID, From: mem.Role, To: role}}
	return append(evs, m.revokeKeys(memberID, KeyRevokedRoleChanged, func(k APIKey) bool {
		return k.Role == role || role == domain.RoleAdmin
	})...), nil
}

// Remove takes a member out of the tenant, revoking their API keys. The last
// admin cannot be removed.
func (m *Membership) Remove(memberID uuid.UUID, now time.Time) ([]domain.Event, error) {
	if err := m.founded(); err != nil {
		return nil, err
	}
	mem, ok := m.members[memberID]
	if !ok {
		return nil, domain.NotFound("member not found")
	}
	if mem.Role == domain.RoleAdmin && m.admins() == 1 {
		return nil, domain.Conflict("cannot remove the last admin; make another member admin first")
	}
	evs := []domain.Event{Removed{MemberID: memberID}}
	return append(evs, m.revokeKeys(memberID, KeyRevokedMemberRemoved, func(APIKey) bool { return false })...), nil
}
