package audit

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/eventstore"
)

// BenchmarkFastPath_VerifyParser weighs the event-line parser's hand-written fast path
// (fastFixed) against the plain path that reads any other layout: encoding/json's validation
// of the whole line, the strict token decode of the fixed fields (strictFixed) and the check
// that they are spelled as the exporter writes them. Figures: ns per line parsed ("parse"),
// and per line parsed and hashed, which is a verify worker's whole work per line ("line").
func BenchmarkFastPath_VerifyParser(b *testing.B) {
	e := eventstore.Event{TenantID: uuid.MustParse("0190f5c2-7a4b-7c3d-9e8f-0123456789ab"), Seq: 123456,
		ID: uuid.MustParse("0190f5c2-7a4b-7c3d-9e8f-ba9876543210"), StreamID: "usage", StreamVersion: 123450,
		Type: "usage.recorded", SchemaVersion: 1, RecordedAt: time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC),
		Data:     []byte(`{"metric": "api_calls", "quantity": 1, "occurred_at": "2026-11-25T10:00:00Z", "idempotency_key": "bench-123456"}`),
		Metadata: []byte(`{"actor": "bench", "request_id": "req-0123456789abcdef"}`)}
	e.Hash = eventstore.ChainHash(e.PrevHash, &e)
	line, err := AppendEventLine(nil, &e)
	if err != nil {
		b.Fatal(err)
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	for _, fast := range []bool{true, false} {
		var got eventstore.Event
		if err := parseEventLineVia(line, &got, fast); err != nil || got.Hash != e.Hash || got.Seq != e.Seq {
			b.Fatalf("fast=%v: %+v %v", fast, got, err)
		}
	}
	for _, figure := range []string{"parse", "line"} {
		for _, path := range []string{"fast", "plain"} {
			fast, hash := path == "fast", figure == "line"
			b.Run(figure+"/"+path, func(b *testing.B) {
				var got eventstore.Event
				for b.Loop() {
					if err := parseEventLineVia(line, &got, fast); err != nil {
						b.Fatal(err)
					}
					if hash {
						_ = eventstore.ChainHash(got.PrevHash, &got)
					}
				}
			})
		}
	}
}
