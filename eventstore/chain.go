package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain/auditlog"
)

// chainTag opens every hashed record; it names the encoding version (CHAIN.md).
const chainTag = "tenantry.event.v1"

// ChainHash is the hash of e chained to prev, per the canonical encoding v1 in CHAIN.md. It
// is the Go twin of the SQL function tenantry.event_hash; the tests hold the two equal.
func ChainHash(prev [32]byte, e *Event) [32]byte {
	buf := make([]byte, 0, 160+len(e.StreamID)+len(e.Type)+len(e.Data)+len(e.Metadata))
	return sha256.Sum256(appendCanonical(buf, prev, e))
}

func appendCanonical(b []byte, prev [32]byte, e *Event) []byte {
	b = append(b, chainTag...)
	b = append(b, prev[:]...)
	b = append(b, e.TenantID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Seq))
	b = append(b, e.ID[:]...)
	b = appendLenPrefixed(b, []byte(e.StreamID))
	b = binary.BigEndian.AppendUint64(b, uint64(e.StreamVersion))
	b = appendLenPrefixed(b, []byte(e.Type))
	b = binary.BigEndian.AppendUint32(b, uint32(e.SchemaVersion))
	b = appendLenPrefixed(b, e.Data)
	b = appendLenPrefixed(b, e.Metadata)
	b = binary.BigEndian.AppendUint64(b, uint64(e.RecordedAt.UnixMicro()))
	return b
}

func appendLenPrefixed(b, field []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
	return append(b, field...)
}

// Problem names what VerifyChain found wrong at the first bad seq. It and ChainReport are
// declared in domain/auditlog so that the use cases name them without importing storage.
type Problem = auditlog.Problem

// The problems VerifyChain reports (see domain/auditlog).
const (
	ProblemHash      = auditlog.ProblemHash
	ProblemLink      = auditlog.ProblemLink
	ProblemNumbering = auditlog.ProblemNumbering
	ProblemHead      = auditlog.ProblemHead
)

// ChainReport is the outcome of VerifyChain.
type ChainReport = auditlog.ChainReport

const verifyHeadSQL = `SELECT seq, hash FROM tenantry.tenant_heads WHERE tenant_id = $1`

const verifyEventsSQL = `SELECT ` + eventColumns + ` FROM tenantry.events WHERE tenant_id = $1 ORDER BY seq`

// VerifyChain re-hashes a tenant's whole stream from one snapshot and reports the first seq
// whose numbering, link or hash is wrong. A read error is returned as an error; tampering is
// reported in the ChainReport.
func (s *Store) VerifyChain(ctx context.Context, tenant uuid.UUID) (ChainReport, error) {
	return s.VerifyChainFrom(ctx, tenant, 0, [32]byte{})
}

const verifyEventsAfterSQL = `SELECT ` + eventColumns + ` FROM tenantry.events WHERE tenant_id = $1 AND seq > $2 ORDER BY seq`

// VerifyChainFrom extends an earlier verification that found seqs 1 to after sound, the
// hash of seq after being afterHash: it re-hashes only the events after it, and checks
// that they link to afterHash and reach the head. Its report is about the whole stream
// (events_checked counts the earlier ones too) on the premise that those earlier events
// did not change since; only VerifyChain checks that. It lets a caller that verifies often
// (GET /v1/audit/verify) pay for new events only.
func (s *Store) VerifyChainFrom(ctx context.Context, tenant uuid.UUID, after int64, afterHash [32]byte) (ChainReport, error) {
	if tenant == uuid.Nil {
		return ChainReport{}, ErrNoTenant
	}
	rep := ChainReport{Tenant: tenant, Events: after}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, tenantOnlySQL, tenant.String()); err != nil {
			return err
		}
		var headHash []byte
		err := tx.QueryRow(ctx, verifyHeadSQL, tenant).Scan(&rep.HeadSeq, &headHash)
		if err != nil && err != pgx.ErrNoRows {
			return err
		}
		rep.HeadHash = hex.EncodeToString(headHash)
		rows, err := tx.Query(ctx, verifyEventsAfterSQL, tenant, after)
		if err != nil {
			return err
		}
		return verifyRows(rows, &rep, headHash, afterHash)
	})
	if err != nil {
		return ChainReport{}, fmt.Errorf("verify chain of tenant %s from seq %d: %w", tenant, after+1, err)
	}
	return rep, nil
}

// verifyRows walks the rows in seq order and fills rep; the first problem wins. The rows
// follow seq rep.Events, whose hash is prev (genesis: 0 and 32 zero bytes).
func verifyRows(rows pgx.Rows, rep *ChainReport, headHash []byte, prev [32]byte) error {
	defer rows.Close()
	var e Event
	buf := make([]byte, 0, 1024)
	fail := func(seq int64, p Problem, format string, args ...any) {
		if rep.Problem == "" {
			rep.FirstBadSeq, rep.Problem, rep.Detail = seq, p, fmt.Sprintf(format, args...)
		}
	}
	var decode func(*Event) error
	for rows.Next() {
		if decode == nil {
			decode = eventDecoder(rows)
		}
		if err := decode(&e); err != nil {
			return err
		}
		if rep.Problem != "" {
			continue // drain; the first problem is the one reported
		}
		want := rep.Events + 1
		switch {
		case e.Seq != want:
			fail(min(e.Seq, want), ProblemNumbering, "expected seq %d, found seq %d", want, e.Seq)
			continue
		case e.PrevHash != prev:
			fail(e.Seq, ProblemLink, "prev_hash %x is not the hash of seq %d", e.PrevHash, e.Seq-1)
			continue
		}
		buf = appendCanonical(buf[:0], prev, &e)
		if sha256.Sum256(buf) != e.Hash {
			fail(e.Seq, ProblemHash, "stored hash does not match the event's content")
			continue
		}
		prev = e.Hash
		rep.Events++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if rep.Problem == "" {
		switch {
		case rep.Events < rep.HeadSeq:
			fail(rep.Events+1, ProblemNumbering, "head is at seq %d but the stream ends at seq %d", rep.HeadSeq, rep.Events)
		case rep.Events > rep.HeadSeq:
			fail(rep.HeadSeq+1, ProblemHead, "stream has %d events but the head is at seq %d", rep.Events, rep.HeadSeq)
		case rep.Events > 0 && hex.EncodeToString(prev[:]) != rep.HeadHash:
			fail(rep.HeadSeq, ProblemHead, "head hash differs from the hash of seq %d", rep.HeadSeq)
		}
	}
	rep.OK = rep.Problem == ""
	return nil
}

// rawBinary reports whether rows can be read by decodeRawEvent without allocating
// (verification walks whole streams): every fixed-width column in binary format. Text and
// jsonb columns may come in either format; the jsonb binary form is marked in *jsonbBinary.
func rawBinary(rows pgx.Rows, jsonbBinary *bool) bool {
	fds := rows.FieldDescriptions()
	if len(fds) != 14 {
		return false
	}
	for i, fd := range fds {
		switch i {
		case 2, 5: // text: the same bytes in both formats
		case 7, 8:
			if fd.Format != fds[7].Format {
				return false
			}
		default:
			if fd.Format != pgx.BinaryFormatCode {
				return false
			}
		}
	}
	*jsonbBinary = fds[7].Format == pgx.BinaryFormatCode
	return true
}

// pgEpochMicros is 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch, in Unix microseconds.
const pgEpochMicros = 946684800_000_000

// decodeRawEvent decodes one row in eventColumns order into e, reusing e's buffers.
func decodeRawEvent(v [][]byte, jsonbBinary bool, e *Event) error {
	if len(v) != 14 || len(v[0]) != 16 || len(v[1]) != 8 || len(v[3]) != 8 || len(v[4]) != 16 ||
		len(v[6]) != 4 || len(v[9]) != 8 || len(v[10]) != 8 ||
		len(v[11]) != 8 || len(v[12]) != 32 || len(v[13]) != 32 {
		return fmt.Errorf("unexpected event row shape")
	}
	data, meta := v[7], v[8]
	if jsonbBinary {
		// jsonb's binary form is a version byte (1) followed by the text form.
		if len(data) < 1 || len(meta) < 1 || data[0] != 1 || meta[0] != 1 {
			return fmt.Errorf("unsupported jsonb binary version")
		}
		data, meta = data[1:], meta[1:]
	}
	be := binary.BigEndian
	copy(e.TenantID[:], v[0])
	e.Seq = int64(be.Uint64(v[1]))
	e.StreamID = string(v[2])
	e.StreamVersion = int64(be.Uint64(v[3]))
	copy(e.ID[:], v[4])
	e.Type = string(v[5])
	e.SchemaVersion = int(int32(be.Uint32(v[6])))
	e.Data = append(e.Data[:0], data...)
	e.Metadata = append(e.Metadata[:0], meta...)
	e.RecordedAt = time.UnixMicro(int64(be.Uint64(v[9])) + pgEpochMicros)
	e.TxID = be.Uint64(v[10])
	e.Position = int64(be.Uint64(v[11]))
	copy(e.PrevHash[:], v[12])
	copy(e.Hash[:], v[13])
	return nil
}

// Head returns the tenant's head: its last seq and that event's hash (0 and zeros when it
// has no events).
func (s *Store) Head(ctx context.Context, tenant uuid.UUID) (int64, [32]byte, error) {
	var seq int64
	var hash [32]byte
	if tenant == uuid.Nil {
		return 0, hash, ErrNoTenant
	}
	b := &pgx.Batch{}
	b.Queue(tenantOnlySQL, tenant.String())
	var raw []byte
	b.Queue(verifyHeadSQL, tenant).QueryRow(func(r pgx.Row) error {
		err := r.Scan(&seq, &raw)
		if err == pgx.ErrNoRows {
			return nil
		}
		return err
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return 0, hash, fmt.Errorf("read head of tenant %s: %w", tenant, err)
	}
	copy(hash[:], raw)
	return seq, hash, nil
}
