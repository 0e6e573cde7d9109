package app_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/membership"
)

func TestMembers(t *testing.T) {
	t.Parallel()
	f := newTenancy(t)
	ctx := context.Background()
	founder := f.signedUp(t, "members")
	id := founder.Tenant.ID
	invite := func(t *testing.T, email string, role domain.Role) (uuid.UUID, app.Invited) {
		t.Helper()
		addr, err := domain.ParseEmail(email)
		require.NoError(t, err)
		inv := uuid.Must(uuid.NewV7())
		out, err := f.members.Invite(ctx, app.InviteInput{Tenant: id, Plan: domain.PlanPro, InvitationID: inv, Email: addr, Role: role,
			InvitedBy: founder.Admin.ID, Meta: byTest})
		require.NoError(t, err)
		return inv, out
	}

	t.Run("InviteStoresOnlyTheTokensHash", func(t *testing.T) {
		inv, out := invite(t, "hashed@members.example", domain.RoleViewer)
		require.Equal(t, f.now.Add(f.members.InvitationTTL), out.ExpiresAt)
		ten, got, ok := app.ParseSecret(app.InvitationScheme, out.Token)
		require.True(t, ok)
		require.Equal(t, [2]uuid.UUID{id, inv}, [2]uuid.UUID{ten, got})
		var stored []membership.Invited
		for _, e := range f.stream(t, id, membership.StreamID) {
			if i, ok := domain.Deref(e).(membership.Invited); ok && i.InvitationID == inv {
				stored = append(stored, i)
			}
		}
		require.Len(t, stored, 1)
		require.Equal(t, membership.HashToken(out.Token), stored[0].TokenSHA256, "only the token's hash is stored")
	})

	t.Run("AcceptWithAWrongSecretIsRefused", func(t *testing.T) {
		inv, _ := invite(t, "guess@members.example", domain.RoleEditor)
		forged, _, _, err := app.NewSecret(app.InvitationScheme, id, inv) // right ids, other secret
		require.NoError(t, err)
		_, err = f.members.Accept(ctx, app.AcceptInput{Tenant: id, Plan: domain.PlanPro, InvitationID: inv, Token: forged, Meta: byTest})
		requireRefused(t, err, domain.CodeForbidden)
		_, err = f.members.Accept(ctx, app.AcceptInput{Tenant: id, Plan: domain.PlanPro, InvitationID: uuid.Must(uuid.NewV7()), Token: forged, Meta: byTest})
		requireRefused(t, err, domain.CodeNotFound)
		m, err := membership.Replay(f.stream(t, id, membership.StreamID))
		require.NoError(t, err)
		_, pending := m.Invitation(inv)
		require.True(t, pending, "a refused guess leaves the invitation open")
	})

	t.Run("AcceptMakesAMemberWithAKeyOfTheInvitedRole", func(t *testing.T) {
		inv, invited := invite(t, "joiner@members.example", domain.RoleEditor)
		out, err := f.members.Accept(ctx, app.AcceptInput{Tenant: id, Plan: domain.PlanPro, InvitationID: inv, Token: invited.Token, Meta: byTest})
		require.NoError(t, err)
		require.Equal(t, app.MemberSummary{ID: out.Member.ID, Email: "joiner@members.example", Role: "editor"}, out.Member)
		require.Equal(t, "editor", out.APIKey.Role)
		require.Equal(t, out.Member.ID, out.APIKey.MemberID)
		m, err := membership.Replay(f.stream(t, id, membership.StreamID))
		require.NoError(t, err)
		k, found := m.APIKey(out.APIKey.ID)
		require.True(t, found)
		require.Equal(t, membership.HashToken(out.APIKey.Key), k.KeySHA256)
		_, err = f.members.Accept(ctx, app.AcceptInput{Tenant: id, Plan: domain.PlanPro, InvitationID: inv, Token: invited.Token, Meta: byTest})
		requireRefused(t, err, domain.CodeNotFound) // accepted once only
	})

	t.Run("ChangeRoleAndRemove", func(t *testing.T) {
		inv, invited := invite(t, "mover@members.example", domain.RoleViewer)
		joined, err := f.members.Accept(ctx, app.AcceptInput{Tenant: id, Plan: domain.PlanPro, InvitationID: inv, Token: invited.Token, Meta: byTest})
		require.NoError(t, err)
		mem, seq, err := f.members.ChangeRole(ctx, app.Target{Tenant: id, ID: joined.Member.ID, Meta: byTest}, domain.RoleBillingManager)
		require.NoError(t, err)
		require.Equal(t, "billing_manager", mem.Role)
		require.Positive(t, seq)

		pending, _ := invite(t, "pending@members.example", domain.RoleViewer)
		_, err = f.members.Remove(ctx, app.Target{Tenant: id, ID: pending, Meta: byTest})
		requireRefused(t, err, domain.CodeNotFound) // an invitation's id removes nothing
		require.ErrorContains(t, err, "DELETE /v1/invitations/"+pending.String())
		_, err = f.members.Remove(ctx, app.Target{Tenant: id, ID: joined.Member.ID, Meta: byTest})
		require.NoError(t, err)
		m, err := membership.Replay(f.stream(t, id, membership.StreamID))
		require.NoError(t, err)
		_, still := m.Member(joined.Member.ID)
		require.False(t, still)
		k, _ := m.APIKey(joined.APIKey.ID)
		require.True(t, k.Revoked, "removing a member revokes their keys")
		_, still = m.Invitation(pending)
		require.True(t, still, "the invitation survived the refused removal")
		_, err = f.members.RevokeInvitation(ctx, app.Target{Tenant: id, ID: pending, Meta: byTest})
		require.NoError(t, err)
		_, err = f.members.RevokeInvitation(ctx, app.Target{Tenant: id, ID: pending, Meta: byTest})
		requireRefused(t, err, domain.CodeConflict)
	})
}

func TestAPIKeys_CreateTakesTheMembersRoleAndRevokeIsFinal(t *testing.T) {
	t.Parallel()
	f := newTenancy(t)
	ctx := context.Background()
	founder := f.signedUp(t, "keys")
	id := founder.Tenant.ID

	keyID := uuid.Must(uuid.NewV7())
	in := app.CreateKeyInput{Tenant: id, KeyID: keyID, Member: founder.Admin.ID, Name: "ci", Meta: byTest}
	key, seq, err := f.keys.Create(ctx, in)
	require.NoError(t, err)
	require.Positive(t, seq)
	require.Equal(t, app.NewKey{ID: keyID, Key: key.Key, Prefix: key.Prefix, Role: "admin", MemberID: founder.Admin.ID, Name: "ci"}, key)
	_, _, err = f.keys.Create(ctx, in)
	requireRefused(t, err, domain.CodeConflict) // a retried id meets the first key

	viewer := app.CreateKeyInput{Tenant: id, KeyID: uuid.Must(uuid.NewV7()), Member: founder.Admin.ID, Role: domain.RoleViewer, Name: "ro", Meta: byTest}
	ro, _, err := f.keys.Create(ctx, viewer)
	require.NoError(t, err)
	require.Equal(t, "viewer", ro.Role)
	_, _, err = f.keys.Create(ctx, app.CreateKeyInput{Tenant: id, KeyID: uuid.Must(uuid.NewV7()), Member: uuid.Must(uuid.NewV7()), Name: "x", Meta: byTest})
	requireRefused(t, err, domain.CodeNotFound)

	_, err = f.keys.Revoke(ctx, app.Target{Tenant: id, ID: keyID, Meta: byTest})
	require.NoError(t, err)
	m, err := membership.Replay(f.stream(t, id, membership.StreamID))
	require.NoError(t, err)
	k, _ := m.APIKey(keyID)
	require.True(t, k.Revoked)
	_, err = f.keys.Revoke(ctx, app.Target{Tenant: id, ID: keyID, Meta: byTest})
	requireRefused(t, err, domain.CodeConflict)
}
