package usage

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// BenchmarkFastPath_UsageParser weighs ParseRecordJSON's hand-written fast path (and
// ParsePlainBatch built on it) against the plain path it falls back to: encoding/json's
// token decoder with the same validation (parseRecordTokens), which is all that would remain
// without it. Figure: ns per record parsed, for one record and for a 1,000-record body.
func BenchmarkFastPath_UsageParser(b *testing.B) {
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	one := []byte(`{"metric":"api_calls","quantity":12,"occurred_at":"2026-11-25T10:00:00Z","idempotency_key":"k-0123456789"}`)
	var batch strings.Builder
	batch.WriteString(`{"records":[`)
	for i := 0; i < 1000; i++ {
		if i > 0 {
			batch.WriteByte(',')
		}
		fmt.Fprintf(&batch, `{"metric":"api_calls","quantity":1,"idempotency_key":"b-%d"}`, i)
	}
	batch.WriteString(`]}`)
	body := []byte(batch.String())

	b.Run("single/fast", func(b *testing.B) {
		for b.Loop() {
			if _, err := ParseRecordJSON(one, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("single/plain", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseRecordTokens(one, now, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("batch1000/fast", func(b *testing.B) {
		for b.Loop() {
			if rs, ok := ParsePlainBatch(body, 1000, now); !ok || len(rs) != 1000 {
				b.Fatal("the fast path refused a plain batch")
			}
		}
	})
	b.Run("batch1000/plain", func(b *testing.B) {
		for b.Loop() {
			if rs, err := plainBatchReference(body, now); err != nil || len(rs) != 1000 {
				b.Fatal(err)
			}
		}
	})
}

// plainBatchReference decodes {"records": [...]} with encoding/json and each record with
// parseRecordTokens: the batch path without any hand-written parsing.
func plainBatchReference(body []byte, now time.Time) ([]Recorded, error) {
	var envelope struct {
		Records []json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(body, &envelope); err != nil {
		return nil, err
	}
	out := make([]Recorded, len(envelope.Records))
	for i, item := range envelope.Records {
		r, err := parseRecordTokens(item, now, nil)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}
