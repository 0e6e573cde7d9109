package membership_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
)

var (
	key1 = id(201)
	key2 = id(202)
	key3 = id(203)
	key4 = id(204)
)

// manyKeys returns the events creating n keys for the founder, ids from 1000.
func manyKeys(n int) []domain.Event {
	out := make([]domain.Event, n)
	for i := range out {
		k := id(0)
		k[13], k[14], k[15] = 0x10, byte(i>>8), byte(i)
		out[i] = membership.APIKeyCreated{KeyID: k, MemberID: founder, Role: domain.RoleViewer,
			Prefix: "bulk_" + k.String()[24:], KeySHA256: keyHash(k)}
	}
	return out
}

func TestCreateAPIKey_ChecksMemberRoleAndLimit(t *testing.T) {
	withBob := events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleEditor))
	create := func(key, member uuid.UUID, role domain.Role) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) {
			return m.CreateAPIKey(key, member, role, "CI deploys", keyPrefix(key), keyHash(key), now)
		}
	}
	limit := events(founded(t), manyKeys(membership.MaxActiveAPIKeys))
	run(t, []commandCase{
		{name: "AdminKeyWithAdminRole", given: withBob, when: create(key1, founder, domain.RoleAdmin),
			want: []domain.Event{keyCreated(key1, founder, domain.RoleAdmin)}},
		{name: "AdminKeyWithAnyRole", given: withBob, when: create(key1, founder, domain.RoleAuditor),
			want: []domain.Event{keyCreated(key1, founder, domain.RoleAuditor)}},
		{name: "MemberKeyWithOwnRole", given: withBob, when: create(key1, bob, domain.RoleEditor),
			want: []domain.Event{keyCreated(key1, bob, domain.RoleEditor)}},
		{name: "MemberKeyWithLesserRole", given: withBob, code: domain.CodeForbidden, message: "keys of members with the editor role must have the editor role",
			when: create(key1, bob, domain.RoleViewer)},
		{name: "MemberKeyWithAdminRole", given: withBob, code: domain.CodeForbidden, when: create(key1, bob, domain.RoleAdmin)},
		{name: "PromotedMemberKeyWithAnyRole",
			given: events(withBob, membership.RoleChanged{MemberID: bob, From: domain.RoleEditor, To: domain.RoleAdmin}),
			when:  create(key1, bob, domain.RoleBillingManager),
			want:  []domain.Event{keyCreated(key1, bob, domain.RoleBillingManager)}},
		{name: "EmptyMembership", code: domain.CodeNotFound, when: create(key1, founder, domain.RoleAdmin)},
		// Input validation.
		{name: "NilKeyID", given: withBob, code: domain.CodeInvalid, field: "key_id", when: create(uuid.Nil, founder, domain.RoleAdmin)},
		{name: "NilMemberID", given: withBob, code: domain.CodeInvalid, field: "member_id", when: create(key1, uuid.Nil, domain.RoleAdmin)},
		{name: "UnsetRole", given: withBob, code: domain.CodeInvalid, field: "role", when: create(key1, founder, domain.Role{})},
		// Identity.
		{name: "KeyIDActive", given: events(withBob, keyCreated(key1, bob, domain.RoleEditor)), code: domain.CodeConflict,
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.CreateAPIKey(key1, founder, domain.RoleAdmin, "", "other", keyHash(key2), now)
			}},
		{name: "KeyIDRevoked", code: domain.CodeConflict,
			given: events(withBob, keyCreated(key1, bob, domain.RoleEditor), keyRevoked(key1, membership.KeyRevokedByAdmin)),
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.CreateAPIKey(key1, founder, domain.RoleAdmin, "", "other", keyHash(key2), now)
			}},
		{name: "PrefixOfActiveKey", given: events(withBob, keyCreated(key1, bob, domain.RoleEditor)),
			code: domain.CodeConflict, message: "prefix",
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.CreateAPIKey(key2, founder, domain.RoleAdmin, "", keyPrefix(key1), keyHash(key2), now)
			}},
		{name: "PrefixOfRevokedKey", code: domain.CodeConflict, message: "prefix",
			given: events(withBob, keyCreated(key1, bob, domain.RoleEditor), keyRevoked(key1, membership.KeyRevokedByAdmin)),
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.CreateAPIKey(key2, founder, domain.RoleAdmin, "", keyPrefix(key1), keyHash(key2), now)
			}},
		// The member.
		{name: "UnknownMember", given: withBob, code: domain.CodeNotFound, message: "member not found",
			when: create(key1, carol, domain.RoleViewer)},
		{name: "RemovedMember", given: events(withBob, membership.Removed{MemberID: bob}), code: domain.CodeNotFound,
			when: create(key1, bob, domain.RoleEditor)},
		{name: "PendingInviteeIsNotAMember", code: domain.CodeNotFound,
			given: events(founded(t), invited(t, inv1, "bob@example.com", domain.RoleViewer, later)),
			when:  create(key1, inv1, domain.RoleViewer)},
		// At most MaxActiveAPIKeys active keys per tenant.
		{name: "LastKey", given: events(founded(t), manyKeys(membership.MaxActiveAPIKeys-1)),
			when: create(key1, founder, domain.RoleAdmin), want: []domain.Event{keyCreated(key1, founder, domain.RoleAdmin)}},
		{name: "TooManyKeys", given: limit, code: domain.CodeLimit, field: "api_keys", message: "100 active API keys",
			when: create(key1, founder, domain.RoleAdmin)},
		{name: "RevokedKeysDoNotCount", given: events(limit, keyRevoked(manyKeys(1)[0].(membership.APIKeyCreated).KeyID, membership.KeyRevokedByAdmin)),
			when: create(key1, founder, domain.RoleAdmin), want: []domain.Event{keyCreated(key1, founder, domain.RoleAdmin)}},
	})
}

func TestCreateAPIKey_ValidatesPrefixHashAndName(t *testing.T) {
	type input struct{ name, prefix, hash string }
	valid := input{"CI deploys", "tk_live_1", keyHash(key1)}
	tests := []struct {
		name  string
		in    input
		field string // empty when the input is valid
	}{
		{"Valid", valid, ""},
		{"NoName", input{"", valid.prefix, valid.hash}, ""},
		{"NameOf100Characters", input{strings.Repeat("é", 100), valid.prefix, valid.hash}, ""},
		{"NameOf101Characters", input{strings.Repeat("a", 101), valid.prefix, valid.hash}, "name"},
		{"NameWithNewline", input{"CI\ndeploys", valid.prefix, valid.hash}, "name"},
		{"NameWithTab", input{"CI\tdeploys", valid.prefix, valid.hash}, "name"},
		{"NameWithDelete", input{"CI\x7f", valid.prefix, valid.hash}, "name"},
		{"NameNotUTF8", input{"CI \xff", valid.prefix, valid.hash}, "name"},
		{"NameWithLeadingSpace", input{" CI", valid.prefix, valid.hash}, "name"},
		{"NameWithTrailingSpace", input{"CI ", valid.prefix, valid.hash}, "name"},
		{"PrefixOfOneCharacter", input{valid.name, "k", valid.hash}, ""},
		{"PrefixOf64Characters", input{valid.name, strings.Repeat("k", 64), valid.hash}, ""},
		{"PrefixOfPunctuation", input{valid.name, "!~._-", valid.hash}, ""},
		{"EmptyPrefix", input{valid.name, "", valid.hash}, "prefix"},
		{"PrefixOf65Characters", input{valid.name, strings.Repeat("k", 65), valid.hash}, "prefix"},
		{"PrefixWithSpace", input{valid.name, "tk live", valid.hash}, "prefix"},
		{"PrefixWithTab", input{valid.name, "tk\tlive", valid.hash}, "prefix"},
		{"PrefixWithDelete", input{valid.name, "tk\x7f", valid.hash}, "prefix"},
		{"PrefixNotASCII", input{valid.name, "tké", valid.hash}, "prefix"},
		{"EmptyHash", input{valid.name, valid.prefix, ""}, "key_sha256"},
		{"ShortHash", input{valid.name, valid.prefix, valid.hash[:63]}, "key_sha256"},
		{"UppercaseHash", input{valid.name, valid.prefix, strings.ToUpper(valid.hash)}, "key_sha256"},
		{"HashNotHex", input{valid.name, valid.prefix, strings.Repeat("g", 64)}, "key_sha256"},
		{"RawKeyInsteadOfHash", input{valid.name, valid.prefix, "tk_live_1.secret"}, "key_sha256"},
	}
	var cases []commandCase
	for _, tt := range tests {
		c := commandCase{name: tt.name, given: events(founded(t)),
			when: func(m *membership.Membership) ([]domain.Event, error) {
				return m.CreateAPIKey(key1, founder, domain.RoleEditor, tt.in.name, tt.in.prefix, tt.in.hash, now)
			}}
		if tt.field == "" {
			c.want = []domain.Event{membership.APIKeyCreated{KeyID: key1, MemberID: founder, Role: domain.RoleEditor,
				Name: tt.in.name, Prefix: tt.in.prefix, KeySHA256: tt.in.hash}}
		} else {
			c.code, c.field = domain.CodeInvalid, tt.field
		}
		cases = append(cases, c)
	}
	run(t, cases)
}

func TestRevokeAPIKey_OnlyActiveKeys(t *testing.T) {
	withKey := events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleEditor),
		keyCreated(key1, bob, domain.RoleEditor))
	revoke := func(key uuid.UUID) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.RevokeAPIKey(key, now) }
	}
	run(t, []commandCase{
		{name: "Active", given: withKey, when: revoke(key1), want: []domain.Event{keyRevoked(key1, membership.KeyRevokedByAdmin)}},
		{name: "Unknown", given: withKey, code: domain.CodeNotFound, when: revoke(key2)},
		{name: "AlreadyRevoked", given: events(withKey, keyRevoked(key1, membership.KeyRevokedByAdmin)),
			code: domain.CodeConflict, message: "already revoked", when: revoke(key1)},
		{name: "RevokedWithItsMember",
			given: events(withKey, membership.Removed{MemberID: bob}, keyRevoked(key1, membership.KeyRevokedMemberRemoved)),
			code:  domain.CodeConflict, when: revoke(key1)},
		{name: "EmptyMembership", code: domain.CodeNotFound, when: revoke(key1)},
	})
}

func TestRemove_RevokesTheMembersKeys(t *testing.T) {
	withKeys := events(founded(t),
		withMember(t, bob, inv1, "bob@example.com", domain.RoleAdmin),
		withMember(t, carol, inv2, "carol@example.com", domain.RoleViewer),
		// Created out of key id order: the revocations come sorted.
		keyCreated(key3, bob, domain.RoleViewer),
		keyCreated(key1, bob, domain.RoleAdmin),
		keyCreated(key2, bob, domain.RoleEditor), keyRevoked(key2, membership.KeyRevokedByAdmin),
		keyCreated(key4, carol, domain.RoleViewer),
	)
	remove := func(member uuid.UUID) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.Remove(member, now) }
	}
	run(t, []commandCase{
		{name: "MemberWithKeys", given: withKeys, when: remove(bob), want: []domain.Event{
			membership.Removed{MemberID: bob},
			keyRevoked(key1, membership.KeyRevokedMemberRemoved),
			keyRevoked(key3, membership.KeyRevokedMemberRemoved),
		}},
		{name: "OtherMember", given: withKeys, when: remove(carol), want: []domain.Event{
			membership.Removed{MemberID: carol},
			keyRevoked(key4, membership.KeyRevokedMemberRemoved),
		}},
		{name: "MemberWithoutKeys", given: withKeys, when: remove(founder),
			want: []domain.Event{membership.Removed{MemberID: founder}}},
		{name: "MemberWithOnlyRevokedKeys", given: events(withKeys, keyRevoked(key4, membership.KeyRevokedByAdmin)),
			when: remove(carol), want: []domain.Event{membership.Removed{MemberID: carol}}},
		{name: "LastAdminKeepsKeys", given: events(withKeys, membership.Removed{MemberID: founder}), code: domain.CodeConflict,
			when: remove(bob)},
	})
}

func TestChangeRole_RevokesKeysTheNewRoleDoesNotCover(t *testing.T) {
	withKeys := events(founded(t),
		withMember(t, bob, inv1, "bob@example.com", domain.RoleAdmin),
		keyCreated(key4, bob, domain.RoleViewer),
		keyCreated(key1, bob, domain.RoleAdmin),
		keyCreated(key2, bob, domain.RoleEditor),
		keyCreated(key3, bob, domain.RoleAuditor), keyRevoked(key3, membership.KeyRevokedByAdmin),
		keyCreated(id(205), founder, domain.RoleViewer),
	)
	editorKey := events(founded(t), withMember(t, carol, inv1, "carol@example.com", domain.RoleEditor),
		keyCreated(key1, carol, domain.RoleEditor))
	change := func(member uuid.UUID, role domain.Role) func(*membership.Membership) ([]domain.Event, error) {
		return func(m *membership.Membership) ([]domain.Event, error) { return m.ChangeRole(member, role, now) }
	}
	run(t, []commandCase{
		{name: "AdminToEditorKeepsEditorKeys", given: withKeys, when: change(bob, domain.RoleEditor), want: []domain.Event{
			membership.RoleChanged{MemberID: bob, From: domain.RoleAdmin, To: domain.RoleEditor},
			keyRevoked(key1, membership.KeyRevokedRoleChanged),
			keyRevoked(key4, membership.KeyRevokedRoleChanged),
		}},
		{name: "AdminToViewerKeepsViewerKeys", given: withKeys, when: change(bob, domain.RoleViewer), want: []domain.Event{
			membership.RoleChanged{MemberID: bob, From: domain.RoleAdmin, To: domain.RoleViewer},
			keyRevoked(key1, membership.KeyRevokedRoleChanged),
			keyRevoked(key2, membership.KeyRevokedRoleChanged),
		}},
		{name: "AdminToBillingManagerRevokesAll", given: withKeys, when: change(bob, domain.RoleBillingManager),
			want: []domain.Event{
				membership.RoleChanged{MemberID: bob, From: domain.RoleAdmin, To: domain.RoleBillingManager},
				keyRevoked(key1, membership.KeyRevokedRoleChanged),
				keyRevoked(key2, membership.KeyRevokedRoleChanged),
				keyRevoked(key4, membership.KeyRevokedRoleChanged),
			}},
		{name: "PromotionToAdminKeepsAll", given: editorKey, when: change(carol, domain.RoleAdmin),
			want: []domain.Event{membership.RoleChanged{MemberID: carol, From: domain.RoleEditor, To: domain.RoleAdmin}}},
		{name: "EditorToViewer", given: editorKey, when: change(carol, domain.RoleViewer), want: []domain.Event{
			membership.RoleChanged{MemberID: carol, From: domain.RoleEditor, To: domain.RoleViewer},
			keyRevoked(key1, membership.KeyRevokedRoleChanged),
		}},
		{name: "OtherMembersKeysStay", given: withKeys, when: change(founder, domain.RoleAuditor),
			want: []domain.Event{
				membership.RoleChanged{MemberID: founder, From: domain.RoleAdmin, To: domain.RoleAuditor},
				keyRevoked(id(205), membership.KeyRevokedRoleChanged),
			}},
		{name: "RefusedChangeRevokesNothing", given: editorKey, code: domain.CodeConflict, when: change(founder, domain.RoleViewer)},
	})
}

func TestAPIKeys_ReturnSortedCopies(t *testing.T) {
	m := given(t, events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleEditor),
		keyCreated(key2, bob, domain.RoleEditor),
		keyCreated(key1, founder, domain.RoleAuditor),
		keyRevoked(key2, membership.KeyRevokedByAdmin),
	)...)
	require.Equal(t, []membership.APIKey{
		{KeyID: key1, MemberID: founder, Role: domain.RoleAuditor, Name: "CI deploys", Prefix: keyPrefix(key1), KeySHA256: keyHash(key1)},
		{KeyID: key2, MemberID: bob, Role: domain.RoleEditor, Name: "CI deploys", Prefix: keyPrefix(key2), KeySHA256: keyHash(key2), Revoked: true},
	}, m.APIKeys())
	got, ok := m.APIKey(key2)
	require.True(t, ok)
	require.True(t, got.Revoked)
	_, ok = m.APIKey(key3)
	require.False(t, ok)

	keys := m.APIKeys()
	keys[0].Role = domain.RoleAdmin
	require.Equal(t, domain.RoleAuditor, m.APIKeys()[0].Role, "APIKeys must return a copy")
	require.Equal(t, 6, m.Version())

	var empty membership.Membership
	require.Empty(t, empty.APIKeys())
	_, ok = empty.APIKey(key1)
	require.False(t, ok)
}

// TestAPIKeys_ReplayFromStoredJSON drives the key commands, stores every event
// as JSON, decodes it the way the event store does (into a pointer) and replays.
func TestAPIKeys_ReplayFromStoredJSON(t *testing.T) {
	var m membership.Membership
	var history []domain.Event
	step := func(evs []domain.Event, err error) {
		t.Helper()
		require.NoError(t, err)
		for _, e := range evs {
			require.NoError(t, m.Apply(e))
			data, err := json.Marshal(e)
			require.NoError(t, err)
			back := reflect.New(reflect.TypeOf(e)).Interface().(domain.Event)
			require.NoError(t, json.Unmarshal(data, back))
			history = append(history, back)
		}
	}
	step(m.AddFounder(founder, email(t, "ana@example.com"), now))
	step(m.Invite(inv1, email(t, "bob@example.com"), domain.RoleEditor, founder, tokenHash(inv1), later, 3, now))
	step(m.Accept(inv1, tokenHash(inv1), bob, 3, now))
	step(m.CreateAPIKey(key1, founder, domain.RoleViewer, "read-only dashboard", "tk_a", keyHash(key1), now))
	step(m.CreateAPIKey(key2, bob, domain.RoleEditor, "", "tk_b", keyHash(key2), now))
	step(m.CreateAPIKey(key3, bob, domain.RoleEditor, "ingest", "tk_c", keyHash(key3), now))
	step(m.RevokeAPIKey(key2, now))
	step(m.ChangeRole(bob, domain.RoleAdmin, now))
	step(m.CreateAPIKey(key4, bob, domain.RoleAuditor, "audit export", "tk_d", keyHash(key4), now))
	step(m.Remove(bob, now))
	require.Len(t, history, 12, "the removal revoked bob's two active keys")

	replayed, err := membership.Replay(history)
	require.NoError(t, err)
	require.Equal(t, snap(&m), snap(replayed))
	var active []uuid.UUID
	for _, k := range replayed.APIKeys() {
		if !k.Revoked {
			active = append(active, k.KeyID)
		}
	}
	require.Equal(t, []uuid.UUID{key1}, active)
}

func TestReplay_RejectsAPIKeyEventsThatCannotBeFolded(t *testing.T) {
	withKey := events(founded(t), keyCreated(key1, founder, domain.RoleAdmin))
	tests := []struct {
		name   string
		events []domain.Event
	}{
		{"CreateBeforeFounder", events(keyCreated(key1, founder, domain.RoleAdmin))},
		{"RevokeBeforeFounder", events(keyRevoked(key1, membership.KeyRevokedByAdmin))},
		{"DuplicateKeyID", events(withKey, keyCreated(key1, founder, domain.RoleViewer))},
		{"KeyOfUnknownMember", events(founded(t), keyCreated(key1, bob, domain.RoleViewer))},
		{"KeyOfRemovedMember", events(founded(t), withMember(t, bob, inv1, "bob@example.com", domain.RoleViewer),
			membership.Removed{MemberID: bob}, keyCreated(key1, bob, domain.RoleViewer))},
		{"RevokeUnknownKey", events(withKey, keyRevoked(key2, membership.KeyRevokedByAdmin))},
		{"RevokeTwice", events(withKey, keyRevoked(key1, membership.KeyRevokedByAdmin), keyRevoked(key1, membership.KeyRevokedByAdmin))},
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
