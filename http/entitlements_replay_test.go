package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/entitlements"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
)

// randomRecord is a usage record of one of the catalog's metrics (or an undeclared one), of
// a quantity its scale allows, dated now or, one time in four, in the previous month.
func randomRecord(rng *rand.Rand, now time.Time) map[string]any {
	metrics := []struct {
		name  string
		scale int
		max   int
	}{{"api_calls", 0, 9}, {"egress_gb", 3, 2500}, {"storage_gb", 2, 1500}, {"seats_used", 0, 9}, {"events", 0, 5}, {"widgets", 0, 3}}
	m := metrics[rng.IntN(len(metrics))]
	n := 1 + rng.IntN(m.max)
	quantity := json.Number(fmt.Sprint(n))
	if m.scale > 0 {
		quantity = json.Number(usage.NewDecimal(usage.AmountOf(int64(n)), m.scale).String())
	}
	start := usage.Period(now)
	at := now.Add(-time.Duration(rng.Int64N(int64(6 * time.Hour))))
	if at.Before(start) {
		at = start.Add(time.Duration(rng.Int64N(int64(now.Sub(start) + 1))))
	}
	if rng.IntN(4) == 0 { // the previous month: counted there, not in the current period
		at = start.Add(-time.Second - time.Duration(rng.Int64N(int64(72*time.Hour))))
	}
	return map[string]any{"metric": m.name, "quantity": quantity, "occurred_at": at.Truncate(time.Second).Format(time.RFC3339),
		"idempotency_key": uuid.NewString()}
}

// The entitlements served from memory equal a replay: the tenant's events read back from
// the store, their usage records decoded and folded (usage.FoldPeriod) into the current
// period's totals, and entitlements.Of on the tenant's plan version as the catalog's events
// fold it; through random single and batch usage (some of it dated in the previous month)
// and a plan change half-way.
func TestEntitlements_EqualAReplayOfTheEvents(t *testing.T) {
	t.Parallel()
	a := newEntitlementsAPI(t)
	ten := a.createTenant("pro")
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 20))
	var last int64
	for i := 0; i < 40; i++ {
		if i == 20 {
			r := a.do(req{method: "PUT", path: "/v1/tenant/plan", token: ten.key, body: map[string]any{"plan": "enterprise"}})
			require.Equal(t, http.StatusOK, r.status, string(r.raw))
			last = max(last, int64(r.get("seq").(float64)))
		}
		now := time.Now().UTC()
		var body any = randomRecord(rng, now)
		if rng.IntN(2) == 0 {
			recs := make([]map[string]any, 1+rng.IntN(8))
			for j := range recs {
				recs[j] = randomRecord(rng, now)
			}
			body = map[string]any{"records": recs}
		}
		r := a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: body})
		if r.status != http.StatusAccepted && r.problemType() == "quota-exceeded" {
			continue // a hard quota refused it at ingestion: no event, nothing to count
		}
		require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
		last = max(last, int64(r.get("seq").(float64)))
	}

	r := a.do(req{method: "GET", path: fmt.Sprintf("/v1/entitlements?min_seq=%d", last), token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	var got struct {
		Plan        string          `json:"plan"`
		PlanVersion int             `json:"plan_version"`
		PeriodStart time.Time       `json:"period_start"`
		PeriodEnd   time.Time       `json:"period_end"`
		Features    map[string]bool `json:"features"`
		Metrics     []struct {
			Metric, Kind, Aggregation, Beyond string
			Quota, Usage, Remaining           json.Number
			Exceeded                          bool
		} `json:"metrics"`
		Seq int64 `json:"seq"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&got))
	require.GreaterOrEqual(t, got.Seq, last)
	require.Equal(t, "enterprise", got.Plan)

	want := replayEntitlements(t, a, uuid.MustParse(ten.id), got.Seq, got.Plan, got.PlanVersion, time.Now())
	require.Equal(t, want.Period.Start, got.PeriodStart)
	require.Equal(t, want.Period.End, got.PeriodEnd)
	require.Equal(t, want.Features, got.Features)
	require.Len(t, got.Metrics, len(want.Metrics))
	for i, w := range want.Metrics {
		g := got.Metrics[i]
		d := w.Definition
		require.Equal(t, []string{d.Metric.String(), d.Kind.String(), d.Aggregation.String(), w.Quota.Included.String(), w.Quota.Beyond.String(),
			w.Usage.String(), w.Remaining.String(), fmt.Sprint(w.Exceeded)},
			[]string{g.Metric, g.Kind, g.Aggregation, g.Quota.String(), g.Beyond, g.Usage.String(), g.Remaining.String(), fmt.Sprint(g.Exceeded)},
			"metric %d of %s", i, r.raw)
	}
	var used int
	for _, w := range want.Metrics {
		used += w.Usage.Sign()
	}
	require.Positive(t, used, "the random usage reached the plan's metrics: %s", r.raw)
}

// replayEntitlements folds the tenant's events up to seq as the domain defines the totals
// and lists the entitlements of plan version (key, version) as the catalog's events define it.
func replayEntitlements(t *testing.T, a *api, tenant uuid.UUID, seq int64, key string, version int, now time.Time) entitlements.List {
	t.Helper()
	ctx := context.Background()
	var events []usage.Event
	for after := int64(0); after < seq; {
		page, err := a.deps.Store.ReadTenant(ctx, tenant, after, 500)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		for i := range page {
			e := &page[i]
			after = e.Seq
			if e.Seq > seq || !strings.HasPrefix(e.Type, "usage.") {
				continue
			}
			p, err := a.deps.Registry.DecodeEvent(e)
			require.NoError(t, err)
			if recs, ok := usage.Records(p); ok {
				events = append(events, usage.Event{Seq: e.Seq, Records: recs})
			}
		}
	}
	period := entitlements.PeriodOf(now)
	totals := entitlements.Totals{}
	for _, pt := range usage.FoldPeriod(period.Start, events...) {
		totals[pt.Metric] = pt
	}
	cat := app.NewPlanCatalog(eventstore.DomainStore{Store: a.deps.Store, Registry: a.deps.Registry}, plans.Default(a.deps.Plans))
	current, err := cat.Fresh(ctx)
	require.NoError(t, err)
	name, err := domain.ParsePlanName(key)
	require.NoError(t, err)
	plan, ok := current.Version(name, version)
	require.True(t, ok, "plan %s v%d", key, version)
	return entitlements.Of(plan, current, period, totals)
}
