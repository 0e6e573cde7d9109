package projections

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/tenant"
)

func TestDirectory_ProjectsEveryTenantForRouting(t *testing.T) {
	f := isolatedFixture(t, 6)
	var ids []uuid.UUID
	for i := 0; i < 5; i++ {
		ids = append(ids, f.createTenant(t))
	}
	f.append(t, ids[1], tenant.StreamID, tenant.Suspended{Reason: tenant.ReasonPaymentFailed})
	f.append(t, ids[2], tenant.StreamID, tenant.Renamed{Name: mustName(t, "Renamed Inc")}, tenant.PlanChanged{From: domain.PlanPro, To: domain.PlanFree})

	// Two directory processes race over the same cursor; each event still counts once. They
	// step until every event is in: the gap-safe horizon is server-wide, so a transaction
	// held open by another test (in any database) can hold it back for a while.
	caughtUp := func() bool {
		got, err := FindTenant(context.Background(), f.pool, ids[2].String())
		return err == nil && got.Plan == "free"
	}
	var wg sync.WaitGroup
	deadline := time.Now().Add(30 * time.Second)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := &Directory{Store: f.store, Registry: f.reg, Logger: slog.New(slog.DiscardHandler)}
			for time.Now().Before(deadline) {
				n, err := d.Step(context.Background(), 3)
				require.NoError(t, err)
				if n == 0 {
					if caughtUp() {
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()

	got, err := FindTenant(context.Background(), f.pool, ids[1].String())
	require.NoError(t, err)
	require.Equal(t, "suspended", got.Status)
	require.Equal(t, "tenant_"+stripDashes(ids[1]), got.Schema)
	bySlug, err := FindTenant(context.Background(), f.pool, got.Slug)
	require.NoError(t, err)
	require.Equal(t, ids[1], bySlug.ID)
	renamed, err := FindTenant(context.Background(), f.pool, ids[2].String())
	require.NoError(t, err)
	require.Equal(t, []string{"Renamed Inc", "free", "active"}, []string{renamed.Name, renamed.Plan, renamed.Status})
	_, err = FindTenant(context.Background(), f.pool, "no-such-tenant")
	require.ErrorIs(t, err, ErrTenantNotFound)

	var all []TenantEntry
	after := uuid.Nil
	for {
		page, err := ListTenants(context.Background(), f.pool, after, 2)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].ID
	}
	require.Len(t, all, 5)

	// Without a tenant context the table itself shows nothing.
	var n int
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM tenantry.tenants`).Scan(&n))
	require.Zero(t, n)
}

func mustName(t *testing.T, s string) tenant.Name {
	n, err := tenant.ParseName(s)
	require.NoError(t, err)
	return n
}

func stripDashes(id uuid.UUID) string {
	b := []byte(id.String())
	out := b[:0]
	for _, c := range b {
		if c != '-' {
			out = append(out, c)
		}
	}
	return string(out)
}
