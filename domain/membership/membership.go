package membership

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
)

// Member is a read-only copy of one member.
type Member struct {
	ID           uuid.UUID
	Email        domain.Email
	Role         domain.Role
	InvitationID uuid.UUID // uuid.Nil for the founding admin
}

// Invitation is a read-only copy of one outstanding invitation: neither
// accepted nor revoked, though possibly expired. The token hash is left out
// on purpose; only Accept needs it.
type Invitation struct {
	ID        uuid.UUID
	Email     domain.Email
	Role      domain.Role
	InvitedBy uuid.UUID
	ExpiresAt time.Time
}

// Expired reports whether the invitation can no longer be accepted at now;
// an invitation expires at the instant ExpiresAt.
func (i Invitation) Expired(now time.Time) bool { return !now.Before(i.ExpiresAt) }

type invitation struct {
	Invitation
	tokenSHA256 string
}

// Membership is the state folded from one tenant's membership stream. The
// zero value is an empty membership, ready for AddFounder or Apply.
type Membership struct {
	members     map[uuid.UUID]Member
	invitations map[uuid.UUID]invitation // outstanding only
	// Every id ever used, so an id can never be reissued and confused with
	// history (a removed member, an accepted or revoked invitation).
	usedMemberIDs     map[uuid.UUID]bool
	usedInvitationIDs map[uuid.UUID]bool
	keys              map[uuid.UUID]APIKey // every key ever created, revoked ones included
	version           int
}

// Replay rebuilds a membership from its events, oldest first.
func Replay(events []domain.Event) (*Membership, error) {
	m := &Membership{}
	for i, e := range events {
		if err := m.Apply(e); err != nil {
			return nil, fmt.Errorf("replay membership event %d: %w", i+1, err)
		}
	}
	return m, nil
}

// Apply folds one event into the state. Events are facts, so command rules
// are not re-checked; Apply only refuses events that cannot be folded, such as
// an unknown type or a reference to a member, invitation or API key that does
// not exist.
func (m *Membership) Apply(e domain.Event) error {
	if m.members == nil {
		m.members = make(map[uuid.UUID]Member)
		m.invitations = make(map[uuid.UUID]invitation)
		m.usedMemberIDs = make(map[uuid.UUID]bool)
		m.usedInvitationIDs = make(map[uuid.UUID]bool)
		m.keys = make(map[uuid.UUID]APIKey)
	}
	ev := domain.Deref(e)
	if _, ok := ev.(Joined); !ok && m.version == 0 && isMembershipEvent(ev) {
		return fmt.Errorf("apply %s: membership has no founder yet", ev.EventType())
	}
	switch ev := ev.(type) {
	case Joined:
		if m.usedMemberIDs[ev.MemberID] {
			return fmt.Errorf("apply %s: member id %s already used", TypeJoined, ev.MemberID)
		}
		if ev.InvitationID != uuid.Nil {
			if _, ok := m.invitations[ev.InvitationID]; !ok {
				return fmt.Errorf("apply %s: invitation %s is not outstanding", TypeJoined, ev.InvitationID)
			}
			delete(m.invitations, ev.InvitationID)
		}
		m.usedMemberIDs[ev.MemberID] = true
		m.members[ev.MemberID] = Member{ID: ev.MemberID, Email: ev.Email, Role: ev.Role, InvitationID: ev.InvitationID}
	case Invited:
		if m.usedInvitationIDs[ev.InvitationID] {
			return fmt.Errorf("apply %s: invitation id %s already used", TypeInvited, ev.InvitationID)
		}
		m.usedInvitationIDs[ev.InvitationID] = true
		m.invitations[ev.InvitationID] = invitation{
			Invitation: Invitation{
				ID: ev.InvitationID, Email: ev.Email, Role: ev.Role,
				InvitedBy: ev.InvitedBy, ExpiresAt: ev.ExpiresAt,
			},
			tokenSHA256: ev.TokenSHA256,
		}
	case InvitationRevoked:
		if _, ok := m.invitations[ev.InvitationID]; !ok {
			return fmt.Errorf("apply %s: invitation %s is not outstanding", TypeInvitationRevoked, ev.InvitationID)
		}
		delete(m.invitations, ev.InvitationID)
	case RoleChanged:
		mem, ok := m.members[ev.MemberID]
		if !ok {
			return fmt.Errorf("apply %s: no member %s", TypeRoleChanged, ev.MemberID)
		}
		mem.Role = ev.To
		m.members[ev.MemberID] = mem
	case Removed:
		if _, ok := m.members[ev.MemberID]; !ok {
			return fmt.Errorf("apply %s: no member %s", TypeRemoved, ev.MemberID)
		}
		delete(m.members, ev.MemberID)
	case APIKeyCreated:
		if _, ok := m.keys[ev.KeyID]; ok {
			return fmt.Errorf("apply %s: key id %s already used", TypeAPIKeyCreated, ev.KeyID)
		}
		if _, ok := m.members[ev.MemberID]; !ok {
			return fmt.Errorf("apply %s: no member %s", TypeAPIKeyCreated, ev.MemberID)
		}
		m.keys[ev.KeyID] = APIKey{
			KeyID: ev.KeyID, MemberID: ev.MemberID, Role: ev.Role,
			Name: ev.Name, Prefix: ev.Prefix, KeySHA256: ev.KeySHA256,
		}
	case APIKeyRevoked:
		k, ok := m.keys[ev.KeyID]
		if !ok || k.Revoked {
			return fmt.Errorf("apply %s: key %s is not active", TypeAPIKeyRevoked, ev.KeyID)
		}
		k.Revoked = true
		m.keys[ev.KeyID] = k
	default:
		return fmt.Errorf("apply to membership: unknown event %T", e)
	}
	m.version++
	return nil
}

func isMembershipEvent(e domain.Event) bool {
	switch e.(type) {
	case Invited, InvitationRevoked, RoleChanged, Removed, APIKeyCreated, APIKeyRevoked:
		return true
	}
	return false
}

// Members returns every current member, sorted by email then id.
func (m *Membership) Members() []Member {
	out := slices.Collect(maps.Values(m.members))
	slices.SortFunc(out, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Email.String(), b.Email.String()), slices.Compare(a.ID[:], b.ID[:]))
	})
	return out
}

// Invitations returns every outstanding invitation, expired ones included,
// sorted by email, then expiry, then id.
func (m *Membership) Invitations() []Invitation {
	out := make([]Invitation, 0, len(m.invitations))
	for _, inv := range m.invitations {
		out = append(out, inv.Invitation)
	}
	slices.SortFunc(out, func(a, b Invitation) int {
		return cmp.Or(
			cmp.Compare(a.Email.String(), b.Email.String()),
			a.ExpiresAt.Compare(b.ExpiresAt),
			slices.Compare(a.ID[:], b.ID[:]),
		)
	})
	return out
}

// Invitation returns the outstanding invitation with id, expired or not, if
// there is one.
func (m *Membership) Invitation(id uuid.UUID) (Invitation, bool) {
	inv, ok := m.invitations[id]
	return inv.Invitation, ok
}

// Member returns the member with id, if there is one.
func (m *Membership) Member(id uuid.UUID) (Member, bool) {
	mem, ok := m.members[id]
	return mem, ok
}

// SeatsUsed counts what the plan's seat limit caps: members plus
// invitations still acceptable at now. It takes now because an invitation
// stops holding a seat the moment it expires.
func (m *Membership) SeatsUsed(now time.Time) int {
	n := len(m.members)
	for _, inv := range m.invitations {
		if !inv.Expired(now) {
			n++
		}
	}
	return n
}

// Version returns how many events have been applied, which is the expected
// stream version for the next append.
func (m *Membership) Version() int { return m.version }

func (m *Membership) admins() int {
	n := 0
	for _, mem := range m.members {
		if mem.Role == domain.RoleAdmin {
			n++
		}
	}
	return n
}

func (m *Membership) memberByEmail(email domain.Email) bool {
	for _, mem := range m.members {
		if mem.Email == email {
			return true
		}
	}
	return false
}

// canGrant reports whether a member with role granter may give role to
// someone else by invitation. Only admins grant roles today, and they grant
// every role. Inviting, revoking a member's invitations when their role
// changes, and accepting all ask this one function, so a finer rule (say, a
// member manager who grants every role but admin) would change them together.
func canGrant(granter, role domain.Role) bool {
	return granter == domain.RoleAdmin && !role.IsZero()
}

// mayGrant reports whether member inviter exists and may grant role.
func (m *Membership) mayGrant(inviter uuid.UUID, role domain.Role) bool {
	mem, ok := m.members[inviter]
	return ok && canGrant(mem.Role, role)
}

// liveInvitationsBy returns the invitations issued by inviter that could
// still be accepted at now (outstanding and not expired), sorted by id so that
// events derived from them are deterministic.
func (m *Membership) liveInvitationsBy(inviter uuid.UUID, now time.Time) []Invitation {
	var out []Invitation
	for _, inv := range m.invitations {
		if inv.InvitedBy == inviter && !inv.Expired(now) {
			out = append(out, inv.Invitation)
		}
	}
	slices.SortFunc(out, func(a, b Invitation) int { return slices.Compare(a.ID[:], b.ID[:]) })
	return out
}
