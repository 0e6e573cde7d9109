package app

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain/auditlog"
)

// EventPages is what exporting needs of the event store (eventstore.Store implements it): a
// tenant's head and its events as stored, a page at a time.
type EventPages interface {
	// Head returns the tenant's last seq and that event's hash (0 and zeros: no events).
	Head(ctx context.Context, tenant uuid.UUID) (int64, [32]byte, error)
	// AuditPage returns up to limit events after afterSeq in seq order; a page may be cut
	// short by size, so only an empty one ends the history.
	AuditPage(ctx context.Context, tenant uuid.UUID, afterSeq int64, limit int) ([]auditlog.Event, error)
}

// SignedHeads keeps the heads Tenantry signed, so an auditor can be shown that a later
// history extends one published earlier (eventstore.Store implements it).
type SignedHeads interface {
	LatestSignedHead(ctx context.Context, tenant uuid.UUID) (auditlog.Head, bool, error)
	RecordSignedHead(ctx context.Context, h auditlog.Head) error
}

// exportPage is how many events an export reads per round trip (eventstore's MaxPage).
const exportPage = 10000

// Export writes a tenant's history as an audit export (eventstore/audit/AUDIT.md): every
// event up to the tenant's head as of the call, as NDJSON, then the head line, signed with
// Signer (nil: unsigned) and recorded. `tenantry audit export` writes it whole; GET
// /v1/audit/events serves it page by page.
type Export struct {
	Events EventPages
	Heads  SignedHeads
	Signer *auditlog.Signer
	// Now is the clock heads are signed by; nil is time.Now.
	Now func() time.Time
}

// ExportInput picks the part of the history to write: the events after After, at most
// Limit of them (0: no limit). Progress, when set, is told the seq reached after each page
// and the head's seq. Start, when set, is told before anything is written the last seq this
// part ends at and the head's seq (last < head: there is more after it), so that a caller
// can say where the next part starts before it streams this one.
type ExportInput struct {
	Tenant   uuid.UUID
	After    int64
	Limit    int
	Progress func(seq, head int64)
	Start    func(last, head int64)
}

// ExportResult says whether the page reached the head (and so ended with the head line),
// and which head that was.
type ExportResult struct {
	Head     auditlog.Head
	Complete bool
}

// Write writes the part of the history in asks for to w.
func (u Export) Write(ctx context.Context, in ExportInput, w io.Writer) (ExportResult, error) {
	seq, hash, err := u.Events.Head(ctx, in.Tenant)
	if err != nil {
		return ExportResult{}, err
	}
	after, end := in.After, seq
	if in.Limit > 0 && after+int64(in.Limit) < seq {
		end = after + int64(in.Limit)
	}
	if in.Start != nil {
		in.Start(end, seq)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	var line []byte
	for after < end {
		page, err := u.Events.AuditPage(ctx, in.Tenant, after, min(exportPage, int(end-after)))
		if err != nil {
			return ExportResult{}, err
		}
		if len(page) == 0 {
			return ExportResult{}, fmt.Errorf("tenant %s: events after seq %d are missing below its head %d", in.Tenant, after, seq)
		}
		for i := range page {
			if line, err = auditlog.AppendEventLine(line[:0], &page[i]); err != nil {
				return ExportResult{}, err
			}
			if _, err := bw.Write(line); err != nil {
				return ExportResult{}, err
			}
			after = page[i].Seq
		}
		if in.Progress != nil {
			in.Progress(after, seq)
		}
	}
	if after < seq {
		return ExportResult{}, bw.Flush()
	}
	head, err := u.headAt(ctx, in.Tenant, seq, hash)
	if err != nil {
		return ExportResult{}, err
	}
	b, err := auditlog.HeadLine(head)
	if err != nil {
		return ExportResult{}, err
	}
	if _, err := bw.Write(b); err != nil {
		return ExportResult{}, err
	}
	return ExportResult{Head: head, Complete: true}, bw.Flush()
}

// headAt is the head of tenant at (seq, hash) for an export: unsigned without a signer;
// else the newest recorded head if it is that very head under the same key, so that
// exporting an unmoved history again and again (every last page of GET /v1/audit/events)
// records nothing; else a fresh one, signed now and recorded. Only exports racing each
// other on a new seq can record more than one head for it.
func (u Export) headAt(ctx context.Context, tenant uuid.UUID, seq int64, hash [32]byte) (auditlog.Head, error) {
	if u.Signer == nil {
		return u.Signer.Sign(tenant, seq, hash, u.now()), nil
	}
	last, ok, err := u.Heads.LatestSignedHead(ctx, tenant)
	if err != nil {
		return auditlog.Head{}, fmt.Errorf("read the latest signed head: %w", err)
	}
	if ok && last.Seq == seq && last.Hash == hex.EncodeToString(hash[:]) && last.KeyID == auditlog.KeyID(u.Signer.PublicKey()) {
		return last, nil
	}
	h := u.Signer.Sign(tenant, seq, hash, u.now())
	if err := u.Heads.RecordSignedHead(ctx, h); err != nil {
		return auditlog.Head{}, fmt.Errorf("record the signed head: %w", err)
	}
	return h, nil
}

func (u Export) now() time.Time {
	if u.Now == nil {
		return time.Now()
	}
	return u.Now()
}
