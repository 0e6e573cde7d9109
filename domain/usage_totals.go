package domain

import (
	"encoding/binary"
	"fmt"
	"time"
)

// UsageDelta is what one event adds to its tenant's usage totals of one metric in one
// quota period (the UTC calendar month Period starts): Sum its records' quantities added
// up, Max the highest and Last the last of them by (occurred_at, record index), LastAt and
// LastIndex that record's occurred_at and index in the event. Values are exact decimal
// text. Quota, when not empty, is the metric's hard quota for the period: the append that
// would take the period's total beyond it is refused as a whole.
type UsageDelta struct {
	Metric    string
	Period    time.Time
	Sum       string
	Max       string
	Last      string
	LastAt    time.Time
	LastIndex int32
	Quota     string
}

// QuotaExceeded is the event store's refusal of an append that would take a usage total
// beyond its hard quota (UsageDelta.Quota): nothing of the append was written. Used is
// the period's total before the append, exact decimal text, as is Quota.
type QuotaExceeded struct {
	Metric string
	Period time.Time
	Used   string
	Quota  string
}

func (e *QuotaExceeded) Error() string {
	return fmt.Sprintf("usage of %s in %s would exceed its hard quota of %s (used: %s)", e.Metric, e.Period.Format("2006-01"), e.Quota, e.Used)
}

// UsageLastKey is the position of a usage reading as the totals and read models order them:
// 20 bytes that sort (byte by byte) as (occurred_at in unix nanoseconds, the event's seq,
// the record's index in the event); each part has its sign bit flipped (offset binary), so
// the bytes sort as the signed numbers do. It lives here, not in domain/usage, so that the
// event store (which may not import domain/usage) and the domain share one definition.
func UsageLastKey(at time.Time, seq int64, idx int32) []byte {
	k := make([]byte, 20)
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano())^1<<63)
	binary.BigEndian.PutUint64(k[8:], uint64(seq)^1<<63)
	binary.BigEndian.PutUint32(k[16:], uint32(idx)^1<<31)
	return k
}
