package projections

import (
	"context"
	"log/slog"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/billing"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/eventstore"
)

func TestDirectory_ProjectsEveryTenantForRouting(t *testing.T) {
	f := isolatedFixture(t, 6)
	var ids []uuid.UUID
	for i := 0; i < 5; i++ {
		ids = append(ids, f.createTenant(t))
	}
	f.append(t, ids[1], tenant.StreamID, tenant.Suspended{Reason: tenant.ReasonPaymentFailed})
	f.append(t, ids[2], tenant.StreamID, tenant.Renamed{Name: mustName(t, "Renamed Inc")}, tenant.PlanChanged{From: domain.PlanPro, FromVersion: 1, To: domain.PlanFree, ToVersion: 1, Interval: plans.Monthly})
	f.append(t, ids[3], billing.AccountStreamID, billing.CustomerLinked{CustomerID: "cus_dir", SubscriptionID: "sub_dir",
		SubscriptionItemID: "si_dir", Plan: domain.PlanPro, PriceID: "price_x"})

	// The directory follows relayed messages: every event in order, then all of them again,
	// as a relay restarting from an older cursor delivers them. Each counts once.
	var msgs []*message.Message
	for _, id := range ids {
		events, err := f.store.ReadTenant(context.Background(), id, 0, 0)
		require.NoError(t, err)
		for i := range events { // one message per event
			m, err := eventstore.EventsMessage(events[i : i+1])
			require.NoError(t, err)
			msgs = append(msgs, m)
		}
		m, err := eventstore.EventsMessage(events) // and one with all of them
		require.NoError(t, err)
		msgs = append(msgs, m)
	}
	// Then once more in reverse, as consumers in several processes may see them.
	ch := make(chan *message.Message, 3*len(msgs))
	for round := 0; round < 2; round++ {
		for _, m := range msgs {
			ch <- m.Copy()
		}
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		ch <- msgs[i].Copy()
	}
	close(ch)
	d := &Directory{Store: f.store, Registry: f.reg, Logger: slog.New(slog.DiscardHandler)}
	d.Consume(context.Background(), ch)
	require.Zero(t, d.Skipped())

	got, err := f.store.FindTenant(context.Background(), ids[1].String())
	require.NoError(t, err)
	require.Equal(t, "suspended", got.Status)
	require.Equal(t, "tenant_"+stripDashes(ids[1]), got.Schema)
	bySlug, err := f.store.FindTenant(context.Background(), got.Slug)
	require.NoError(t, err)
	require.Equal(t, ids[1], bySlug.ID)
	renamed, err := f.store.FindTenant(context.Background(), ids[2].String())
	require.NoError(t, err)
	require.Equal(t, []string{"Renamed Inc", "free", "active"}, []string{renamed.Name, renamed.Plan, renamed.Status})
	linked, err := f.store.FindTenantByCustomer(context.Background(), "cus_dir")
	require.NoError(t, err)
	require.Equal(t, ids[3], linked.ID)
	_, err = f.store.FindTenant(context.Background(), "no-such-tenant")
	require.ErrorIs(t, err, eventstore.ErrTenantNotFound)

	var all []eventstore.TenantEntry
	after := uuid.Nil
	for {
		page, err := f.store.ListTenants(context.Background(), after, 2)
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
