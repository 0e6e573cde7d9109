package tenant_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/domain/tenant"
)

// TestTenant_StatusCommandMatrix runs every command against every status with
// valid input, and checks the events, the error code, that the command did
// not mutate the tenant, and the status after applying the events.
func TestTenant_StatusCommandMatrix(t *testing.T) {
	states := []struct {
		name   string
		events func(t *testing.T) []domain.Event
	}{
		{"NotCreated", func(*testing.T) []domain.Event { return nil }},
		{"Active", func(t *testing.T) []domain.Event { return []domain.Event{created(t)} }},
		{"PastDue", func(t *testing.T) []domain.Event {
			return []domain.Event{created(t), tenant.MarkedPastDue{Since: since, GraceEndsAt: grace}}
		}},
		{"Suspended", func(t *testing.T) []domain.Event {
			return []domain.Event{created(t), tenant.Suspended{Reason: tenant.ReasonOperator, Note: "abuse report"}}
		}},
		{"Closed", func(t *testing.T) []domain.Event {
			return []domain.Event{created(t), tenant.Closed{Note: "bye"}}
		}},
	}
	type outcome struct {
		want   []domain.Event
		code   domain.Code
		status tenant.Status // after applying want
	}
	ok := func(status tenant.Status, events ...domain.Event) outcome {
		return outcome{want: events, status: status}
	}
	fail := func(code domain.Code) outcome { return outcome{code: code} }
	nf, conflict := fail(domain.CodeNotFound), fail(domain.CodeConflict)

	renamed := tenant.Renamed{Name: mustName(t, "Acme Corp")}
	toPro := tenant.PlanChanged{From: domain.PlanFree, FromVersion: 1, To: domain.PlanPro, ToVersion: 1, Interval: plans.Monthly}
	pastDue := tenant.MarkedPastDue{Since: since, GraceEndsAt: grace}
	suspended := tenant.Suspended{Reason: tenant.ReasonPaymentFailed, Note: "card declined"}
	closed := tenant.Closed{Note: "customer left"}
	active, pd, susp, cl := tenant.StatusActive, tenant.StatusPastDue, tenant.StatusSuspended, tenant.StatusClosed

	commands := []struct {
		name string
		run  func(*tenant.Tenant) ([]domain.Event, error)
		// expected outcome per state, in the order of states above
		want [5]outcome
	}{
		{"Rename", func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Rename("Acme Corp", now) },
			[5]outcome{nf, ok(active, renamed), ok(pd, renamed), ok(susp, renamed), conflict}},
		{"ChangePlan", func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.ChangePlan(domain.PlanPro, now) },
			[5]outcome{nf, ok(active, toPro), ok(pd, toPro), ok(susp, toPro), conflict}},
		{"MarkPastDue", func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.MarkPastDue(since, grace, now) },
			[5]outcome{nf, ok(pd, pastDue), conflict, conflict, conflict}},
		{"Suspend", func(tn *tenant.Tenant) ([]domain.Event, error) {
			return tn.Suspend(tenant.ReasonPaymentFailed, "card declined", now)
		}, [5]outcome{nf, ok(susp, suspended), ok(susp, suspended), conflict, conflict}},
		{"Reactivate", func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Reactivate(now) },
			[5]outcome{nf, conflict, ok(active, tenant.Reactivated{FromStatus: pd}),
				ok(active, tenant.Reactivated{FromStatus: susp}), conflict}},
		{"Close", func(tn *tenant.Tenant) ([]domain.Event, error) { return tn.Close("customer left", now) },
			[5]outcome{nf, ok(cl, closed), ok(cl, closed), ok(cl, closed), conflict}},
	}

	for i, st := range states {
		for _, c := range commands {
			t.Run(st.name+"/"+c.name, func(t *testing.T) {
				tn := given(t, st.events(t)...)
				before := *tn
				got, err := c.run(tn)
				requireOutcome(t, got, err, c.want[i].want, c.want[i].code)
				require.Equal(t, before, *tn, "a command must not mutate the tenant")
				if c.want[i].code != "" {
					return
				}
				for _, e := range got {
					require.NoError(t, tn.Apply(e))
				}
				require.Equal(t, c.want[i].status, tn.Status())
				require.Equal(t, before.Version()+len(got), tn.Version())
			})
		}
	}
}

func TestTenant_ClosedRejectsEveryCommandWithAClearMessage(t *testing.T) {
	tn := given(t, created(t), tenant.Closed{})
	_, err := tn.Suspend(tenant.ReasonOperator, "", now)
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(err))
	require.Contains(t, err.Error(), "closed")
	// Closed wins over invalid input: the caller learns the real obstacle.
	_, err = tn.Rename("", now)
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(err))
	_, err = tn.MarkPastDue(time.Time{}, time.Time{}, now)
	require.Equal(t, domain.CodeConflict, domain.ErrorCode(err))
}

func TestTenant_NotCreatedIsNotFound(t *testing.T) {
	var tn tenant.Tenant
	_, err := tn.Rename("", now)
	require.Equal(t, domain.CodeNotFound, domain.ErrorCode(err))
	require.Equal(t, "tenant not found", err.Error())
}
