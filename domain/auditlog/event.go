// Package auditlog is the audit log's format as pure Go (eventstore/audit/AUDIT.md): an
// event as stored with its chain fields, the export line it becomes, a tenant's head and its
// Ed25519 signature, and the report of a chain verification. It holds no I/O, so the use
// cases (domain/app) write exports and the offline verifier (eventstore/audit) checks them
// with the very same encoders.
package auditlog

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Event is an event as stored: its content and the chain fields the hash covers (CHAIN.md).
// Data and Metadata are PostgreSQL's jsonb text, exactly the bytes that are hashed.
type Event struct {
	TenantID      uuid.UUID
	Seq           int64
	ID            uuid.UUID
	StreamID      string
	StreamVersion int64
	Type          string
	SchemaVersion int
	Data          []byte
	Metadata      []byte
	RecordedAt    time.Time
	PrevHash      [32]byte
	Hash          [32]byte
}

// eventLine is the fixed part of an event line; data and metadata follow it verbatim.
type eventLine struct {
	TenantID      uuid.UUID `json:"tenant_id"`
	Seq           int64     `json:"seq"`
	EventID       uuid.UUID `json:"event_id"`
	StreamID      string    `json:"stream_id"`
	StreamVersion int64     `json:"stream_version"`
	Type          string    `json:"type"`
	SchemaVersion int       `json:"schema_version"`
	RecordedAt    time.Time `json:"recorded_at"`
	PrevHash      string    `json:"prev_hash"`
	Hash          string    `json:"hash"`
}

// AppendEventLine appends e's export line, "\n" included. encoding/json would compact the
// jsonb text of data and metadata, so they are spliced in verbatim after the other fields.
func AppendEventLine(b []byte, e *Event) ([]byte, error) {
	b, err := AppendFixed(b, e)
	if err != nil {
		return b, err
	}
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	b = append(b, `,"metadata":`...)
	b = append(b, e.Metadata...)
	return append(b, "}\n"...), nil
}

// AppendFixed appends the part of e's export line before data and metadata: the object's
// opening brace and its fixed fields, without the closing brace. The verifier compares an
// event line with it (AUDIT.md, "Event lines": exactly the bytes the exporter writes).
func AppendFixed(b []byte, e *Event) ([]byte, error) {
	head, err := json.Marshal(eventLine{TenantID: e.TenantID, Seq: e.Seq, EventID: e.ID, StreamID: e.StreamID,
		StreamVersion: e.StreamVersion, Type: e.Type, SchemaVersion: e.SchemaVersion, RecordedAt: e.RecordedAt.UTC(),
		PrevHash: hex.EncodeToString(e.PrevHash[:]), Hash: hex.EncodeToString(e.Hash[:])})
	if err != nil {
		return b, fmt.Errorf("encode event %d: %w", e.Seq, err)
	}
	return append(b, head[:len(head)-1]...), nil
}
