package usage_test

import (
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain/usage"
)

var (
	now      = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tenantID = uuid.MustParse("01956b7e-0000-7000-8000-000000000001")
)

func parts(t *testing.T) (usage.Metric, usage.Quantity, usage.IdempotencyKey) {
	t.Helper()
	m, err := usage.ParseMetric("api_calls")
	require.NoError(t, err)
	q, err := usage.NewQuantity(12)
	require.NoError(t, err)
	k, err := usage.ParseIdempotencyKey("req-1")
	require.NoError(t, err)
	return m, q, k
}

func TestNewRecord_AcceptsTheDocumentedWindowInclusive(t *testing.T) {
	m, q, k := parts(t)
	for name, at := range map[string]time.Time{
		"Now":             now,
		"FutureBoundary":  now.Add(5 * time.Minute),
		"PastBoundary":    now.Add(-35 * 24 * time.Hour),
		"OtherZoneAsUTC":  now.In(time.FixedZone("X", -7*3600)),
		"AlmostTooOld":    now.Add(-35*24*time.Hour + time.Nanosecond),
		"AlmostTooFuture": now.Add(5*time.Minute - time.Nanosecond),
	} {
		t.Run(name, func(t *testing.T) {
			r, err := usage.NewRecord(m, q, at, k, now)
			require.NoError(t, err)
			require.Equal(t, usage.Recorded{Metric: m, Quantity: q, OccurredAt: at.UTC(), IdempotencyKey: k}, r)
			require.Equal(t, time.UTC, r.OccurredAt.Location())
		})
	}
}

func TestNewRecord_Rejects(t *testing.T) {
	m, q, k := parts(t)
	tests := []struct {
		name  string
		m     usage.Metric
		q     usage.Quantity
		at    time.Time
		k     usage.IdempotencyKey
		field string
	}{
		{"TooFarInFuture", m, q, now.Add(5*time.Minute + time.Nanosecond), k, "occurred_at"},
		{"TooOld", m, q, now.Add(-35*24*time.Hour - time.Nanosecond), k, "occurred_at"},
		{"ZeroTime", m, q, time.Time{}, k, "occurred_at"},
		{"UnsetMetric", usage.Metric{}, q, now, k, "metric"},
		{"UnsetQuantity", m, usage.Quantity{}, now, k, "quantity"},
		{"UnsetKey", m, q, now, usage.IdempotencyKey{}, "idempotency_key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := usage.NewRecord(tt.m, tt.q, tt.at, tt.k, now)
			requireInvalid(t, err, tt.field)
			require.Equal(t, usage.Recorded{}, r)
		})
	}
}

func TestRecorded_StoredJSONShape(t *testing.T) {
	m, q, k := parts(t)
	r, err := usage.NewRecord(m, q, now, k, now)
	require.NoError(t, err)
	require.Equal(t, "usage.recorded", r.EventType())
	require.Equal(t, 1, r.SchemaVersion())
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.JSONEq(t, `{"metric":"api_calls","quantity":12,"occurred_at":"2025-03-01T12:00:00Z","idempotency_key":"req-1"}`, string(b))
	var back usage.Recorded
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, r, back)
}

func TestRecordEventID_IsADeterministicUUIDv8(t *testing.T) {
	_, _, k := parts(t)
	id := usage.RecordEventID(tenantID, k)
	require.Equal(t, id, usage.RecordEventID(tenantID, k), "a retry must reproduce the id")
	require.Equal(t, uuid.Version(8), id.Version())
	require.Equal(t, uuid.RFC4122, id.Variant())

	// Independent derivation, so the documented construction is what ships.
	sum := sha256.Sum256(append(append([]byte("tenantry/usage/v1"), tenantID[:]...), "req-1"...))
	var want uuid.UUID
	copy(want[:], sum[:16])
	want[6] = want[6]&0x0f | 0x80
	want[8] = want[8]&0x3f | 0x80
	require.Equal(t, want, id)

	// Pinned: changing the derivation would let retries in flight during a
	// deploy be counted twice.
	require.Equal(t, "4b42ede9-c6f7-8b25-aa92-d1406ab08547", id.String())

	other, err := usage.ParseIdempotencyKey("req-2")
	require.NoError(t, err)
	require.NotEqual(t, id, usage.RecordEventID(tenantID, other))
	require.NotEqual(t, id, usage.RecordEventID(uuid.MustParse("01956b7e-0000-7000-8000-000000000002"), k))
}
