package membership_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
)

func TestQueries_ReturnSortedCopies(t *testing.T) {
	m := given(t, events(
		founded(t),
		withMember(t, carol, inv1, "carol@example.com", domain.RoleViewer),
		withMember(t, bob, inv2, "bob@example.com", domain.RoleEditor),
		invited(t, inv3, "zed@example.com", domain.RoleAuditor, later),
		invited(t, id(104), "dave@example.com", domain.RoleViewer, now), // expired at now
	)...)

	require.Equal(t, []membership.Member{
		{ID: founder, Email: email(t, "ana@example.com"), Role: domain.RoleAdmin},
		{ID: bob, Email: email(t, "bob@example.com"), Role: domain.RoleEditor, InvitationID: inv2},
		{ID: carol, Email: email(t, "carol@example.com"), Role: domain.RoleViewer, InvitationID: inv1},
	}, m.Members())
	require.Equal(t, []membership.Invitation{
		{ID: id(104), Email: email(t, "dave@example.com"), Role: domain.RoleViewer, InvitedBy: founder, ExpiresAt: now},
		{ID: inv3, Email: email(t, "zed@example.com"), Role: domain.RoleAuditor, InvitedBy: founder, ExpiresAt: later},
	}, m.Invitations())

	require.Equal(t, 4, m.SeatsUsed(now), "the invitation expiring at now no longer holds a seat")
	require.Equal(t, 5, m.SeatsUsed(now.Add(-time.Nanosecond)))
	require.Equal(t, 3, m.SeatsUsed(later))
	require.True(t, m.Invitations()[0].Expired(now))
	require.False(t, m.Invitations()[1].Expired(now))

	got, ok := m.Member(bob)
	require.True(t, ok)
	require.Equal(t, domain.RoleEditor, got.Role)
	_, ok = m.Member(inv3)
	require.False(t, ok)

	members := m.Members()
	members[0].Role = domain.RoleViewer
	invs := m.Invitations()
	invs[0].Role = domain.RoleAdmin
	require.Equal(t, domain.RoleAdmin, m.Members()[0].Role, "Members must return a copy")
	require.Equal(t, domain.RoleViewer, m.Invitations()[0].Role, "Invitations must return a copy")
	require.Equal(t, 7, m.Version())
}

func TestQueries_OnEmptyMembership(t *testing.T) {
	var m membership.Membership
	require.Empty(t, m.Members())
	require.Empty(t, m.Invitations())
	require.Zero(t, m.SeatsUsed(now))
	require.Zero(t, m.Version())
	_, ok := m.Member(founder)
	require.False(t, ok)
}

func TestApply_AcceptsDecodedPointers(t *testing.T) {
	f := founded(t)
	i := invited(t, inv1, "bob@example.com", domain.RoleViewer, later)
	k := keyCreated(key1, founder, domain.RoleViewer)
	m := given(t, &f, &i, &membership.InvitationRevoked{InvitationID: inv1},
		&k, &membership.APIKeyRevoked{KeyID: key1, Reason: membership.KeyRevokedByAdmin})
	require.Empty(t, m.Invitations())
	got, ok := m.APIKey(key1)
	require.True(t, ok)
	require.True(t, got.Revoked)
	require.Equal(t, 5, m.Version())
}

type foreignEvent struct{}

func (foreignEvent) EventType() string  { return "other.happened" }
func (foreignEvent) SchemaVersion() int { return 1 }

func TestReplay_RejectsStreamsThatCannotBeFolded(t *testing.T) {
	tests := []struct {
		name   string
		events []domain.Event
	}{
		{"InviteBeforeFounder", events(invited(t, inv1, "bob@example.com", domain.RoleViewer, later))},
		{"RemoveBeforeFounder", events(membership.Removed{MemberID: founder})},
		{"DuplicateMemberID", events(founded(t), founded(t))},
		{"JoinWithUnknownInvitation", events(founded(t), joined(t, bob, "bob@example.com", domain.RoleViewer, inv1))},
		{"JoinWithRevokedInvitation", events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later),
			membership.InvitationRevoked{InvitationID: inv1}, joined(t, bob, "bob@example.com", domain.RoleViewer, inv1))},
		{"DuplicateInvitationID", events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later),
			invited(t, inv1, "carol@example.com", domain.RoleViewer, later))},
		{"RevokeUnknown", events(founded(t), membership.InvitationRevoked{InvitationID: inv1})},
		{"RoleChangeUnknown", events(founded(t), membership.RoleChanged{MemberID: bob, From: domain.RoleViewer, To: domain.RoleAdmin})},
		{"RemoveUnknown", events(founded(t), membership.Removed{MemberID: bob})},
		{"UnknownEvent", events(founded(t), foreignEvent{})},
		{"NilEvent", []domain.Event{founded(t), nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := membership.Replay(tt.events)
			require.Error(t, err)
			require.Nil(t, m)
			require.Empty(t, domain.ErrorCode(err), "a corrupt stream is an internal error, not a user error")
		})
	}
}

// TestEvents_StoredJSONShape pins the storage format; see the tenant package.
func TestEvents_StoredJSONShape(t *testing.T) {
	inv := invited(t, inv1, "bob@example.com", domain.RoleBillingManager, later)
	tests := []struct {
		event domain.Event
		typ   string
		json  string
	}{
		{founded(t), "member.joined",
			`{"member_id":"01956b7e-0000-7000-8000-000000000001","email":"ana@example.com","role":"admin","invitation_id":"00000000-0000-0000-0000-000000000000"}`},
		{inv, "member.invited",
			`{"invitation_id":"01956b7e-0000-7000-8000-000000000065","email":"bob@example.com","role":"billing_manager",` +
				`"invited_by":"01956b7e-0000-7000-8000-000000000001","token_sha256":"` + tokenHash(inv1) + `","expires_at":"2025-03-08T12:00:00Z"}`},
		{membership.RoleChanged{MemberID: bob, From: domain.RoleViewer, To: domain.RoleAuditor}, "member.role_changed",
			`{"member_id":"01956b7e-0000-7000-8000-000000000002","from":"viewer","to":"auditor"}`},
		{membership.Removed{MemberID: bob}, "member.removed", `{"member_id":"01956b7e-0000-7000-8000-000000000002"}`},
		{membership.APIKeyCreated{KeyID: id(201), MemberID: bob, Role: domain.RoleEditor, Name: "CI deploys",
			Prefix: "tk_live_c9", KeySHA256: keyHash(id(201))}, "api_key.created",
			`{"key_id":"01956b7e-0000-7000-8000-0000000000c9","member_id":"01956b7e-0000-7000-8000-000000000002","role":"editor",` +
				`"name":"CI deploys","prefix":"tk_live_c9","key_sha256":"` + keyHash(id(201)) + `"}`},
		{membership.APIKeyCreated{KeyID: id(201), MemberID: bob, Role: domain.RoleEditor, Prefix: "tk_live_c9",
			KeySHA256: keyHash(id(201))}, "api_key.created",
			`{"key_id":"01956b7e-0000-7000-8000-0000000000c9","member_id":"01956b7e-0000-7000-8000-000000000002","role":"editor",` +
				`"name":"","prefix":"tk_live_c9","key_sha256":"` + keyHash(id(201)) + `"}`},
		{membership.APIKeyRevoked{KeyID: id(201), Reason: membership.KeyRevokedByAdmin}, "api_key.revoked",
			`{"key_id":"01956b7e-0000-7000-8000-0000000000c9","reason":"revoked"}`},
		{membership.APIKeyRevoked{KeyID: id(201), Reason: membership.KeyRevokedMemberRemoved}, "api_key.revoked",
			`{"key_id":"01956b7e-0000-7000-8000-0000000000c9","reason":"member_removed"}`},
		{membership.APIKeyRevoked{KeyID: id(201), Reason: membership.KeyRevokedRoleChanged}, "api_key.revoked",
			`{"key_id":"01956b7e-0000-7000-8000-0000000000c9","reason":"role_changed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			require.Equal(t, tt.typ, tt.event.EventType())
			require.Equal(t, 1, tt.event.SchemaVersion())
			b, err := json.Marshal(tt.event)
			require.NoError(t, err)
			require.JSONEq(t, tt.json, string(b))
		})
	}
}

func TestHashToken_IsHexSHA256(t *testing.T) {
	// sha256("abc"), from FIPS 180-2.
	require.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", membership.HashToken("abc"))
}
