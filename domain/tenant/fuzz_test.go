package tenant_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tenantry/tenantry/domain/tenant"
)

// FuzzUpcastSuspendedV1 checks the upcaster never panics, always yields a
// strictly decodable v2 payload with a valid reason, and never loses the v1
// text: it is either recognised as the reason or kept verbatim as the note.
func FuzzUpcastSuspendedV1(f *testing.F) {
	for _, s := range []string{`{"reason":"payment failed"}`, `{"reason":"x"}`, `{}`, `null`, `[]`, `{"reason":1}`,
		`{"reason":"\u0000\ud800"}`, `{"reason":"Terms-Violation"}`, `{"Reason":"operator"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := tenant.UpcastSuspendedV1(in)
		if err != nil {
			if out != nil {
				t.Fatalf("error %v with output %q", err, out)
			}
			return
		}
		var v1 tenant.SuspendedV1
		if err := json.Unmarshal(in, &v1); err != nil {
			t.Fatalf("upcast accepted %q, which does not decode as v1: %v", in, err)
		}
		var v2 tenant.Suspended
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v2); err != nil {
			t.Fatalf("upcast output %q does not decode as v2: %v", out, err)
		}
		if v2.Reason.IsZero() {
			t.Fatalf("upcast output %q has no reason", out)
		}
		if v2.Note != "" {
			if v2.Reason != tenant.ReasonOperator || v2.Note != v1.Reason {
				t.Fatalf("v1 text %q became reason %q with note %q", v1.Reason, v2.Reason, v2.Note)
			}
		} else if v1.Reason != "" && v1Spelling(v1.Reason) != v2.Reason.String() {
			t.Fatalf("v1 text %q was dropped: reason %q, empty note", v1.Reason, v2.Reason)
		}
	})
}

// FuzzParseName checks accepted names round-trip through JSON unchanged.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"Acme", " Acme", "Ac\nme", "株式会社", "\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := tenant.ParseName(in)
		if err != nil {
			return
		}
		b, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		var back tenant.Name
		if err := json.Unmarshal(b, &back); err != nil || back != n || back.String() != in {
			t.Fatalf("round trip of %q: %v, %q", in, err, back)
		}
	})
}

// v1Spelling is how v1 writers spelled a reason: any case, spaces or hyphens
// for underscores, surrounding whitespace.
func v1Spelling(text string) string {
	s := strings.ToLower(strings.TrimSpace(text))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(s)
}
