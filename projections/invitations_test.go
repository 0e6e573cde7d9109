package projections

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/eventstore"
)

// Streams written before invitation.revoked had a reason (version 1) still project and fold:
// the registry upcasts them. The live list leaves out revoked and expired invitations.
func TestProjector_InvitationRevokedV1StillProjectsAndFolds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	id := f.createTenant(t)
	now := time.Now().UTC()
	p := f.projector()
	f.projectAll(t, p, id)
	var founder uuid.UUID
	f.inTenant(t, id, func(tx pgx.Tx) {
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT member_id FROM members`).Scan(&founder))
	})
	invite := func(addr string, expires time.Time) uuid.UUID {
		inv := uuid.Must(uuid.NewV7())
		email, err := domain.ParseEmail(addr)
		require.NoError(t, err)
		f.append(t, id, membership.StreamID, membership.Invited{InvitationID: inv, Email: email, Role: domain.RoleEditor,
			InvitedBy: founder, TokenSHA256: strings.Repeat("ab", 32), ExpiresAt: expires})
		return inv
	}
	revokedV1, live, expired := invite("old@example.com", now.Add(time.Hour)), invite("live@example.com", now.Add(time.Hour)),
		invite("gone@example.com", now.Add(-time.Minute))
	_, err := f.store.Append(context.Background(), id, membership.StreamID, eventstore.Any, eventstore.NewEvent{
		Type: membership.TypeInvitationRevoked, SchemaVersion: 1, Data: []byte(`{"invitation_id":"` + revokedV1.String() + `"}`),
		Metadata: eventstore.Metadata{Actor: "test"},
	})
	require.NoError(t, err)
	f.projectAll(t, p, id)

	f.inTenant(t, id, func(tx pgx.Tx) {
		var status string
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT status FROM invitations WHERE invitation_id = $1`, revokedV1).Scan(&status))
		require.Equal(t, "revoked", status)
	})
	require.NoError(t, f.store.InTenant(context.Background(), id, true, func(tx *eventstore.Tx) error {
		list, err := tx.LiveInvitations(context.Background(), now, uuid.Nil, 10)
		require.NoError(t, err)
		require.Len(t, list, 1, "neither the revoked nor the expired one (%s)", expired)
		require.Equal(t, live, list[0].InvitationID)
		list, err = tx.LiveInvitations(context.Background(), now, live, 10)
		require.NoError(t, err)
		require.Empty(t, list, "paged after the last one")
		return nil
	}))

	stored, err := f.store.ReadStream(context.Background(), id, membership.StreamID, 0, eventstore.MaxPage)
	require.NoError(t, err)
	var evs []domain.Event
	for i := range stored {
		p, err := f.reg.DecodeEvent(&stored[i])
		require.NoError(t, err)
		evs = append(evs, p)
	}
	m, err := membership.Replay(evs)
	require.NoError(t, err)
	_, pending := m.Invitation(revokedV1)
	require.False(t, pending, "the v1 revocation folds")
	_, pending = m.Invitation(live)
	require.True(t, pending)
}
