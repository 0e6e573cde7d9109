package httpapi_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	httpapi "github.com/tenantry/tenantry/http"
)

// The NDJSON export carries every field the hash chain covers, in the bytes it covered: each
// line can be verified as it stands, and the lines link up.
func TestAuditEvents_LinesVerifyOnTheirOwn(t *testing.T) {
	t.Parallel()
	signer, err := audit.ParseSigningKey(strings.Repeat("ab", 32))
	require.NoError(t, err)
	a := newAPI(t, func(d *httpapi.Deps) { d.AuditSigner = signer })
	ten := a.createTenant("pro")
	r := a.do(req{method: "POST", path: "/v1/members", token: ten.key, body: map[string]any{"email": "au@example.com", "role": "auditor"}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	r = a.do(req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: map[string]any{"name": "Café Ünïcode"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"metric": "api_calls", "quantity": 2, "idempotency_key": "quote\"and\\back"}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))

	r = a.do(req{method: "GET", path: "/v1/audit/events", token: ten.key})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	require.Equal(t, "application/x-ndjson", r.header.Get("Content-Type"))
	lines := bytes.Split(bytes.TrimSuffix(r.raw, []byte("\n")), []byte("\n"))
	require.Len(t, lines, 7, "six events and the head")
	rep, err := audit.Verify(bytes.NewReader(r.raw), audit.VerifyOptions{PublicKey: signer.PublicKey()})
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)
	require.True(t, rep.Signed)
	require.Equal(t, int64(6), rep.HeadSeq)
	var prev [32]byte
	for i, line := range lines[:6] {
		var l struct {
			TenantID      uuid.UUID       `json:"tenant_id"`
			Seq           int64           `json:"seq"`
			EventID       uuid.UUID       `json:"event_id"`
			StreamID      string          `json:"stream_id"`
			StreamVersion int64           `json:"stream_version"`
			Type          string          `json:"type"`
			SchemaVersion int             `json:"schema_version"`
			Data          json.RawMessage `json:"data"`
			Metadata      json.RawMessage `json:"metadata"`
			RecordedAt    time.Time       `json:"recorded_at"`
			PrevHash      string          `json:"prev_hash"`
			Hash          string          `json:"hash"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&l), string(line))
		require.Equal(t, int64(i+1), l.Seq)
		require.Equal(t, hex.EncodeToString(prev[:]), l.PrevHash)
		e := eventstore.Event{TenantID: l.TenantID, Seq: l.Seq, ID: l.EventID, StreamID: l.StreamID, StreamVersion: l.StreamVersion,
			Type: l.Type, SchemaVersion: l.SchemaVersion, Data: l.Data, Metadata: l.Metadata, RecordedAt: l.RecordedAt}
		sum := eventstore.ChainHash(prev, &e)
		require.Equal(t, l.Hash, hex.EncodeToString(sum[:]), "line %d verifies from its own bytes", i+1)
		prev = sum
	}
	v := a.do(req{method: "GET", path: "/v1/audit/verify", token: ten.key})
	require.Equal(t, hex.EncodeToString(prev[:]), v.str("head_hash"))

	// Paging by after_seq.
	r = a.do(req{method: "GET", path: "/v1/audit/events?after_seq=4&limit=1", token: ten.key})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, lines[4], bytes.TrimSuffix(r.raw, []byte("\n")), "a page that ends before the head has no head line")
	r = a.do(req{method: "GET", path: "/v1/audit/events?after_seq=5", token: ten.key})
	require.Equal(t, http.StatusOK, r.status)
	last := bytes.Split(bytes.TrimSuffix(r.raw, []byte("\n")), []byte("\n"))
	require.Len(t, last, 2)
	require.Equal(t, lines[5], last[0])
	require.True(t, bytes.HasPrefix(last[1], []byte(`{"head":`)), "the last page ends with the head")
	head, err := audit.ParseHead(last[1])
	require.NoError(t, err)
	require.NoError(t, head.Verify(signer.PublicKey()))
}
