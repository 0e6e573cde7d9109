package domain

import (
	"encoding/binary"
	"fmt"
	"time"
)

// UsageLastKey is the position of a usage reading as the usage totals and read models
// order them: 20 bytes that sort (byte by byte) as (occurred_at in unix nanoseconds, the
// event's seq, the record's index in the event); each part has its sign bit flipped
// (offset binary), so the bytes sort as the signed numbers do.
func UsageLastKey(at time.Time, seq int64, idx int32) []byte {
	k := make([]byte, 20)
	binary.BigEndian.PutUint64(k, uint64(at.UnixNano())^1<<63)
	binary.BigEndian.PutUint64(k[8:], uint64(seq)^1<<63)
	binary.BigEndian.PutUint32(k[16:], uint32(idx)^1<<31)
	return k
}

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

// QuotaExceeded is usage refused for a hard quota of the tenant's plan: the event store's
// refusal of an append that would take a usage total beyond its UsageDelta.Quota (nothing
// of the append was written), or the use case's of a record. Period is the quota period's
// start; Used the period's usage before the refused records, exact decimal text, as is
// Quota; Reading, for a gauge, the refused reading (a gauge's quota bounds each reading).
// It unwraps to a CodeQuota *Error, so callers that branch on codes see it.
type QuotaExceeded struct {
	Metric  string
	Period  time.Time
	Used    string
	Quota   string
	Reading string
}

func (e *QuotaExceeded) Error() string {
	end := e.Period.AddDate(0, 1, 0).Format(time.RFC3339)
	if e.Reading != "" {
		return fmt.Sprintf("a reading of %s for %s is above its hard quota of %s", e.Reading, e.Metric, e.Quota)
	}
	return fmt.Sprintf("usage of %s would exceed its hard quota of %s for the period ending %s (used so far: %s)", e.Metric, e.Quota, end, e.Used)
}

// Unwrap makes the refusal a CodeQuota domain error.
func (e *QuotaExceeded) Unwrap() error {
	return &Error{Code: CodeQuota, Field: "quantity", Message: e.Error()}
}
