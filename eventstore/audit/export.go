// Package audit writes and checks audit exports (AUDIT.md): a tenant's events as NDJSON,
// ending with a head signed with Ed25519, verifiable offline by anyone who holds the public
// key, and heads signed periodically so an auditor can prove that a later history extends
// one published earlier.
package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/eventstore"
)

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
func AppendEventLine(b []byte, e *eventstore.Event) ([]byte, error) {
	b, err := appendFixed(b, e)
	if err != nil {
		return b, err
	}
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	b = append(b, `,"metadata":`...)
	b = append(b, e.Metadata...)
	return append(b, "}\n"...), nil
}

// appendFixed appends the part of e's export line before data and metadata: the object's
// opening brace and its fixed fields, without the closing brace. The verifier compares an
// event line with it (AUDIT.md, "Event lines": exactly the bytes the exporter writes).
func appendFixed(b []byte, e *eventstore.Event) ([]byte, error) {
	head, err := json.Marshal(eventLine{TenantID: e.TenantID, Seq: e.Seq, EventID: e.ID, StreamID: e.StreamID,
		StreamVersion: e.StreamVersion, Type: e.Type, SchemaVersion: e.SchemaVersion, RecordedAt: e.RecordedAt.UTC(),
		PrevHash: hex.EncodeToString(e.PrevHash[:]), Hash: hex.EncodeToString(e.Hash[:])})
	if err != nil {
		return b, fmt.Errorf("encode event %d: %w", e.Seq, err)
	}
	return append(b, head[:len(head)-1]...), nil
}

// Head is a tenant's head, signed or not (AUDIT.md, "Heads").
type Head struct {
	TenantID  uuid.UUID `json:"tenant_id"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	SignedAt  time.Time `json:"signed_at"`
	KeyID     string    `json:"key_id"`
	Signature string    `json:"signature"`
}

const headTag = "tenantry.head.v1"

// Message is the 80 bytes a head's signature covers.
func (h Head) Message() ([]byte, error) {
	hash, err := hex.DecodeString(h.Hash)
	if err != nil || len(hash) != sha256.Size {
		return nil, fmt.Errorf("head hash %q is not 64 hex digits", h.Hash)
	}
	b := make([]byte, 0, 80)
	b = append(b, headTag...)
	b = append(b, h.TenantID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Seq))
	b = append(b, hash...)
	return binary.BigEndian.AppendUint64(b, uint64(h.SignedAt.UnixMicro())), nil
}

// Verify checks the head's signature and key id against pub.
func (h Head) Verify(pub ed25519.PublicKey) error {
	if h.Signature == "" {
		return fmt.Errorf("the head is not signed")
	}
	if h.KeyID != KeyID(pub) {
		return fmt.Errorf("the head was signed with key %q, not %q", h.KeyID, KeyID(pub))
	}
	sig, err := hex.DecodeString(h.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("the signature is not 128 hex digits")
	}
	msg, err := h.Message()
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, msg, sig) {
		return fmt.Errorf("the signature does not match the head")
	}
	return nil
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// Signer signs heads; a nil *Signer leaves them unsigned.
type Signer struct {
	key ed25519.PrivateKey
}

// ParseSigningKey reads TENANTRY_AUDIT_SIGNING_KEY: an Ed25519 seed (32 bytes) or private
// key (64 bytes), in hex or standard base64.
func ParseSigningKey(s string) (*Signer, error) {
	s = strings.TrimSpace(s)
	var raw []byte
	if b, err := hex.DecodeString(s); err == nil {
		raw = b
	} else if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		raw = b
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return &Signer{key: ed25519.NewKeyFromSeed(raw)}, nil
	case ed25519.PrivateKeySize:
		key := ed25519.PrivateKey(raw)
		if !ed25519.NewKeyFromSeed(key.Seed()).Equal(key) {
			return nil, fmt.Errorf("not a consistent Ed25519 private key")
		}
		return &Signer{key: key}, nil
	}
	return nil, fmt.Errorf("want an Ed25519 seed (32 bytes) or private key (64 bytes), in hex or base64")
}

// PublicKey returns the key auditors verify with.
func (s *Signer) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// Sign returns the head of tenant at (seq, hash), signed now (unsigned if s is nil).
func (s *Signer) Sign(tenant uuid.UUID, seq int64, hash [32]byte, now time.Time) Head {
	h := Head{TenantID: tenant, Seq: seq, Hash: hex.EncodeToString(hash[:]), SignedAt: now.UTC().Truncate(time.Microsecond)}
	if s == nil {
		return h
	}
	msg, _ := h.Message() // the hash is 32 bytes by construction
	h.KeyID = KeyID(s.PublicKey())
	h.Signature = hex.EncodeToString(ed25519.Sign(s.key, msg))
	return h
}

// Export writes the tenant's history as of now to w (AUDIT.md): every event up to the
// current head, then the head, signed by signer (and recorded). progress, when set, is told
// the seq reached after each page. It returns the head it wrote.
func Export(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, w io.Writer, signer *Signer, now func() time.Time, progress func(seq, head int64)) (Head, error) {
	head, _, err := ExportPage(ctx, store, tenant, w, 0, 0, signer, now, progress)
	return head, err
}

// ExportPage writes one page of the tenant's history to w: the events after after, at most
// limit of them (0: no limit), up to the tenant's head as of the call. When the page reaches
// the head it ends with the head line, signed by signer (and recorded), and complete is true;
// GET /v1/audit/events serves exports this way, page by page.
func ExportPage(ctx context.Context, store *eventstore.Store, tenant uuid.UUID, w io.Writer, after int64, limit int,
	signer *Signer, now func() time.Time, progress func(seq, head int64)) (head Head, complete bool, err error) {
	seq, hash, err := store.Head(ctx, tenant)
	if err != nil {
		return Head{}, false, err
	}
	end := seq
	if limit > 0 && after+int64(limit) < seq {
		end = after + int64(limit)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var line []byte
	for after < end {
		page, err := store.ReadTenantBounded(ctx, tenant, after, min(eventstore.MaxPage, int(end-after)))
		if err != nil {
			return Head{}, false, err
		}
		if len(page) == 0 {
			return Head{}, false, fmt.Errorf("tenant %s: events after seq %d are missing below its head %d", tenant, after, seq)
		}
		for i := range page {
			if line, err = AppendEventLine(line[:0], &page[i]); err != nil {
				return Head{}, false, err
			}
			if _, err := bw.Write(line); err != nil {
				return Head{}, false, err
			}
			after = page[i].Seq
		}
		if progress != nil {
			progress(after, seq)
		}
	}
	if after < seq {
		return Head{}, false, bw.Flush()
	}
	if head, err = signedHeadAt(ctx, store, signer, tenant, seq, hash, now); err != nil {
		return Head{}, false, err
	}
	b, err := HeadLine(head)
	if err != nil {
		return Head{}, false, err
	}
	if _, err := bw.Write(b); err != nil {
		return Head{}, false, err
	}
	return head, true, bw.Flush()
}

// HeadLine is the export's last line for head, "\n" included.
func HeadLine(head Head) ([]byte, error) {
	b, err := json.Marshal(struct {
		Head Head `json:"head"`
	}{head})
	return append(b, '\n'), err
}
