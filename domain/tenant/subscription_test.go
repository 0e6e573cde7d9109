package tenant_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
)

func planVersion(key domain.PlanName, version, trialDays int, intervals ...plans.Interval) plans.Plan {
	p := plans.Plan{Spec: plans.Spec{Key: key, Intervals: map[plans.Interval]plans.Price{}, TrialDays: trialDays}, Version: version}
	for _, i := range intervals {
		p.Intervals[i] = plans.Price{}
	}
	return p
}

func TestCreateOn_RecordsPlanVersionIntervalAndTrial(t *testing.T) {
	pro3 := planVersion(domain.PlanPro, 3, 14, plans.Monthly, plans.Yearly)
	events, err := tenant.CreateOn(tenantID, "Acme", mustSlug(t, "acme"), pro3, plans.Yearly, now)
	require.NoError(t, err)
	tn := given(t, events...)
	end := now.AddDate(0, 0, 14)
	require.Equal(t, tenant.Subscription{Plan: domain.PlanPro, PlanVersion: 3, Interval: plans.Yearly, TrialEndsAt: end}, tn.Subscription())

	_, err = tenant.CreateOn(tenantID, "Acme", mustSlug(t, "acme"), planVersion(domain.PlanPro, 1, 0, plans.Monthly), plans.Yearly, now)
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err))
	require.Equal(t, "interval", err.(*domain.Error).Field)
}

func TestChangeSubscription_MovesBetweenVersionsAndIntervals(t *testing.T) {
	pro1 := planVersion(domain.PlanPro, 1, 0, plans.Monthly, plans.Yearly)
	pro2 := planVersion(domain.PlanPro, 2, 0, plans.Monthly, plans.Yearly)
	onPro1 := tenant.PlanChanged{From: domain.PlanFree, FromVersion: 1, To: domain.PlanPro, ToVersion: 1, Interval: plans.Monthly}
	runCommandCases(t, []commandCase{
		{name: "SameVersionAndInterval", given: []domain.Event{created(t), onPro1}, code: domain.CodeConflict,
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.ChangeSubscription(pro1, plans.Monthly, now)
			}},
		{name: "NewVersion", given: []domain.Event{created(t), onPro1},
			want: []domain.Event{tenant.PlanChanged{From: domain.PlanPro, FromVersion: 1, To: domain.PlanPro, ToVersion: 2, Interval: plans.Monthly}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.ChangeSubscription(pro2, plans.Monthly, now)
			}},
		{name: "Yearly", given: []domain.Event{created(t), onPro1},
			want: []domain.Event{tenant.PlanChanged{From: domain.PlanPro, FromVersion: 1, To: domain.PlanPro, ToVersion: 1, Interval: plans.Yearly}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.ChangeSubscription(pro1, plans.Yearly, now) }},
		{name: "IntervalNotSold", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "interval",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.ChangeSubscription(planVersion(domain.PlanPro, 1, 0, plans.Monthly), plans.Yearly, now)
			}},
	})
}

// Events stored before the plan catalog read as version 1 of their plan, billed monthly.
func TestUpcastV1_ReadsOldTenantsAsVersion1Monthly(t *testing.T) {
	out, err := tenant.UpcastCreatedV1([]byte(`{"tenant_id":"01956b7e-0000-7000-8000-000000000001","name":"Acme","slug":"acme","plan":"pro","created_at":"2025-03-01T12:00:00Z"}`))
	require.NoError(t, err)
	var c tenant.Created
	require.NoError(t, json.Unmarshal(out, &c))
	out, err = tenant.UpcastPlanChangedV1([]byte(`{"from":"pro","to":"enterprise"}`))
	require.NoError(t, err)
	var pc tenant.PlanChanged
	require.NoError(t, json.Unmarshal(out, &pc))
	require.Equal(t, tenant.PlanChanged{From: domain.PlanPro, FromVersion: 1, To: domain.PlanEnterprise, ToVersion: 1, Interval: plans.Monthly}, pc)
	tn := given(t, &c)
	require.Equal(t, tenant.Subscription{Plan: domain.PlanPro, PlanVersion: 1, Interval: plans.Monthly}, tn.Subscription())
	require.Equal(t, time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), tn.CreatedAt())
	require.NoError(t, tn.Apply(&pc))
	require.Equal(t, tenant.Subscription{Plan: domain.PlanEnterprise, PlanVersion: 1, Interval: plans.Monthly}, tn.Subscription())

	for _, bad := range []string{``, `[]`, `"x"`, `{"plan":`} {
		_, err := tenant.UpcastCreatedV1([]byte(bad))
		require.Error(t, err, bad)
	}
}
