package membership_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
)

var (
	now     = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	later   = now.Add(7 * 24 * time.Hour) // a typical invitation expiry
	founder = id(1)
	bob     = id(2)
	carol   = id(3)
	inv1    = id(101)
	inv2    = id(102)
	inv3    = id(103)
)

func id(n byte) uuid.UUID {
	u := uuid.MustParse("01956b7e-0000-7000-8000-000000000000")
	u[15] = n
	return u
}

func email(t testing.TB, s string) domain.Email {
	t.Helper()
	e, err := domain.ParseEmail(s)
	require.NoError(t, err)
	return e
}

func tokenHash(invitation uuid.UUID) string {
	return membership.HashToken("token-" + invitation.String())
}

func founded(t testing.TB) membership.Joined {
	return membership.Joined{MemberID: founder, Email: email(t, "ana@example.com"), Role: domain.RoleAdmin}
}

func invited(t testing.TB, inv uuid.UUID, addr string, role domain.Role, expires time.Time) membership.Invited {
	return membership.Invited{
		InvitationID: inv, Email: email(t, addr), Role: role, InvitedBy: founder,
		TokenSHA256: tokenHash(inv), ExpiresAt: expires,
	}
}

// invitedBy is invited, issued by inviter instead of the founder.
func invitedBy(t testing.TB, inv uuid.UUID, addr string, role domain.Role, expires time.Time, inviter uuid.UUID) membership.Invited {
	e := invited(t, inv, addr, role, expires)
	e.InvitedBy = inviter
	return e
}

func revokedInvitation(inv uuid.UUID, reason string) membership.InvitationRevoked {
	return membership.InvitationRevoked{InvitationID: inv, Reason: reason}
}

func joined(t testing.TB, member uuid.UUID, addr string, role domain.Role, inv uuid.UUID) membership.Joined {
	return membership.Joined{MemberID: member, Email: email(t, addr), Role: role, InvitationID: inv}
}

func keyHash(key uuid.UUID) string {
	return membership.HashToken("key-" + key.String())
}

func keyPrefix(key uuid.UUID) string {
	return fmt.Sprintf("tk_%02x", key[15])
}

// keyCreated is the event of key for member with role, its prefix and hash
// derived from the key id.
func keyCreated(key, member uuid.UUID, role domain.Role) membership.APIKeyCreated {
	return membership.APIKeyCreated{KeyID: key, MemberID: member, Role: role, Name: "CI deploys",
		Prefix: keyPrefix(key), KeySHA256: keyHash(key)}
}

func keyRevoked(key uuid.UUID, reason string) membership.APIKeyRevoked {
	return membership.APIKeyRevoked{KeyID: key, Reason: reason}
}

// withMember returns the events that bring member in through invitation inv.
func withMember(t testing.TB, member, inv uuid.UUID, addr string, role domain.Role) []domain.Event {
	return []domain.Event{invited(t, inv, addr, role, later), joined(t, member, addr, role, inv)}
}

func events(groups ...any) []domain.Event {
	var out []domain.Event
	for _, g := range groups {
		switch g := g.(type) {
		case domain.Event:
			out = append(out, g)
		case []domain.Event:
			out = append(out, g...)
		default:
			panic("events: unexpected argument")
		}
	}
	return out
}

func given(t testing.TB, evs ...domain.Event) *membership.Membership {
	t.Helper()
	m, err := membership.Replay(evs)
	require.NoError(t, err)
	return m
}

// snapshot captures everything observable about a membership, to prove a
// command did not mutate it.
type snapshot struct {
	members     []membership.Member
	invitations []membership.Invitation
	apiKeys     []membership.APIKey
	seats       int
	version     int
}

func snap(m *membership.Membership) snapshot {
	return snapAt(m, now)
}

func snapAt(m *membership.Membership, at time.Time) snapshot {
	return snapshot{m.Members(), m.Invitations(), m.APIKeys(), m.SeatsUsed(at), m.Version()}
}

// commandCase is one given → when → then row.
type commandCase struct {
	name    string
	given   []domain.Event
	when    func(*membership.Membership) ([]domain.Event, error)
	want    []domain.Event
	code    domain.Code
	field   string
	message string // substring the error message must contain
}

func run(t *testing.T, tests []commandCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := given(t, tt.given...)
			before := snap(m)
			got, err := tt.when(m)
			require.Equal(t, before, snap(m), "a command must not mutate the membership")
			if tt.code == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				for _, e := range got {
					require.NoError(t, m.Apply(e), "command events must apply")
				}
				return
			}
			require.Error(t, err)
			require.Nil(t, got)
			var de *domain.Error
			require.ErrorAs(t, err, &de)
			require.Equal(t, tt.code, de.Code, "error: %v", err)
			require.NotEmpty(t, de.Message)
			if tt.field != "" {
				require.Equal(t, tt.field, de.Field)
			}
			if tt.message != "" {
				require.Contains(t, de.Message, tt.message)
			}
		})
	}
}
