package eventstore

import (
	"regexp"
	"testing"
)

// FuzzEventTypeShaped holds the hand-written event type check to the documented pattern.
func FuzzEventTypeShaped(f *testing.F) {
	pattern := regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	for _, s := range []string{"usage.recorded", "tenant.plan_changed", "a.b.c", "a", "a.", ".a", "a..b", "A.b", "a.1b", "a_.b_", "", "a.b\n", "é.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := eventTypeShaped(s), pattern.MatchString(s); got != want {
			t.Fatalf("eventTypeShaped(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}
