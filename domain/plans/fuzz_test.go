package plans_test

import (
	"encoding/json"
	"testing"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
)

// FuzzParseDocument checks that any input is either refused as invalid input (never a
// panic or an uncoded error) or accepted as definitions that decide, apply and then decide
// nothing more.
func FuzzParseDocument(f *testing.F) {
	f.Add([]byte(doc))
	f.Add([]byte(`{"plans": [{"key": "a", "name": "A", "intervals": {"yearly": {"amount": 0, "currency": "eur"}}, "limits": {"seats": 1, "requests_per_second": 0.5, "burst": 1}}]}`))
	f.Add([]byte(`{"plans": [{"key": "a", "name": "A", "intervals": {"monthly": {}}, "limits": {"seats": 1, "requests_per_second": 1, "burst": 1}, "metrics": {"m": {"included": "1e9", "beyond": "soft"}}}]}`))
	f.Add([]byte(`{"metrics": [{"metric": "g", "kind": "gauge", "aggregation": "last", "scale": 6}], "plans": null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, in []byte) {
		defs, err := plans.ParseDocument(in)
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeInvalid {
				t.Fatalf("ParseDocument(%q): uncoded error %v", in, err)
			}
			return
		}
		c := plans.Default(domain.DefaultPlans())
		_, events := c.Decide(defs)
		for _, e := range events {
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatalf("encode %T: %v", e, err)
			}
			if !json.Valid(b) {
				t.Fatalf("encode %T: invalid JSON", e)
			}
			if err := c.Apply(e); err != nil {
				t.Fatalf("apply %T: %v", e, err)
			}
		}
		if diff, again := c.Decide(defs); len(again) > 0 || diff.Changes() {
			t.Fatalf("the same document decided %d more events", len(again))
		}
	})
}
