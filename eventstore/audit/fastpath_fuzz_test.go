package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/eventstore"
)

// FuzzFastFixed_ReadsWhatEncodingJSONReads holds the hand-written fast path of the event-line
// parser (fastFixed) to the plain path (strictFixed, on encoding/json): whenever the fast path
// takes an event line's fixed fields, they are valid JSON and the plain path reads the same
// values from them. parseEventLine checks UTF-8 before either runs, so only UTF-8 is fed to
// them. And every line parseEventLine accepts is exactly what the exporter writes.
func FuzzFastFixed_ReadsWhatEncodingJSONReads(f *testing.F) {
	e := eventstore.Event{TenantID: uuid.MustParse("0190f5c2-7a4b-7c3d-9e8f-0123456789ab"), Seq: 7,
		ID: uuid.MustParse("0190f5c2-7a4b-7c3d-9e8f-ba9876543210"), StreamID: "usage", StreamVersion: 3,
		Type: "usage.recorded", SchemaVersion: 1, RecordedAt: time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC),
		Data: []byte(`{"quantity": 1}`), Metadata: []byte(`{"actor": "ünï"}`)}
	line, err := AppendEventLine(nil, &e)
	if err != nil {
		f.Fatal(err)
	}
	fixed := line[:bytes.Index(line, dataSep)]
	f.Add(fixed)
	f.Add(bytes.Replace(fixed, []byte(`"seq":7`), []byte(`"seq":-0`), 1))
	f.Add(bytes.Replace(fixed, []byte(`"usage"`), []byte(`"usäge☃"`), 1))
	f.Add(bytes.Replace(fixed, []byte(`"schema_version":1`), []byte(`"schema_version":2147483648`), 1))
	f.Add(bytes.Replace(fixed, []byte(`"usage"`), []byte(`"us\u003cage"`), 1))
	f.Add(bytes.Replace(fixed, []byte(`"usage"`), []byte(`"us<age"`), 1))
	f.Add(bytes.Replace(fixed, []byte(`"seq":7`), []byte(`"seq": 7`), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Whatever path reads it, an accepted line is what the exporter writes (AUDIT.md,
		// "Event lines").
		var e eventstore.Event
		if parseEventLine(append(append([]byte(nil), b...), `,"data":{},"metadata":{}}`...), &e) == nil {
			if want, err := appendFixed(nil, &e); err != nil || !bytes.Equal(want, b) {
				t.Fatalf("accepted %q; the exporter writes %q", b, want)
			}
		}
		var fast fixedFields
		if !utf8.Valid(b) || !fastFixed(b, &fast) {
			return
		}
		obj := append(append([]byte(nil), b...), '}')
		if !json.Valid(obj) {
			t.Fatalf("the fast path took what is not JSON: %q", b)
		}
		var plain fixedFields
		if err := strictFixed(obj, &plain); err != nil {
			t.Fatalf("the fast path took %q; the plain path refuses it: %v", b, err)
		}
		got, _ := json.Marshal(fast)
		want, _ := json.Marshal(plain)
		if !bytes.Equal(got, want) {
			t.Fatalf("the fast path reads %s, the plain path %s", got, want)
		}
	})
}
