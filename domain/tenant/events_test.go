package tenant_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
)

// TestEvents_StoredJSONShape pins the storage format: a failure here means
// stored history would no longer decode, which needs a new schema version and
// an upcaster, not a test update.
func TestEvents_StoredJSONShape(t *testing.T) {
	tests := []struct {
		event   domain.Event
		typ     string
		version int
		json    string
	}{
		{created(t), "tenant.created", 2,
			`{"tenant_id":"01956b7e-0000-7000-8000-000000000001","name":"Acme","slug":"acme","plan":"free","plan_version":1,"interval":"monthly","created_at":"2025-02-28T12:00:00Z"}`},
		{tenant.Renamed{Name: mustName(t, "Acme Corp")}, "tenant.renamed", 1, `{"name":"Acme Corp"}`},
		{tenant.PlanChanged{From: domain.PlanFree, FromVersion: 1, To: domain.PlanPro, ToVersion: 2, Interval: plans.Yearly}, "tenant.plan_changed", 2,
			`{"from":"free","from_version":1,"to":"pro","to_version":2,"interval":"yearly"}`},
		{tenant.MarkedPastDue{Since: since, GraceEndsAt: grace}, "tenant.marked_past_due", 1,
			`{"since":"2025-03-01T11:00:00Z","grace_ends_at":"2025-03-08T12:00:00Z"}`},
		{tenant.Suspended{Reason: tenant.ReasonPaymentFailed, Note: "n"}, "tenant.suspended", 2,
			`{"reason":"payment_failed","note":"n"}`},
		{tenant.Reactivated{FromStatus: tenant.StatusPastDue}, "tenant.reactivated", 1, `{"from_status":"past_due"}`},
		{tenant.Closed{Note: "bye"}, "tenant.closed", 1, `{"note":"bye"}`},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			require.Equal(t, tt.typ, tt.event.EventType())
			require.Equal(t, tt.version, tt.event.SchemaVersion())
			b, err := json.Marshal(tt.event)
			require.NoError(t, err)
			require.JSONEq(t, tt.json, string(b))
		})
	}
}

func TestEvents_RefuseToEncodeUnsetValues(t *testing.T) {
	for _, e := range []domain.Event{
		tenant.Created{TenantID: tenantID, Slug: mustSlug(t, "acme"), Plan: domain.PlanFree},
		tenant.Renamed{},
		tenant.PlanChanged{From: domain.PlanFree},
		tenant.Suspended{},
		tenant.Reactivated{},
	} {
		_, err := json.Marshal(e)
		require.Error(t, err, "%T", e)
	}
}
