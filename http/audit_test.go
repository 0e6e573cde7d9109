package httpapi_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	httpapi "github.com/tenantry/tenantry/http"
)

// The NDJSON export carries every field the hash chain covers, in the bytes it covered: each
// line can be verified as it stands, and the lines link up.
func TestAuditEvents_LinesVerifyOnTheirOwn(t *testing.T) {
	t.Parallel()
	signer, err := auditlog.ParseSigningKey(strings.Repeat("ab", 32))
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

	// Paging by cursor: after seq 4 comes seq 5 (lines[4]).
	r = a.do(req{method: "GET", path: "/v1/audit/events?limit=1&cursor=" + domain.SeqCursor(domain.ListAuditEvents, 4), token: ten.key})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, lines[4], bytes.TrimSuffix(r.raw, []byte("\n")), "a page that ends before the head has no head line")
	require.Equal(t, "true", r.header.Get("Tenantry-Has-More"))
	r = a.do(req{method: "GET", path: "/v1/audit/events?cursor=" + r.header.Get("Tenantry-Next-Cursor"), token: ten.key})
	require.Equal(t, "false", r.header.Get("Tenantry-Has-More"))
	require.Empty(t, r.header.Values("Tenantry-Next-Cursor"), "none after the last page")
	require.Equal(t, http.StatusOK, r.status)
	last := bytes.Split(bytes.TrimSuffix(r.raw, []byte("\n")), []byte("\n"))
	require.Len(t, last, 2)
	require.Equal(t, lines[5], last[0])
	require.True(t, bytes.HasPrefix(last[1], []byte(`{"head":`)), "the last page ends with the head")
	head, err := audit.ParseHead(last[1])
	require.NoError(t, err)
	require.NoError(t, head.Verify(signer.PublicKey()))
}

// Time travel: the state replayed from events as of an instant equals the read models as
// they were at that instant, at every step of a scripted history.
func TestAuditState_AsOfEachInstantEqualsTheReadModelsThen(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ten := a.createTenant("pro")
	type snapshot struct {
		at      time.Time
		tenant  map[string]any
		members map[string]string // id -> email/role
		usage   map[string]float64
	}
	var snaps []snapshot
	take := func() {
		head := a.do(req{method: "GET", path: "/v1/audit/verify", token: ten.key}).get("head_seq").(float64)
		q := "?min_seq=" + strconv.FormatInt(int64(head), 10)
		p := a.do(req{method: "GET", path: "/v1/tenant" + q, token: ten.key})
		require.Equal(t, http.StatusOK, p.status, string(p.raw))
		m := a.do(req{method: "GET", path: "/v1/members" + q, token: ten.key})
		members := map[string]string{}
		for _, x := range m.get("members").([]any) {
			mm := x.(map[string]any)
			members[mm["id"].(string)] = mm["email"].(string) + "/" + mm["role"].(string)
		}
		u := a.do(req{method: "GET", path: "/v1/usage" + q + "&granularity=day", token: ten.key})
		usage := map[string]float64{}
		for _, x := range u.get("series").([]any) {
			s := x.(map[string]any)
			usage[s["metric"].(string)] = s["total"].(float64)
		}
		snaps = append(snaps, snapshot{at: time.Now(), members: members, usage: usage,
			tenant: map[string]any{"name": p.str("name"), "plan": p.str("plan"), "status": p.str("status")}})
		time.Sleep(5 * time.Millisecond) // the next step's events are recorded after this instant
	}
	take()
	r := a.do(req{method: "PATCH", path: "/v1/tenant", token: ten.key, body: map[string]any{"name": "Step Two"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	take()
	r = a.do(req{method: "POST", path: "/v1/members", token: ten.key, body: map[string]any{"email": "ed@example.com", "role": "editor"}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	r = a.do(req{method: "POST", path: "/v1/invitations/accept", body: map[string]any{"token": r.str("token")}})
	require.Equal(t, http.StatusCreated, r.status, string(r.raw))
	edID := r.str("member", "id")
	take()
	r = a.do(req{method: "POST", path: "/v1/usage", token: ten.key, body: map[string]any{"records": []any{
		map[string]any{"metric": "api_calls", "quantity": 5, "idempotency_key": "tt-1"},
		map[string]any{"metric": "storage_gb", "quantity": 2, "idempotency_key": "tt-2"}}}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.raw))
	take()
	r = a.do(req{method: "PATCH", path: "/v1/members/" + edID, token: ten.key, body: map[string]any{"role": "viewer"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	take()
	r = a.do(req{method: "DELETE", path: "/v1/members/" + edID, token: ten.key})
	require.Less(t, r.status, 300, string(r.raw))
	take()
	r = a.do(req{method: "POST", path: "/v1/admin/tenants/" + ten.id + "/suspend", token: operatorToken, body: map[string]any{"reason": "operator"}})
	require.Equal(t, http.StatusOK, r.status, string(r.raw))
	take()

	for i, s := range snaps {
		st := a.do(req{method: "GET", path: "/v1/audit/state?as_of=" + s.at.UTC().Format(time.RFC3339Nano), token: ten.key})
		require.Equal(t, http.StatusOK, st.status, string(st.raw))
		for k, v := range s.tenant {
			require.Equal(t, v, st.get("tenant", k), "step %d: tenant %s", i+1, k)
		}
		members := map[string]string{}
		for _, x := range st.get("members").([]any) {
			mm := x.(map[string]any)
			members[mm["id"].(string)] = mm["email"].(string) + "/" + mm["role"].(string)
		}
		require.Equal(t, s.members, members, "step %d: members", i+1)
		usage := map[string]float64{}
		for k, v := range st.get("usage_totals").(map[string]any) {
			usage[k] = v.(float64)
		}
		require.Equal(t, s.usage, usage, "step %d: usage totals", i+1)
	}
}
