package projections

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/eventstore"
)

// membershipCommand runs decide against the tenant's membership stream, as the API does.
func (f *fixture) membershipCommand(t testing.TB, id uuid.UUID, decide func(*membership.Membership) ([]domain.Event, error)) {
	t.Helper()
	_, _, err := app.Command[*membership.Membership]{
		Store: eventstore.DomainStore{Store: f.store, Registry: f.reg}, Tenant: id, Stream: membership.StreamID,
		New: func() *membership.Membership { return &membership.Membership{} }, Metadata: eventstore.Metadata{Actor: "test"},
	}.Run(context.Background(), decide)
	require.NoError(t, err)
}

// keyEventTimes returns when each api_key.* event of the tenant was recorded, by key id and type.
func (f *fixture) keyEventTimes(t testing.TB, id uuid.UUID) map[string]time.Time {
	t.Helper()
	evs, err := f.store.ReadStream(context.Background(), id, membership.StreamID, 1, eventstore.MaxPage)
	require.NoError(t, err)
	out := map[string]time.Time{}
	for i := range evs {
		p, err := f.reg.DecodeEvent(&evs[i])
		require.NoError(t, err)
		switch ev := domain.Deref(p).(type) {
		case membership.APIKeyCreated:
			out[ev.KeyID.String()+" created"] = evs[i].RecordedAt
		case membership.APIKeyRevoked:
			out[ev.KeyID.String()+" revoked"] = evs[i].RecordedAt
		}
	}
	return out
}

type apiKeyRow struct {
	KeyID, MemberID     uuid.UUID
	Prefix, Role, Name  string
	KeyHash             []byte
	CreatedAt           time.Time
	RevokedAt           *time.Time
	RevokedReason       *string
	TenantMatchesSchema bool
}

func TestProjector_APIKeysFollowTheirMembers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	id := f.createTenant(t)
	var founder uuid.UUID
	bob, carol := uuid.New(), uuid.New()
	keyOf := map[string]uuid.UUID{"dashboard": uuid.New(), "bob-ci": uuid.New(), "bob-ingest": uuid.New(), "carol": uuid.New()}
	hashOf := func(k uuid.UUID) string { return membership.HashToken("secret-" + k.String()) }
	now := time.Now().UTC()
	join := func(member uuid.UUID, addr string, role domain.Role) {
		inv := uuid.New()
		mail, err := domain.ParseEmail(addr)
		require.NoError(t, err)
		f.membershipCommand(t, id, func(m *membership.Membership) ([]domain.Event, error) {
			founder = m.Members()[0].ID
			return m.Invite(inv, mail, role, founder, membership.HashToken(inv.String()), now.Add(time.Hour), 10, now)
		})
		f.membershipCommand(t, id, func(m *membership.Membership) ([]domain.Event, error) {
			return m.Accept(inv, membership.HashToken(inv.String()), member, 10, now)
		})
	}
	createKey := func(name string, member func() uuid.UUID, role domain.Role, label string) {
		k := keyOf[name]
		f.membershipCommand(t, id, func(m *membership.Membership) ([]domain.Event, error) {
			return m.CreateAPIKey(k, member(), role, label, "tk_"+name, hashOf(k), now)
		})
	}
	join(bob, "bob@example.com", domain.RoleEditor)
	join(carol, "carol@example.com", domain.RoleEditor)
	createKey("dashboard", func() uuid.UUID { return founder }, domain.RoleViewer, "Read-only dashboard")
	createKey("bob-ci", func() uuid.UUID { return bob }, domain.RoleEditor, "")
	createKey("bob-ingest", func() uuid.UUID { return bob }, domain.RoleEditor, "Ingest")
	createKey("carol", func() uuid.UUID { return carol }, domain.RoleEditor, "Carol's laptop")
	f.membershipCommand(t, id, func(m *membership.Membership) ([]domain.Event, error) {
		return m.RevokeAPIKey(keyOf["dashboard"], now)
	})
	f.membershipCommand(t, id, func(m *membership.Membership) ([]domain.Event, error) { return m.Remove(bob, now) })
	f.membershipCommand(t, id, func(m *membership.Membership) ([]domain.Event, error) {
		return m.ChangeRole(carol, domain.RoleViewer, now)
	})

	p := f.projector()
	f.projectAll(t, p, id)
	at := f.keyEventTimes(t, id)
	require.Len(t, at, 8, "four keys created, each revoked once")
	rows := map[uuid.UUID]apiKeyRow{}
	f.inTenant(t, id, func(tx pgx.Tx) {
		r, err := tx.Query(context.Background(), `SELECT key_id, member_id, prefix, role, name, key_hash, created_at,
			revoked_at, revoked_reason, tenant_id = $1 FROM api_keys`, id)
		require.NoError(t, err)
		list, err := pgx.CollectRows(r, pgx.RowToStructByPos[apiKeyRow])
		require.NoError(t, err)
		for _, row := range list {
			rows[row.KeyID] = row
		}
	})
	require.Len(t, rows, 4)
	reason := func(s string) *string { return &s }
	want := map[string]struct {
		member func() uuid.UUID
		role   string
		label  string
		reason *string
	}{
		"dashboard":  {func() uuid.UUID { return founder }, "viewer", "Read-only dashboard", reason(membership.KeyRevokedByAdmin)},
		"bob-ci":     {func() uuid.UUID { return bob }, "editor", "", reason(membership.KeyRevokedMemberRemoved)},
		"bob-ingest": {func() uuid.UUID { return bob }, "editor", "Ingest", reason(membership.KeyRevokedMemberRemoved)},
		"carol":      {func() uuid.UUID { return carol }, "editor", "Carol's laptop", reason(membership.KeyRevokedRoleChanged)},
	}
	for name, w := range want {
		k := keyOf[name]
		row, ok := rows[k]
		require.True(t, ok, name)
		hash, err := hex.DecodeString(hashOf(k))
		require.NoError(t, err)
		require.Equal(t, apiKeyRow{
			KeyID: k, MemberID: w.member(), Prefix: "tk_" + name, Role: w.role, Name: w.label, KeyHash: hash,
			CreatedAt: row.CreatedAt, RevokedAt: row.RevokedAt, RevokedReason: w.reason, TenantMatchesSchema: true,
		}, row, name)
		require.NotNil(t, row.RevokedAt, name)
		require.True(t, row.RevokedAt.Equal(at[k.String()+" revoked"]), name)
		require.True(t, row.CreatedAt.Equal(at[k.String()+" created"]), name)
		require.Len(t, row.KeyHash, 32, "the raw SHA-256, not its hex")
	}

	// A key that is still active reads as such; then the whole model survives a rebuild.
	live := uuid.New()
	f.membershipCommand(t, id, func(m *membership.Membership) ([]domain.Event, error) {
		return m.CreateAPIKey(live, founder, domain.RoleAuditor, "", "tk_live", hashOf(live), now)
	})
	f.projectAll(t, p, id)
	f.inTenant(t, id, func(tx pgx.Tx) {
		var revoked bool
		var reason *string
		require.NoError(t, tx.QueryRow(context.Background(), `SELECT revoked_at IS NOT NULL, revoked_reason FROM api_keys WHERE key_id = $1`, live).
			Scan(&revoked, &reason))
		require.False(t, revoked)
		require.Nil(t, reason)
	})
	before := f.snapshot(t, id)
	require.Equal(t, 5, strings.Count(before["api_keys"], "|")+1, "five key rows: %s", before["api_keys"])
	require.NoError(t, p.Rebuild(context.Background(), id, nil))
	require.Equal(t, before, f.snapshot(t, id))
}
