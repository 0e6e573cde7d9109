package catalog_test

import (
	"encoding/json"
	"reflect"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/membership"
	"github.com/tenantry/tenantry/domain/tenant"
)

func TestEvents_AreUniqueAndMatchTheirSpec(t *testing.T) {
	shape := regexp.MustCompile(`^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$`)
	seen := map[string]bool{}
	for _, s := range catalog.Events() {
		t.Run(s.Type, func(t *testing.T) {
			require.False(t, seen[s.Type], "duplicate event type")
			seen[s.Type] = true
			require.Regexp(t, shape, s.Type)
			require.GreaterOrEqual(t, s.Version, 1)

			e := s.New()
			require.Equal(t, s.Type, e.EventType())
			require.Equal(t, s.Version, e.SchemaVersion())
			require.Equal(t, reflect.Pointer, reflect.TypeOf(e).Kind(), "New must return a json.Unmarshal target")
			require.NotSame(t, e, s.New(), "New must return a fresh value")
		})
	}
}

// TestEvents_ListIsComplete pins the catalog: adding an event type means
// adding it here, and removing one would orphan stored history.
func TestEvents_ListIsComplete(t *testing.T) {
	got := map[string]int{}
	for _, s := range catalog.Events() {
		got[s.Type] = s.Version
	}
	require.Equal(t, map[string]int{
		"tenant.created": 2, "tenant.renamed": 1, "tenant.plan_changed": 2, "tenant.marked_past_due": 1,
		"tenant.suspended": 2, "tenant.reactivated": 1, "tenant.closed": 1,
		"member.joined": 1, "member.invited": 1, "invitation.revoked": 2, "member.role_changed": 1, "member.removed": 1,
		"api_key.created": 1, "api_key.revoked": 1,
		"usage.recorded": 1, "usage.batch_recorded": 1,
		"billing.customer_linked": 1, "billing.subscription_changed": 1, "billing.stripe_event_received": 1,
		"usage.report_planned": 1, "usage.reported": 1,
		"plan.defined": 1, "plan.retired": 1, "metric.defined": 1, "metric.retired": 1,
		"quota.threshold_crossed": 1,
	}, got)
}

func TestUpcasters_ChainEveryOldVersionToTheCurrentOne(t *testing.T) {
	current := map[string]int{}
	for _, s := range catalog.Events() {
		current[s.Type] = s.Version
	}
	from := map[string]map[int]bool{}
	for _, u := range catalog.Upcasters() {
		v, ok := current[u.Type]
		require.True(t, ok, "upcaster for unknown type %s", u.Type)
		require.Less(t, u.FromVersion, v, "upcaster for %s v%d is not older than current v%d", u.Type, u.FromVersion, v)
		require.GreaterOrEqual(t, u.FromVersion, 1)
		require.NotNil(t, u.Fn)
		if from[u.Type] == nil {
			from[u.Type] = map[int]bool{}
		}
		require.False(t, from[u.Type][u.FromVersion], "two upcasters for %s v%d", u.Type, u.FromVersion)
		from[u.Type][u.FromVersion] = true
	}
	for typ, versions := range from {
		for v := 1; v < current[typ]; v++ {
			require.True(t, versions[v], "%s has no upcaster from v%d", typ, v)
		}
	}
	require.True(t, from[tenant.TypeSuspended][1])
	require.True(t, from[membership.TypeInvitationRevoked][1])
}

// TestUpcasters_AsTheRegistryWillUseThem reads a stored v1 suspension the way
// the event store will: upcast, decode into the catalog's value, apply.
func TestUpcasters_AsTheRegistryWillUseThem(t *testing.T) {
	data, version := []byte(`{"reason":"payment failed"}`), 1
	var spec catalog.Spec
	for _, s := range catalog.Events() {
		if s.Type == tenant.TypeSuspended {
			spec = s
		}
	}
	for version < spec.Version {
		for _, u := range catalog.Upcasters() {
			if u.Type == spec.Type && u.FromVersion == version {
				var err error
				data, err = u.Fn(data)
				require.NoError(t, err)
				version++
			}
		}
	}
	e := spec.New()
	require.NoError(t, json.Unmarshal(data, e))

	slug, err := domain.ParseSlug("acme")
	require.NoError(t, err)
	name, err := tenant.ParseName("Acme")
	require.NoError(t, err)
	tn, err := tenant.Replay([]domain.Event{&tenant.Created{Name: name, Slug: slug, Plan: domain.PlanFree}, e})
	require.NoError(t, err)
	require.Equal(t, tenant.ReasonPaymentFailed, tn.SuspendReason())
}
