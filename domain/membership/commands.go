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

// MaxPendingInvitationsPerInviter caps the invitations one member has issued
// that could still be accepted. Removing or demoting a member revokes all of
// theirs in the same append, which must stay within the event store's bound
// (1,000 events, with up to MaxActiveAPIKeys key revocations beside them).
const MaxPendingInvitationsPerInviter = 500

// Invite offers email a seat with role until expiresAt. seats is the plan's
// seat limit: members plus pending invitations may not exceed it. invitedBy
// must be a current member who may grant role (an admin): the invitation lives
// only as long as that stays true, since removing or demoting its inviter
// revokes it and Accept checks again.
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
	inviter, ok := m.members[invitedBy]
	if !ok {
		return nil, domain.Forbidden("only a member of this tenant can invite")
	}
	if !canGrant(inviter.Role, role) {
		return nil, domain.Forbidden("a member with the %s role cannot grant the %s role; only an admin can invite", inviter.Role, role)
	}
	if m.memberByEmail(email) {
		return nil, domain.Conflict("%s is already a member", email)
	}
	for _, inv := range m.invitations {
		if inv.Email == email && !inv.Expired(now) {
			return nil, domain.Conflict("%s already has a pending invitation", email)
		}
	}
	if len(m.liveInvitationsBy(invitedBy, now)) >= MaxPendingInvitationsPerInviter {
		return nil, domain.LimitExceeded("invitations",
			"you already have %d pending invitations, the most one member may have; revoke some or wait until they are accepted or expire",
			MaxPendingInvitationsPerInviter)
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

// Accept turns an outstanding invitation into member memberID. seats is the
// plan's seat limit now, which the new member must fit in. The token hash is
// checked first, so only the holder of the token learns anything about the
// invitation. Everything the invitation relied on is checked again at this
// moment: it is neither accepted, revoked nor expired, and its inviter is
// still a member who may grant its role. Removing or demoting the inviter
// revokes it already; the second check also covers history written before that
// rule, and any path that might miss it.
func (m *Membership) Accept(invitationID uuid.UUID, tokenSHA256 string, memberID uuid.UUID, seats int, now time.Time) ([]domain.Event, error) {
	if memberID == uuid.Nil {
		return nil, domain.Invalid("member_id", "member id is required")
	}
	if seats < 1 {
		return nil, domain.Invalid("seats", "seat limit must be at least 1")
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
	if !m.mayGrant(inv.InvitedBy, inv.Role) {
		return nil, domain.Conflict("invitation is no longer valid: whoever issued it can no longer grant the %s role; ask an admin for a new one",
			inv.Role)
	}
	if len(m.members) >= seats {
		return nil, domain.LimitExceeded("seats",
			"all %d seats of the plan are taken by members; an admin must upgrade the plan or remove a member first", seats)
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
// Checking that the caller may manage members is the caller's authorisation
// step. An invitation that was accepted or revoked already is a conflict, so
// the caller learns it can no longer be used; an id never issued in this
// tenant is not found.
func (m *Membership) RevokeInvitation(invitationID uuid.UUID, now time.Time) ([]domain.Event, error) {
	if err := m.founded(); err != nil {
		return nil, err
	}
	if _, ok := m.invitations[invitationID]; !ok {
		if m.usedInvitationIDs[invitationID] {
			return nil, domain.Conflict("invitation %s is no longer pending: it was accepted or revoked already", invitationID)
		}
		return nil, domain.NotFound("invitation not found")
	}
	return []domain.Event{InvitationRevoked{InvitationID: invitationID, Reason: InvitationRevokedByAdmin}}, nil
}

// revokeInvitations returns an InvitationRevoked with reason for each
// invitation issued by inviter that could still be accepted at now and that
// keep rejects, in id order. Expired ones are left alone: they can never be
// accepted and hold no seat, and revoking them would make the append grow with
// the tenant's whole history. Invite keeps the live ones within
// MaxPendingInvitationsPerInviter; history written before that cap is cut to
// it (Accept refuses the rest anyway), so the append stays bounded.
func (m *Membership) revokeInvitations(inviter uuid.UUID, reason string, keep func(Invitation) bool, now time.Time) []domain.Event {
	var out []domain.Event
	for _, inv := range m.liveInvitationsBy(inviter, now) {
		if len(out) == MaxPendingInvitationsPerInviter {
			break
		}
		if !keep(inv) {
			out = append(out, InvitationRevoked{InvitationID: inv.ID, Reason: reason})
		}
	}
	return out
}

// ChangeRole gives a member a new role. The last admin cannot be demoted, so
// a tenant can never lock itself out of its own administration. The member's
// API keys whose role the new role no longer covers are revoked with it, and
// so are the invitations they issued whose role the new role can no longer
// grant (all of them when an admin is demoted), in the same append.
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
	evs = append(evs, m.revokeKeys(memberID, KeyRevokedRoleChanged, func(k APIKey) bool {
		return k.Role == role || role == domain.RoleAdmin
	})...)
	return append(evs, m.revokeInvitations(memberID, InvitationRevokedInviterRoleChanged, func(inv Invitation) bool {
		return canGrant(role, inv.Role)
	}, now)...), nil
}

// Remove takes a member out of the tenant, revoking their API keys and the
// invitations they issued in the same append, so that nothing they left
// behind can bring anyone in. The last admin cannot be removed.
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
	evs = append(evs, m.revokeKeys(memberID, KeyRevokedMemberRemoved, func(APIKey) bool { return false })...)
	return append(evs, m.revokeInvitations(memberID, InvitationRevokedInviterRemoved, func(Invitation) bool { return false }, now)...), nil
}
