package catalogfile_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/tenantry/tenantry/cmd/tenantry/catalogfile"
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/plans"
)

// FuzzRead checks that any file is either refused as invalid input (never a
// panic or an uncoded error) or read as definitions that a catalog applies once.
func FuzzRead(f *testing.F) {
	example, err := os.ReadFile(exampleCatalog)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("plans:\n  - {key: a, name: A, intervals: {yearly: {amount: 1, currency: eur}}, limits: {seats: 1, requests_per_second: 0.5, burst: 1}}\n"))
	f.Add([]byte("metrics: [{metric: g, kind: gauge, aggregation: last, scale: 6}]\nplans: []\n"))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nplans: [*b]\n"))
	f.Add([]byte("plans: !!binary aGVsbG8=\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		defs, err := catalogfile.Read(bytes.NewReader(in))
		if err != nil {
			if domain.ErrorCode(err) != domain.CodeInvalid {
				t.Fatalf("uncoded error %v", err)
			}
			return
		}
		c := plans.Default(domain.DefaultPlans())
		_, events := c.Decide(defs)
		for _, e := range events {
			if err := c.Apply(e); err != nil {
				t.Fatalf("apply %T: %v", e, err)
			}
		}
		if _, again := c.Decide(defs); len(again) > 0 {
			t.Fatalf("the same document decided %d more events", len(again))
		}
	})
}
