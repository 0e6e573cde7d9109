package membership_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
)

var (
	inv4 = id(104)
	inv5 = id(105)
)

// bobAdmin is a tenant whose second admin, bob, invited carol as an admin and
// dave as a viewer (both pending), and once erin (expired); the founder
// invited frank (pending).
func bobAdmin(t *testing.T) []domain.Event {
	return events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleAdmin),
		invitedBy(t, inv2, "carol@example.com", domain.RoleAdmin, later, bob),
		invitedBy(t, inv3, "dave@example.com", domain.RoleViewer, later, bob),
		invitedBy(t, inv4, "erin@example.com", domain.RoleEditor, now, bob),
		invited(t, inv5, "frank@example.com", domain.RoleEditor, later))
}

func TestRemove_RevokesTheRemovedMembersPendingInvitations(t *testing.T) {
	withKey := events(bobAdmin(t), keyCreated(key1, bob, domain.RoleEditor))
	remove := func(member uuid.UUID) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.Remove(member, now) }
	}
	run(t, []commandCase{
		// The attack: an admin invites an admin, keeps the token and is removed.
		{name: "AdminWithPendingInvitations", given: bobAdmin(t), when: remove(bob),
			want: []domain.Event{membership.Removed{MemberID: bob},
				revokedInvitation(inv2, membership.InvitationRevokedInviterRemoved),
				revokedInvitation(inv3, membership.InvitationRevokedInviterRemoved)}},
		{name: "KeysThenInvitationsInOneAppend", given: withKey, when: remove(bob),
			want: []domain.Event{membership.Removed{MemberID: bob},
				keyRevoked(key1, membership.KeyRevokedMemberRemoved),
				revokedInvitation(inv2, membership.InvitationRevokedInviterRemoved),
				revokedInvitation(inv3, membership.InvitationRevokedInviterRemoved)}},
		{name: "OthersInvitationsStay", given: bobAdmin(t), when: remove(founder),
			want: []domain.Event{membership.Removed{MemberID: founder},
				revokedInvitation(inv5, membership.InvitationRevokedInviterRemoved)}},
		{name: "AcceptedAndRevokedOnesAreNotRevokedAgain",
			given: events(bobAdmin(t), joined(t, carol, "carol@example.com", domain.RoleAdmin, inv2),
				revokedInvitation(inv3, membership.InvitationRevokedByAdmin)),
			when: remove(bob), want: []domain.Event{membership.Removed{MemberID: bob}}},
	})
}

func TestChangeRole_RevokesInvitationsTheNewRoleCannotGrant(t *testing.T) {
	change := func(member uuid.UUID, role domain.Role) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.ChangeRole(member, role, now) }
	}
	var tests []commandCase
	for _, role := range domain.Roles() {
		if role == domain.RoleAdmin {
			continue
		}
		tests = append(tests, commandCase{name: "AdminTo" + role.String(), given: bobAdmin(t), when: change(bob, role),
			want: []domain.Event{membership.RoleChanged{MemberID: bob, From: domain.RoleAdmin, To: role},
				revokedInvitation(inv2, membership.InvitationRevokedInviterRoleChanged),
				revokedInvitation(inv3, membership.InvitationRevokedInviterRoleChanged)}})
	}
	tests = append(tests,
		commandCase{name: "OtherAdminDemotedKeepsBobsInvitations", given: bobAdmin(t), when: change(founder, domain.RoleEditor),
			want: []domain.Event{membership.RoleChanged{MemberID: founder, From: domain.RoleAdmin, To: domain.RoleEditor},
				revokedInvitation(inv5, membership.InvitationRevokedInviterRoleChanged)}},
		commandCase{name: "PromotionRevokesNothing",
			given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer),
				invited(t, inv2, "carol@example.com", domain.RoleAdmin, later)),
			when: change(bob, domain.RoleAdmin),
			want: []domain.Event{membership.RoleChanged{MemberID: bob, From: domain.RoleViewer, To: domain.RoleAdmin}}},
	)
	run(t, tests)
}

// History written before a bounded number of invitations per inviter may hold
// more than one append can revoke: the first ones are revoked, and Accept
// refuses the rest.
func TestRemove_RevokesAtMostTheCapOfInvitations(t *testing.T) {
	evs := events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleAdmin))
	const n = membership.MaxPendingInvitationsPerInviter + 20
	var last uuid.UUID
	for i := 0; i < n; i++ {
		last = uuid.MustParse(fmt.Sprintf("01956b7f-0000-7000-8000-%012d", i))
		evs = append(evs, invitedBy(t, last, fmt.Sprintf("x%d@example.com", i), domain.RoleViewer, later, bob))
	}
	m := given(t, evs...)
	got, err := m.Remove(bob, now)
	require.NoError(t, err)
	require.Len(t, got, 1+membership.MaxPendingInvitationsPerInviter)
	for _, e := range got {
		require.NoError(t, m.Apply(e))
	}
	_, err = m.Accept(last, tokenHash(last), carol, n+10, now)
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(err), "err: %v", err)
}

func TestInvite_CapsThePendingInvitationsOfOneInviter(t *testing.T) {
	evs := events(founded(t))
	for i := 0; i < membership.MaxPendingInvitationsPerInviter; i++ {
		inv := uuid.MustParse(fmt.Sprintf("01956b7f-0000-7000-8000-%012d", i))
		evs = append(evs, invited(t, inv, fmt.Sprintf("x%d@example.com", i), domain.RoleViewer, later))
	}
	expired := uuid.MustParse("01956b80-0000-7000-8000-000000000000")
	invite := func(inviter uuid.UUID) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) {
			return m.Invite(inv1, email(t, "bob@example.com"), domain.RoleViewer, inviter, tokenHash(inv1), later, 10_000, now)
		}
	}
	run(t, []commandCase{
		{name: "AtTheCap", given: evs, code: domain.CodeLimit, field: "invitations", when: invite(founder)},
		{name: "AnotherAdminMayStillInvite", given: events(evs, withMember(t, bob, inv2, "bob2@example.com", domain.RoleAdmin)),
			when: invite(bob), want: []domain.Event{invitedBy(t, inv1, "bob@example.com", domain.RoleViewer, later, bob)}},
		{name: "ExpiredOnesDoNotCount", given: events(evs[:len(evs)-1], invited(t, expired, "old@example.com", domain.RoleViewer, now)),
			when: invite(founder), want: []domain.Event{invited(t, inv1, "bob@example.com", domain.RoleViewer, later)}},
	})
}

func TestAccept_ReChecksTheInviterAndTheSeats(t *testing.T) {
	accept := func(inv uuid.UUID, hash string, seats int) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.Accept(inv, hash, id(9), seats, now) }
	}
	removeBob := func(t *testing.T) []domain.Event {
		m := given(t, bobAdmin(t)...)
		evs, err := m.Remove(bob, now)
		require.NoError(t, err)
		return events(bobAdmin(t), evs)
	}
	demoteBob := func(t *testing.T) []domain.Event {
		m := given(t, bobAdmin(t)...)
		evs, err := m.ChangeRole(bob, domain.RoleEditor, now)
		require.NoError(t, err)
		return events(bobAdmin(t), evs)
	}
	run(t, []commandCase{
		{name: "InviterStillAdmin", given: bobAdmin(t), when: accept(inv2, tokenHash(inv2), 10),
			want: []domain.Event{joined(t, id(9), "carol@example.com", domain.RoleAdmin, inv2)}},
		// Today's commands revoke the invitations of a removed or demoted inviter.
		{name: "AfterInviterRemoved", given: removeBob(t), code: domain.CodeNotFound, when: accept(inv2, tokenHash(inv2), 10)},
		{name: "AfterInviterDemoted", given: demoteBob(t), code: domain.CodeNotFound, when: accept(inv2, tokenHash(inv2), 10)},
		{name: "AfterRevokedByAdmin", given: events(bobAdmin(t), revokedInvitation(inv2, membership.InvitationRevokedByAdmin)),
			code: domain.CodeNotFound, when: accept(inv2, tokenHash(inv2), 10)},
		// History written before that rule has no revocation: Accept refuses anyway.
		{name: "InviterRemovedInOldHistory", given: events(bobAdmin(t), membership.Removed{MemberID: bob}),
			code: domain.CodeConflict, message: "no longer valid", when: accept(inv2, tokenHash(inv2), 10)},
		{name: "InviterDemotedInOldHistory",
			given: events(bobAdmin(t), membership.RoleChanged{MemberID: bob, From: domain.RoleAdmin, To: domain.RoleViewer}),
			code:  domain.CodeConflict, message: "no longer valid", when: accept(inv3, tokenHash(inv3), 10)},
		{name: "WrongTokenRevealsNothing", given: events(bobAdmin(t), membership.Removed{MemberID: bob}),
			code: domain.CodeForbidden, when: accept(inv2, tokenHash(inv3), 10)},
		{name: "ExpiredIsStillExpired", given: events(bobAdmin(t), membership.Removed{MemberID: bob}),
			code: domain.CodeConflict, message: "expired", when: accept(inv4, tokenHash(inv4), 10)},
		// Seats: the new member must fit the plan as it is now.
		{name: "LastSeat", given: bobAdmin(t), when: accept(inv2, tokenHash(inv2), 3),
			want: []domain.Event{joined(t, id(9), "carol@example.com", domain.RoleAdmin, inv2)}},
		{name: "SeatsTakenAfterDowngrade", given: bobAdmin(t), code: domain.CodeLimit, field: "seats",
			when: accept(inv2, tokenHash(inv2), 2)},
		{name: "ZeroSeats", given: bobAdmin(t), code: domain.CodeInvalid, field: "seats", when: accept(inv2, tokenHash(inv2), 0)},
	})
}

func TestInvitationRevoked_StoredJSONShapeIsVersion2(t *testing.T) {
	for reason, want := range map[string]string{
		membership.InvitationRevokedByAdmin:            "revoked",
		membership.InvitationRevokedInviterRemoved:     "inviter_removed",
		membership.InvitationRevokedInviterRoleChanged: "inviter_role_changed",
	} {
		e := revokedInvitation(inv1, reason)
		require.Equal(t, "invitation.revoked", e.EventType())
		require.Equal(t, 2, e.SchemaVersion())
		b, err := json.Marshal(e)
		require.NoError(t, err)
		require.JSONEq(t, `{"invitation_id":"01956b7e-0000-7000-8000-000000000065","reason":"`+want+`"}`, string(b))
	}
}

func TestUpcastInvitationRevokedV1_ReadsAsAnAdminsRevocation(t *testing.T) {
	v2, err := membership.UpcastInvitationRevokedV1([]byte(`{"invitation_id":"01956b7e-0000-7000-8000-000000000065","extra":1}`))
	require.NoError(t, err)
	require.JSONEq(t, `{"invitation_id":"01956b7e-0000-7000-8000-000000000065","reason":"revoked"}`, string(v2))

	var e membership.InvitationRevoked
	require.NoError(t, json.Unmarshal(v2, &e))
	m := given(t, founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later), &e)
	require.Empty(t, m.Invitations(), "a stored v1 revocation still folds")

	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{"invitation_id":"nope"}`, `{`} {
		_, err := membership.UpcastInvitationRevokedV1([]byte(bad))
		require.Error(t, err, bad)
	}
}

// The invitations that could be accepted at now all come from a current member
// who may still grant their role.
func checkInvitationsHaveAGranter(t *testing.T, m *membership.Membership, at time.Time) {
	t.Helper()
	for _, inv := range m.Invitations() {
		if inv.Expired(at) {
			continue
		}
		mem, ok := m.Member(inv.InvitedBy)
		if !ok || mem.Role != domain.RoleAdmin {
			t.Fatalf("live invitation %s of %s, who is no longer an admin (member %v, %+v)", inv.ID, inv.InvitedBy, ok, mem)
		}
	}
}
