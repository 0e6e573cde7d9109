package domain_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
)

func TestParsePlanName_AcceptsKeyShapedNamesOnly(t *testing.T) {
	for _, p := range domain.PlanNames() {
		got, err := domain.ParsePlanName(p.String())
		require.NoError(t, err)
		require.Equal(t, p, got)
	}
	gold, err := domain.ParsePlanName("gold_2")
	require.NoError(t, err)
	require.Equal(t, "gold_2", gold.String())
	for _, bad := range []string{"", "Free", "2gold", "pro ", "pro-plus", string(make([]byte, 64))} {
		_, err := domain.ParsePlanName(bad)
		requireInvalid(t, err, "plan")
	}
	b, err := json.Marshal(domain.PlanEnterprise)
	require.NoError(t, err)
	require.Equal(t, `"enterprise"`, string(b))
	_, err = json.Marshal(domain.PlanName{})
	require.Error(t, err)
}

func TestDefaultPlans_HaveDocumentedLimits(t *testing.T) {
	ps := domain.DefaultPlans()
	require.Equal(t, domain.Limits{Seats: 3, RequestsPerSecond: 5, Burst: 10}, ps.Limits(domain.PlanFree))
	require.Equal(t, domain.Limits{Seats: 25, RequestsPerSecond: 50, Burst: 100}, ps.Limits(domain.PlanPro))
	require.Equal(t, domain.Limits{Seats: 10000, RequestsPerSecond: 500, Burst: 1000}, ps.Limits(domain.PlanEnterprise))
	for _, p := range domain.PlanNames() {
		require.True(t, ps.Limits(p).Valid(), p.String())
	}
	require.Equal(t, domain.Limits{}, ps.Limits(domain.PlanName{}))
	require.False(t, ps.Limits(domain.PlanName{}).Valid())
}

func TestParsePlanOverrides_AppliesValidSpecs(t *testing.T) {
	base := domain.DefaultPlans()
	tests := []struct {
		name string
		spec string
		want func(free, pro, ent *domain.Limits)
	}{
		{"Empty", "", func(_, _, _ *domain.Limits) {}},
		{"Blank", "  ", func(_, _, _ *domain.Limits) {}},
		{"OneItem", "pro.seats=50", func(_, pro, _ *domain.Limits) { pro.Seats = 50 }},
		{"Several", "pro.seats=50,free.rps=2,enterprise.burst=5000", func(free, pro, ent *domain.Limits) {
			pro.Seats, free.RequestsPerSecond, ent.Burst = 50, 2, 5000
		}},
		{"FractionalRPS", "free.rps=0.5", func(free, _, _ *domain.Limits) { free.RequestsPerSecond = 0.5 }},
		{"SpacesAroundItems", " pro.seats=50 , free.burst=20 ", func(free, pro, _ *domain.Limits) {
			pro.Seats, free.Burst = 50, 20
		}},
		{"SameKeyOtherPlans", "free.seats=1,pro.seats=2,enterprise.seats=3", func(free, pro, ent *domain.Limits) {
			free.Seats, pro.Seats, ent.Seats = 1, 2, 3
		}},
		{"UpperBounds", "pro.seats=1000000,pro.rps=1000000,pro.burst=10000000", func(_, pro, _ *domain.Limits) {
			*pro = domain.Limits{Seats: 1000000, RequestsPerSecond: 1000000, Burst: 10000000}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			free, pro, ent := base.Limits(domain.PlanFree), base.Limits(domain.PlanPro), base.Limits(domain.PlanEnterprise)
			tt.want(&free, &pro, &ent)
			got, err := domain.ParsePlanOverrides(base, tt.spec)
			require.NoError(t, err)
			require.Equal(t, free, got.Limits(domain.PlanFree))
			require.Equal(t, pro, got.Limits(domain.PlanPro))
			require.Equal(t, ent, got.Limits(domain.PlanEnterprise))
		})
	}
	require.Equal(t, domain.DefaultPlans(), base, "overrides must not leak into the base catalog")
}

func TestParsePlanOverrides_RejectsBadItemsByName(t *testing.T) {
	tests := []struct{ name, spec, item string }{
		{"ZeroSeats", "pro.seats=0", "pro.seats=0"},
		{"NegativeSeats", "pro.seats=-1", "pro.seats=-1"},
		{"SignedSeats", "pro.seats=+5", "pro.seats=+5"},
		{"FractionalSeats", "pro.seats=1.5", "pro.seats=1.5"},
		{"WordSeats", "pro.seats=many", "pro.seats=many"},
		{"HugeSeats", "pro.seats=99999999999999999999", "pro.seats=99999999999999999999"},
		{"SeatsOverBound", "pro.seats=1000001", "pro.seats=1000001"},
		{"BurstOverBound", "pro.burst=10000001", "pro.burst=10000001"},
		{"ZeroBurst", "free.burst=0", "free.burst=0"},
		{"UnknownPlan", "gold.seats=5", "gold.seats=5"},
		{"PlanCase", "Pro.seats=5", "Pro.seats=5"},
		{"UnknownKey", "pro.seatz=5", "pro.seatz=5"},
		{"Duplicate", "pro.seats=5,free.rps=1,pro.seats=6", "pro.seats=6"},
		{"NoValue", "pro.seats", "pro.seats"},
		{"EmptyValue", "pro.seats=", "pro.seats="},
		{"NoDot", "proseats=5", "proseats=5"},
		{"TrailingComma", "pro.seats=5,", ""},
		{"LeadingComma", ",pro.seats=5", ""},
		{"NaN", "free.rps=NaN", "free.rps=NaN"},
		{"Inf", "free.rps=Inf", "free.rps=Inf"},
		{"Exponent", "free.rps=1e3", "free.rps=1e3"},
		{"Hex", "free.rps=0x10", "free.rps=0x10"},
		{"ZeroRPS", "free.rps=0", "free.rps=0"},
		{"ZeroPointZeroRPS", "free.rps=0.0", "free.rps=0.0"},
		{"BareFraction", "free.rps=.5", "free.rps=.5"},
		{"TrailingDot", "free.rps=5.", "free.rps=5."},
		{"RPSOverBound", "free.rps=1000000.5", "free.rps=1000000.5"},
		{"SpaceInsideItem", "pro.seats =5", "pro.seats =5"},
	}
	base := domain.DefaultPlans()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.ParsePlanOverrides(base, tt.spec)
			requireInvalid(t, err, "plans")
			require.Contains(t, err.Error(), `"`+tt.item+`"`)
			require.Equal(t, base, got)
		})
	}
}
