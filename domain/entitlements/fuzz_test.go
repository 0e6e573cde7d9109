package entitlements_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/entitlements"
)

// Any check a client can send is either refused with a domain error (a 4xx) or answered
// with a known reason and a message, never a panic; quota_exceeded is never allowed.
func FuzzParseRequestAndCheck(f *testing.F) {
	for _, s := range [][3]string{{"sso", "", ""}, {"", "api_calls", "3"}, {"", "storage_gb", "10.51"}, {"", "egress_gb", "0.876"},
		{"", "seats_used", "6"}, {"x", "api_calls", "1"}, {"", "api_calls", "1e3"}, {"", "api_calls", "-0"}, {"", "", ""}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, feature, metric, quantity string) {
		plan, defs, totals := fixture(t)
		r, err := entitlements.ParseRequest(feature, metric, quantity, plan, defs)
		if err != nil {
			var de *domain.Error
			if !errors.As(err, &de) || (de.Code != domain.CodeInvalid && de.Code != domain.CodeLimit) {
				t.Fatalf("%q %q %q: error %v is not an invalid-input domain error", feature, metric, quantity, err)
			}
			return
		}
		a := entitlements.Check(plan, defs, entitlements.PeriodOf(time.Now()), totals, r)
		known := false
		for _, reason := range entitlements.Reasons() {
			known = known || a.Reason == reason
		}
		if !known || a.Message == "" {
			t.Fatalf("%q %q %q: answer %+v has no known reason", feature, metric, quantity, a)
		}
		if a.Reason == entitlements.ReasonQuotaExceeded && a.Allowed {
			t.Fatalf("an exceeded hard quota was allowed: %+v", a)
		}
	})
}
