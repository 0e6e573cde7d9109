package tenant_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/tenant"
)

func TestApply_TracksLifecycleDetails(t *testing.T) {
	tn := given(t, created(t), tenant.MarkedPastDue{Since: since, GraceEndsAt: grace})
	require.Equal(t, since, tn.PastDueSince())
	require.Equal(t, grace, tn.GraceEndsAt())

	require.NoError(t, tn.Apply(tenant.Suspended{Reason: tenant.ReasonPaymentFailed, Note: "3 failed charges"}))
	require.Equal(t, tenant.StatusSuspended, tn.Status())
	require.Equal(t, tenant.ReasonPaymentFailed, tn.SuspendReason())
	require.Equal(t, "3 failed charges", tn.SuspendNote())
	require.True(t, tn.PastDueSince().IsZero(), "past-due details only describe a past-due tenant")
	require.True(t, tn.GraceEndsAt().IsZero())

	require.NoError(t, tn.Apply(tenant.Reactivated{FromStatus: tenant.StatusSuspended}))
	require.Equal(t, tenant.StatusActive, tn.Status())
	require.True(t, tn.SuspendReason().IsZero())
	require.Empty(t, tn.SuspendNote())

	require.NoError(t, tn.Apply(tenant.Renamed{Name: mustName(t, "Acme Corp")}))
	require.NoError(t, tn.Apply(tenant.PlanChanged{From: domain.PlanFree, To: domain.PlanPro}))
	require.Equal(t, "Acme Corp", tn.Name().String())
	require.Equal(t, domain.PlanPro, tn.Plan())
	require.Equal(t, 6, tn.Version())
}

func TestApply_AcceptsDecodedPointers(t *testing.T) {
	c := created(t)
	tn := given(t, &c, &tenant.Suspended{Reason: tenant.ReasonOperator})
	require.Equal(t, tenant.StatusSuspended, tn.Status())
	require.Equal(t, 2, tn.Version())
}

type foreignEvent struct{}

func (foreignEvent) EventType() string  { return "other.happened" }
func (foreignEvent) SchemaVersion() int { return 1 }

func TestReplay_RejectsStreamsThatCannotBeFolded(t *testing.T) {
	var nilCreated *tenant.Created
	tests := []struct {
		name   string
		events []domain.Event
	}{
		{"EventBeforeCreated", []domain.Event{tenant.Renamed{Name: mustName(t, "X")}}},
		{"CreatedTwice", []domain.Event{created(t), created(t)}},
		{"UnknownEvent", []domain.Event{created(t), foreignEvent{}}},
		{"UnknownFirstEvent", []domain.Event{foreignEvent{}}},
		{"NilEvent", []domain.Event{created(t), nil}},
		{"NilPointer", []domain.Event{created(t), nilCreated}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tn, err := tenant.Replay(tt.events)
			require.Error(t, err)
			require.Nil(t, tn)
			require.Empty(t, domain.ErrorCode(err), "a corrupt stream is an internal error, not a user error")
		})
	}
}

func TestStatusAndReason_ParseAndEncode(t *testing.T) {
	for _, s := range tenant.Statuses() {
		got, err := tenant.ParseStatus(s.String())
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	for _, r := range tenant.Reasons() {
		got, err := tenant.ParseReason(r.String())
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	_, err := tenant.ParseStatus("deleted")
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err))
	_, err = tenant.ParseReason("payment failed")
	require.Equal(t, domain.CodeInvalid, domain.ErrorCode(err))
	_, err = tenant.Status{}.MarshalText()
	require.Error(t, err)
	_, err = tenant.Reason{}.MarshalText()
	require.Error(t, err)
}

func TestApply_ClosingClearsSuspensionDetails(t *testing.T) {
	tn := given(t, created(t), tenant.MarkedPastDue{Since: since, GraceEndsAt: grace},
		tenant.Suspended{Reason: tenant.ReasonPaymentFailed, Note: "n"}, tenant.Closed{Note: "bye"})
	require.Equal(t, tenant.StatusClosed, tn.Status())
	require.True(t, tn.SuspendReason().IsZero())
	require.Empty(t, tn.SuspendNote())
	require.True(t, tn.PastDueSince().IsZero())
	require.Equal(t, 4, tn.Version())
}
