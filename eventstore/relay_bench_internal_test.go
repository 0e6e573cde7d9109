package eventstore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
)

// BenchmarkFastPath_RelayCodec weighs the relay's hand-written envelope writer
// (writeEnvelope, as EventsMessage uses it) against encoding/json marshalling the same
// Envelopes. Figure: ns per message body of 100 usage events of one tenant (ns/event is a
// hundredth of it). The two bodies decode to the same envelopes (checked first); they differ
// only in whitespace inside data and metadata, which json.Marshal compacts.
func BenchmarkFastPath_RelayCodec(b *testing.B) {
	tenant := uuid.Must(uuid.NewV7())
	events := make([]Event, 100)
	for i := range events {
		events[i] = Event{TenantID: tenant, Seq: int64(1000 + i), StreamID: "usage", StreamVersion: int64(990 + i),
			ID: uuid.Must(uuid.NewV7()), Type: "usage.recorded", SchemaVersion: 1,
			Data:       []byte(`{"metric": "api_calls", "quantity": 1, "occurred_at": "2026-11-25T10:00:00Z", "idempotency_key": "bench-123456"}`),
			Metadata:   []byte(`{"actor": "bench", "request_id": "req-0123456789abcdef"}`),
			RecordedAt: time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC)}
		events[i].Hash = ChainHash(events[i].PrevHash, &events[i])
	}
	fast := func() []byte {
		var body bytes.Buffer
		body.WriteByte('[')
		for i := range events {
			if i > 0 {
				body.WriteByte(',')
			}
			if err := writeEnvelope(&body, &events[i]); err != nil {
				b.Fatal(err)
			}
		}
		body.WriteByte(']')
		return body.Bytes()
	}
	plain := func() []byte {
		envs := make([]Envelope, len(events))
		for i := range events {
			e := &events[i]
			envs[i] = Envelope{TenantID: e.TenantID.String(), Seq: e.Seq, StreamID: e.StreamID, StreamVersion: e.StreamVersion,
				EventID: e.ID.String(), Type: e.Type, SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: e.Metadata,
				RecordedAt: e.RecordedAt, Hash: hex.EncodeToString(e.Hash[:])}
		}
		body, err := json.Marshal(envs)
		if err != nil {
			b.Fatal(err)
		}
		return body
	}
	var fromFast, fromPlain []Envelope
	if err := json.Unmarshal(fast(), &fromFast); err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(plain(), &fromPlain); err != nil {
		b.Fatal(err)
	}
	for i := range fromFast {
		fromFast[i].Data, fromFast[i].Metadata = compact(b, fromFast[i].Data), compact(b, fromFast[i].Metadata)
	}
	if got, want := mustJSON(b, fromFast), mustJSON(b, fromPlain); !bytes.Equal(got, want) {
		b.Fatalf("the bodies differ:\n%s\n%s", got, want)
	}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			_ = fast()
		}
	})
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			_ = plain()
		}
	})
}

func compact(b *testing.B, raw []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		b.Fatal(err)
	}
	return out.Bytes()
}

func mustJSON(b *testing.B, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
