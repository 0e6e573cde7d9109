package tenant_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
)

func TestCreate_ValidatesEveryPart(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name  string
		id    uuid.UUID
		tname string
		slug  domain.Slug
		plan  domain.PlanName
		want  []domain.Event
		code  domain.Code
		field string
	}{
		{name: "Valid", id: tenantID, tname: "Acme", slug: mustSlug(t, "acme"), plan: domain.PlanPro,
			want: []domain.Event{tenant.Created{TenantID: tenantID, Name: mustName(t, "Acme"), Slug: mustSlug(t, "acme"),
				Plan: domain.PlanPro, PlanVersion: 1, Interval: plans.Monthly, CreatedAt: now}}},
		{name: "NilID", id: uuid.Nil, tname: "Acme", slug: mustSlug(t, "acme"), plan: domain.PlanPro, code: domain.CodeInvalid, field: "id"},
		{name: "EmptyName", id: tenantID, tname: "", slug: mustSlug(t, "acme"), plan: domain.PlanPro, code: domain.CodeInvalid, field: "name"},
		{name: "PaddedName", id: tenantID, tname: " Acme", slug: mustSlug(t, "acme"), plan: domain.PlanPro, code: domain.CodeInvalid, field: "name"},
		{name: "UnsetSlug", id: tenantID, tname: "Acme", plan: domain.PlanPro, code: domain.CodeInvalid, field: "slug"},
		{name: "UnsetPlan", id: tenantID, tname: "Acme", slug: mustSlug(t, "acme"), code: domain.CodeInvalid, field: "plan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tenant.Create(tt.id, tt.tname, tt.slug, tt.plan, now.In(berlin))
			requireOutcome(t, got, err, tt.want, tt.code)
			if tt.field != "" {
				require.Equal(t, tt.field, err.(*domain.Error).Field)
			}
		})
	}
}

func TestCreate_ThenReplayGivesAnActiveTenant(t *testing.T) {
	events, err := tenant.Create(tenantID, "Acme", mustSlug(t, "acme"), domain.PlanFree, now)
	require.NoError(t, err)
	tn := given(t, events...)
	require.Equal(t, tenantID, tn.ID())
	require.Equal(t, "Acme", tn.Name().String())
	require.Equal(t, "acme", tn.Slug().String())
	require.Equal(t, domain.PlanFree, tn.Plan())
	require.Equal(t, tenant.StatusActive, tn.Status())
	require.Equal(t, now, tn.CreatedAt())
	require.Equal(t, 1, tn.Version())
	require.True(t, tn.SuspendReason().IsZero())
	require.True(t, tn.PastDueSince().IsZero())
}

func TestParseName_AcceptsTextAndRejectsControlsAndPadding(t *testing.T) {
	good := []string{"Acme", "A", "Acme Corp & Sons", "Ünïcødé 株式会社", strings.Repeat("x", 100), strings.Repeat("é", 100)}
	for _, s := range good {
		n, err := tenant.ParseName(s)
		require.NoError(t, err, s)
		require.Equal(t, s, n.String())
	}
	bad := map[string]string{
		"Empty": "", "TooLong": strings.Repeat("x", 101), "TooLongRunes": strings.Repeat("é", 101),
		"Tab": "Acme\tCorp", "Newline": "Acme\n", "NUL": "Ac\x00me", "DEL": "Acme\x7f", "C1": "Acme\u0085Corp",
		"InvalidUTF8": "Acme\xff", "LeadingSpace": " Acme", "TrailingSpace": "Acme ", "NBSPEdge": "\u00a0Acme",
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := tenant.ParseName(s)
			require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err))
			require.Equal(t, "name", err.(*domain.Error).Field)
		})
	}
}

// commandCase is one given → when → then row for a tenant command.
type commandCase struct {
	name  string
	given []domain.Event
	when  func(*tenant.Tenant) ([]domain.Event, error)
	want  []domain.Event
	code  domain.Code
	field string
}

func runCommandCases(t *testing.T, tests []commandCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn := given(t, tt.given...)
			before := *tn
			got, err := tt.when(tn)
			requireOutcome(t, got, err, tt.want, tt.code)
			require.Equal(t, before, *tn, "a command must not mutate the tenant")
			if tt.field != "" {
				require.Equal(t, tt.field, err.(*domain.Error).Field)
			}
		})
	}
}

func TestRename_ValidatesAndIgnoresTheCurrentName(t *testing.T) {
	runCommandCases(t, []commandCase{
		{name: "SameNameIsANoOp", given: []domain.Event{created(t)},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Rename("Acme", now) }},
		{name: "InvalidName", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "name",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Rename("Acme\n", now) }},
		{name: "AfterEarlierRename", given: []domain.Event{created(t), tenant.Renamed{Name: mustName(t, "Beta")}},
			want: []domain.Event{tenant.Renamed{Name: mustName(t, "Acme")}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Rename("Acme", now) }},
	})
}

// A suspended tenant may change its plan (as it may pay): a SaaS lets a customer suspended
// for payment move to a plan it can afford; the change does not reactivate it.
func TestChangePlan_RejectsSamePlanAndAllowsSuspendedTenants(t *testing.T) {
	runCommandCases(t, []commandCase{
		{name: "SamePlan", given: []domain.Event{created(t)}, code: domain.CodeConflict,
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.ChangePlan(domain.PlanFree, now) }},
		{name: "UnsetPlan", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "plan",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.ChangePlan(domain.PlanName{}, now) }},
		{name: "Downgrade", given: []domain.Event{created(t), tenant.PlanChanged{From: domain.PlanFree, FromVersion: 1, To: domain.PlanEnterprise, ToVersion: 1, Interval: plans.Monthly}},
			want: []domain.Event{tenant.PlanChanged{From: domain.PlanEnterprise, FromVersion: 1, To: domain.PlanPro, ToVersion: 1, Interval: plans.Monthly}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.ChangePlan(domain.PlanPro, now) }},
		{name: "SuspendedAfterPastDue",
			given: []domain.Event{created(t), tenant.MarkedPastDue{Since: since, GraceEndsAt: grace},
				tenant.Suspended{Reason: tenant.ReasonPaymentFailed}},
			want: []domain.Event{tenant.PlanChanged{From: domain.PlanFree, FromVersion: 1, To: domain.PlanPro, ToVersion: 1, Interval: plans.Monthly}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.ChangePlan(domain.PlanPro, now) }},
	})
}

func TestMarkPastDue_RequiresGraceAfterSince(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	runCommandCases(t, []commandCase{
		{name: "StoresUTC", given: []domain.Event{created(t)},
			want: []domain.Event{tenant.MarkedPastDue{Since: since, GraceEndsAt: grace}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.MarkPastDue(since.In(cet), grace.In(cet), now)
			}},
		{name: "ZeroSince", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "since",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.MarkPastDue(time.Time{}, grace, now) }},
		{name: "GraceEqualsSince", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "grace_ends_at",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.MarkPastDue(since, since, now) }},
		{name: "GraceBeforeSince", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "grace_ends_at",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.MarkPastDue(since, since.Add(-time.Second), now)
			}},
		{name: "ZeroGrace", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "grace_ends_at",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.MarkPastDue(since, time.Time{}, now) }},
		{name: "AgainAfterReactivation", want: []domain.Event{tenant.MarkedPastDue{Since: since, GraceEndsAt: grace}},
			given: []domain.Event{created(t), tenant.MarkedPastDue{Since: since, GraceEndsAt: grace},
				tenant.Reactivated{FromStatus: tenant.StatusPastDue}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.MarkPastDue(since, grace, now) }},
	})
}

func TestSuspend_ValidatesReasonAndNote(t *testing.T) {
	runCommandCases(t, []commandCase{
		{name: "EveryReason", given: []domain.Event{created(t)},
			want: []domain.Event{tenant.Suspended{Reason: tenant.ReasonTermsViolation}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.Suspend(tenant.ReasonTermsViolation, "", now)
			}},
		{name: "UnsetReason", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "reason",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Suspend(tenant.Reason{}, "", now) }},
		{name: "NoteAtLimit", given: []domain.Event{created(t)},
			want: []domain.Event{tenant.Suspended{Reason: tenant.ReasonOperator, Note: strings.Repeat("é", 500)}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.Suspend(tenant.ReasonOperator, strings.Repeat("é", 500), now)
			}},
		{name: "NoteTooLong", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "note",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.Suspend(tenant.ReasonOperator, strings.Repeat("x", 501), now)
			}},
		{name: "NoteWithNewlinesAndTabs", given: []domain.Event{created(t)},
			want: []domain.Event{tenant.Suspended{Reason: tenant.ReasonOperator, Note: "line 1\n\tline 2"}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.Suspend(tenant.ReasonOperator, "line 1\n\tline 2", now)
			}},
		{name: "NoteWithControlCharacter", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "note",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) {
				return tn.Suspend(tenant.ReasonOperator, "bell\a", now)
			}},
		{name: "NoteInvalidUTF8", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "note",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Suspend(tenant.ReasonOperator, "\xff", now) }},
	})
}

func TestClose_ValidatesNote(t *testing.T) {
	runCommandCases(t, []commandCase{
		{name: "WithoutNote", given: []domain.Event{created(t)}, want: []domain.Event{tenant.Closed{}},
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Close("", now) }},
		{name: "NoteTooLong", given: []domain.Event{created(t)}, code: domain.CodeInvalid, field: "note",
			when: func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Close(strings.Repeat("x", 501), now) }},
	})
}
