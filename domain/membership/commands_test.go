package membership_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
)

func TestAddFounder_OnlyOnAnEmptyMembership(t *testing.T) {
	run(t, []commandCase{
		{name: "OnEmptyMembership", want: []domain.Event{founded(t)},
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.AddFounder(founder, email(t, "ana@example.com"), now)
			}},
		{name: "Twice", given: events(founded(t)), code: domain.CodeConflict,
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.AddFounder(bob, email(t, "bob@example.com"), now)
			}},
		{name: "NilID", code: domain.CodeInvalid, field: "member_id",
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.AddFounder(uuid.Nil, email(t, "ana@example.com"), now)
			}},
		{name: "UnsetEmail", code: domain.CodeInvalid, field: "email",
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.AddFounder(founder, domain.Email{}, now)
			}},
	})
}

func TestInvite_EnforcesAuthoritySeatsAndUniqueEmails(t *testing.T) {
	const seats = 3
	invite := func(inv uuid.UUID, addr string, role domain.Role, by uuid.UUID) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) {
			return m.Invite(inv, email(t, addr), role, by, tokenHash(inv), later, seats, now)
		}
	}
	cet := time.FixedZone("CET", 3600)
	run(t, []commandCase{
		{name: "Valid", given: events(founded(t)), when: invite(inv1, "bob@example.com", domain.RoleEditor, founder),
			want: []domain.Event{invited(t, inv1, "bob@example.com", domain.RoleEditor, later)}},
		{name: "StoresExpiryInUTC", given: events(founded(t)),
			want: []domain.Event{invited(t, inv1, "bob@example.com", domain.RoleViewer, later)},
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.Invite(inv1, email(t, "bob@example.com"), domain.RoleViewer, founder, tokenHash(inv1), later.In(cet), seats, now)
			}},
		{name: "ByOtherAdmin", given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleAdmin)),
			when: invite(inv2, "carol@example.com", domain.RoleAdmin, bob),
			want: []domain.Event{invitedBy(t, inv2, "carol@example.com", domain.RoleAdmin, later, bob)}},
		// Only a member who may grant the role invites: today, an admin.
		{name: "ByNonAdminMember", given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer)),
			code: domain.CodeForbidden, message: "only an admin", when: invite(inv2, "carol@example.com", domain.RoleViewer, bob)},
		{name: "ByDemotedAdmin", code: domain.CodeForbidden,
			given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleAdmin),
				membership.RoleChanged{MemberID: bob, From: domain.RoleAdmin, To: domain.RoleEditor}),
			when: invite(inv2, "carol@example.com", domain.RoleEditor, bob)},
		{name: "EmptyMembership", code: domain.CodeNotFound, when: invite(inv1, "bob@example.com", domain.RoleEditor, founder)},

		// Input validation.
		{name: "NilInvitationID", given: events(founded(t)), code: domain.CodeInvalid, field: "invitation_id",
			when: invite(uuid.Nil, "bob@example.com", domain.RoleEditor, founder)},
		{name: "UnsetEmail", given: events(founded(t)), code: domain.CodeInvalid, field: "email",
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.Invite(inv1, domain.Email{}, domain.RoleEditor, founder, tokenHash(inv1), later, seats, now)
			}},
		{name: "UnsetRole", given: events(founded(t)), code: domain.CodeInvalid, field: "role",
			when: invite(inv1, "bob@example.com", domain.Role{}, founder)},
		{name: "ExpiryIsNow", given: events(founded(t)), code: domain.CodeInvalid, field: "expires_at",
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.Invite(inv1, email(t, "bob@example.com"), domain.RoleEditor, founder, tokenHash(inv1), now, seats, now)
			}},
		{name: "ExpiryInPast", given: events(founded(t)), code: domain.CodeInvalid, field: "expires_at",
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.Invite(inv1, email(t, "bob@example.com"), domain.RoleEditor, founder, tokenHash(inv1), now.Add(-time.Second), seats, now)
			}},
		{name: "ZeroSeats", given: events(founded(t)), code: domain.CodeInvalid, field: "seats",
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.Invite(inv1, email(t, "bob@example.com"), domain.RoleEditor, founder, tokenHash(inv1), later, 0, now)
			}},

		// Identity and authority.
		{name: "InvitationIDPending", given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later)),
			code: domain.CodeConflict, when: invite(inv1, "carol@example.com", domain.RoleEditor, founder)},
		{name: "InvitationIDRevoked", given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later),
			membership.InvitationRevoked{InvitationID: inv1}),
			code: domain.CodeConflict, when: invite(inv1, "carol@example.com", domain.RoleEditor, founder)},
		{name: "InvitationIDAccepted", given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer)),
			code: domain.CodeConflict, when: invite(inv1, "carol@example.com", domain.RoleEditor, founder)},
		{name: "InviterNotAMember", given: events(founded(t)), code: domain.CodeForbidden,
			when: invite(inv1, "bob@example.com", domain.RoleEditor, carol)},
		{name: "InviterRemoved", given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleAdmin),
			membership.Removed{MemberID: bob}),
			code: domain.CodeForbidden, when: invite(inv2, "carol@example.com", domain.RoleEditor, bob)},

		// Unique emails.
		{name: "EmailIsAMember", given: events(founded(t)), code: domain.CodeConflict, message: "ana@example.com is already a member",
			when: invite(inv1, "ana@example.com", domain.RoleEditor, founder)},
		{name: "EmailIsAMemberInOtherCase", given: events(founded(t)), code: domain.CodeConflict,
			when: invite(inv1, "ANA@example.COM", domain.RoleEditor, founder)},
		{name: "EmailHasPendingInvitation", given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later)),
			code: domain.CodeConflict, message: "pending invitation", when: invite(inv2, "bob@example.com", domain.RoleEditor, founder)},
		{name: "EmailHasOnlyExpiredInvitation", given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, now)),
			when: invite(inv2, "bob@example.com", domain.RoleEditor, founder),
			want: []domain.Event{invited(t, inv2, "bob@example.com", domain.RoleEditor, later)}},
		{name: "EmailHasOnlyRevokedInvitation", given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later),
			membership.InvitationRevoked{InvitationID: inv1}),
			when: invite(inv2, "bob@example.com", domain.RoleEditor, founder),
			want: []domain.Event{invited(t, inv2, "bob@example.com", domain.RoleEditor, later)}},
		{name: "EmailOfRemovedMember", given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer),
			membership.Removed{MemberID: bob}),
			when: invite(inv2, "bob@example.com", domain.RoleEditor, founder),
			want: []domain.Event{invited(t, inv2, "bob@example.com", domain.RoleEditor, later)}},

		// Seats: members plus pending invitations.
		{name: "LastSeat", given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later)),
			when: invite(inv2, "carol@example.com", domain.RoleEditor, founder),
			want: []domain.Event{invited(t, inv2, "carol@example.com", domain.RoleEditor, later)}},
		{name: "SeatsFullOfInvitations", code: domain.CodeLimit, field: "seats", message: "all 3 seats",
			given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later),
				invited(t, inv2, "carol@example.com", domain.RoleViewer, later)),
			when: invite(inv3, "dave@example.com", domain.RoleEditor, founder)},
		{name: "SeatsFullOfMembers", code: domain.CodeLimit, field: "seats",
			given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer),
				withMember(t, carol, inv2, "carol@example.com", domain.RoleViewer)),
			when: invite(inv3, "dave@example.com", domain.RoleEditor, founder)},
		{name: "ExpiredInvitationsFreeSeats",
			given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, now),
				invited(t, inv2, "carol@example.com", domain.RoleViewer, later)),
			when: invite(inv3, "dave@example.com", domain.RoleEditor, founder),
			want: []domain.Event{invited(t, inv3, "dave@example.com", domain.RoleEditor, later)}},
		{name: "RevokedInvitationsFreeSeats",
			given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later),
				invited(t, inv2, "carol@example.com", domain.RoleViewer, later), membership.InvitationRevoked{InvitationID: inv2}),
			when: invite(inv3, "dave@example.com", domain.RoleEditor, founder),
			want: []domain.Event{invited(t, inv3, "dave@example.com", domain.RoleEditor, later)}},
		{name: "RemovedMembersFreeSeats",
			given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer),
				withMember(t, carol, inv2, "carol@example.com", domain.RoleViewer), membership.Removed{MemberID: carol}),
			when: invite(inv3, "dave@example.com", domain.RoleEditor, founder),
			want: []domain.Event{invited(t, inv3, "dave@example.com", domain.RoleEditor, later)}},
		{name: "AlreadyOverLimitAfterDowngrade", code: domain.CodeLimit,
			given: events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer),
				withMember(t, carol, inv2, "carol@example.com", domain.RoleViewer)),
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.Invite(inv3, email(t, "dave@example.com"), domain.RoleViewer, founder, tokenHash(inv3), later, 1, now)
			}},
	})
}

func TestInvite_RejectsAnythingButAHexSHA256(t *testing.T) {
	bad := map[string]string{
		"Empty": "", "Short": strings.Repeat("a", 63), "Long": strings.Repeat("a", 65),
		"Uppercase": strings.ToUpper(tokenHash(inv1)), "NotHex": strings.Repeat("g", 64), "RawToken": "token-abc",
	}
	var tests []commandCase
	for name, hash := range bad {
		tests = append(tests, commandCase{name: name, given: events(founded(t)), code: domain.CodeInvalid, field: "token_sha256",
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.Invite(inv1, email(t, "bob@example.com"), domain.RoleViewer, founder, hash, later, 3, now)
			}})
	}
	run(t, tests)
}

func TestAccept_ChecksTokenThenExpiry(t *testing.T) {
	pending := events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleEditor, later))
	accept := func(inv uuid.UUID, hash string, member uuid.UUID, at time.Time) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.Accept(inv, hash, member, 3, at) }
	}
	run(t, []commandCase{
		{name: "Valid", given: pending, when: accept(inv1, tokenHash(inv1), bob, now),
			want: []domain.Event{joined(t, bob, "bob@example.com", domain.RoleEditor, inv1)}},
		{name: "JustBeforeExpiry", given: pending, when: accept(inv1, tokenHash(inv1), bob, later.Add(-time.Nanosecond)),
			want: []domain.Event{joined(t, bob, "bob@example.com", domain.RoleEditor, inv1)}},
		{name: "AtExpiry", given: pending, code: domain.CodeConflict, message: "expired",
			when: accept(inv1, tokenHash(inv1), bob, later)},
		{name: "AfterExpiry", given: pending, code: domain.CodeConflict, message: "expired",
			when: accept(inv1, tokenHash(inv1), bob, later.Add(time.Hour))},
		{name: "WrongToken", given: pending, code: domain.CodeForbidden,
			when: accept(inv1, tokenHash(inv2), bob, now)},
		{name: "RawTokenInsteadOfHash", given: pending, code: domain.CodeForbidden,
			when: accept(inv1, "token-"+inv1.String(), bob, now)},
		{name: "WrongTokenOnExpiredRevealsNothing", given: pending, code: domain.CodeForbidden,
			when: accept(inv1, tokenHash(inv2), bob, later.Add(time.Hour))},
		{name: "UnknownInvitation", given: pending, code: domain.CodeNotFound,
			when: accept(inv2, tokenHash(inv2), bob, now)},
		{name: "EmptyMembership", code: domain.CodeNotFound, when: accept(inv1, tokenHash(inv1), bob, now)},
		{name: "AlreadyAccepted", given: events(pending, joined(t, bob, "bob@example.com", domain.RoleEditor, inv1)),
			code: domain.CodeNotFound, when: accept(inv1, tokenHash(inv1), carol, now)},
		{name: "Revoked", given: events(pending, membership.InvitationRevoked{InvitationID: inv1}),
			code: domain.CodeNotFound, when: accept(inv1, tokenHash(inv1), bob, now)},
		{name: "NilMemberID", given: pending, code: domain.CodeInvalid, field: "member_id",
			when: accept(inv1, tokenHash(inv1), uuid.Nil, now)},
		{name: "MemberIDOfCurrentMember", given: pending, code: domain.CodeConflict,
			when: accept(inv1, tokenHash(inv1), founder, now)},
		{name: "MemberIDOfRemovedMember",
			given: events(founded(t), withMember(t, carol, inv2, "carol@example.com", domain.RoleViewer),
				membership.Removed{MemberID: carol}, invited(t, inv1, "bob@example.com", domain.RoleEditor, later)),
			code: domain.CodeConflict, when: accept(inv1, tokenHash(inv1), carol, now)},
		{name: "EmailJoinedMeanwhile", code: domain.CodeConflict, message: "already a member",
			// History written under older rules may hold two live invitations for one email.
			given: events(pending, invited(t, inv2, "bob@example.com", domain.RoleViewer, later),
				joined(t, bob, "bob@example.com", domain.RoleViewer, inv2)),
			when: accept(inv1, tokenHash(inv1), carol, now)},
	})
}

func TestRevokeInvitation_OnlyOutstandingInvitations(t *testing.T) {
	pending := events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleEditor, later))
	revoke := func(inv uuid.UUID, at time.Time) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.RevokeInvitation(inv, at) }
	}
	run(t, []commandCase{
		{name: "Pending", given: pending, when: revoke(inv1, now),
			want: []domain.Event{revokedInvitation(inv1, membership.InvitationRevokedByAdmin)}},
		{name: "Expired", given: pending, when: revoke(inv1, later.Add(time.Hour)),
			want: []domain.Event{revokedInvitation(inv1, membership.InvitationRevokedByAdmin)}},
		{name: "Unknown", given: pending, code: domain.CodeNotFound, when: revoke(inv2, now)},
		{name: "MemberIDIsNoInvitation", given: pending, code: domain.CodeNotFound, when: revoke(founder, now)},
		{name: "Accepted", given: events(pending, joined(t, bob, "bob@example.com", domain.RoleEditor, inv1)),
			code: domain.CodeConflict, message: "no longer pending", when: revoke(inv1, now)},
		{name: "AlreadyRevoked", given: events(pending, revokedInvitation(inv1, membership.InvitationRevokedByAdmin)),
			code: domain.CodeConflict, message: "no longer pending", when: revoke(inv1, now)},
		{name: "EmptyMembership", code: domain.CodeNotFound, when: revoke(inv1, now)},
	})
}

func TestChangeRole_KeepsAnAdmin(t *testing.T) {
	withBob := events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer))
	twoAdmins := events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleAdmin))
	change := func(member uuid.UUID, role domain.Role) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.ChangeRole(member, role, now) }
	}
	run(t, []commandCase{
		{name: "PromoteToAdmin", given: withBob, when: change(bob, domain.RoleAdmin),
			want: []domain.Event{membership.RoleChanged{MemberID: bob, From: domain.RoleViewer, To: domain.RoleAdmin}}},
		{name: "ViewerToBillingManager", given: withBob, when: change(bob, domain.RoleBillingManager),
			want: []domain.Event{membership.RoleChanged{MemberID: bob, From: domain.RoleViewer, To: domain.RoleBillingManager}}},
		{name: "DemoteOneOfTwoAdmins", given: twoAdmins, when: change(founder, domain.RoleAuditor),
			want: []domain.Event{membership.RoleChanged{MemberID: founder, From: domain.RoleAdmin, To: domain.RoleAuditor}}},
		{name: "DemoteFounderAfterPromotion",
			given: events(withBob, membership.RoleChanged{MemberID: bob, From: domain.RoleViewer, To: domain.RoleAdmin}),
			when:  change(founder, domain.RoleEditor),
			want:  []domain.Event{membership.RoleChanged{MemberID: founder, From: domain.RoleAdmin, To: domain.RoleEditor}}},
		{name: "DemoteLastAdmin", given: withBob, code: domain.CodeConflict, message: "last admin",
			when: change(founder, domain.RoleEditor)},
		{name: "DemoteLastAdminAfterOtherLeft", code: domain.CodeConflict,
			given: events(twoAdmins, membership.Removed{MemberID: bob}), when: change(founder, domain.RoleViewer)},
		{name: "SameRole", given: withBob, code: domain.CodeConflict, message: "already has the viewer role",
			when: change(bob, domain.RoleViewer)},
		{name: "LastAdminToAdmin", given: withBob, code: domain.CodeConflict, when: change(founder, domain.RoleAdmin)},
		{name: "UnsetRole", given: withBob, code: domain.CodeInvalid, field: "role", when: change(bob, domain.Role{})},
		{name: "UnknownMember", given: withBob, code: domain.CodeNotFound, when: change(carol, domain.RoleEditor)},
		{name: "RemovedMember", given: events(withBob, membership.Removed{MemberID: bob}), code: domain.CodeNotFound,
			when: change(bob, domain.RoleEditor)},
		{name: "PendingInviteeIsNotAMember", code: domain.CodeNotFound,
			given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later)),
			when:  change(inv1, domain.RoleEditor)},
		{name: "EmptyMembership", code: domain.CodeNotFound, when: change(founder, domain.RoleEditor)},
	})
}

func TestRemove_KeepsAnAdmin(t *testing.T) {
	withBob := events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer))
	twoAdmins := events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleAdmin))
	remove := func(member uuid.UUID) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.Remove(member, now) }
	}
	run(t, []commandCase{
		{name: "NonAdmin", given: withBob, when: remove(bob), want: []domain.Event{membership.Removed{MemberID: bob}}},
		{name: "OneOfTwoAdmins", given: twoAdmins, when: remove(founder), want: []domain.Event{membership.Removed{MemberID: founder}}},
		{name: "LastAdmin", given: withBob, code: domain.CodeConflict, message: "last admin", when: remove(founder)},
		{name: "LastAdminAfterDemotion", code: domain.CodeConflict,
			given: events(twoAdmins, membership.RoleChanged{MemberID: bob, From: domain.RoleAdmin, To: domain.RoleViewer}),
			when:  remove(founder)},
		{name: "UnknownMember", given: withBob, code: domain.CodeNotFound, when: remove(carol)},
		{name: "AlreadyRemoved", given: events(withBob, membership.Removed{MemberID: bob}), code: domain.CodeNotFound, when: remove(bob)},
		{name: "EmptyMembership", code: domain.CodeNotFound, when: remove(founder)},
	})
}

// TestLifecycle_InviteAcceptPromoteAndHandOver drives the commands end to end
// through Apply, as the HTTP layer will.
func TestLifecycle_InviteAcceptPromoteAndHandOver(t *testing.T) {
	var m membership.Membership
	step := func(evs []domain.Event, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if err := m.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
	}
	step(m.AddFounder(founder, email(t, "ana@example.com"), now))
	step(m.Invite(inv1, email(t, "bob@example.com"), domain.RoleEditor, founder, tokenHash(inv1), later, 3, now))
	step(m.Accept(inv1, tokenHash(inv1), bob, 3, now.Add(time.Hour)))
	step(m.ChangeRole(bob, domain.RoleAdmin, now))
	step(m.Remove(founder, now))
	if _, err := m.Remove(bob, now); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("removing the last admin: %v", err)
	}
	if got := m.Members(); len(got) != 1 || got[0].ID != bob || got[0].Role != domain.RoleAdmin || got[0].InvitationID != inv1 {
		t.Fatalf("members = %+v", got)
	}
	if m.Version() != 5 {
		t.Fatalf("version = %d", m.Version())
	}
}
