package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/api"
	"github.com/tenantry/tenantry/http/client"
)

func TestClient_RecordsUsageOnceUnderAnIdempotencyKeyAndReadsItsWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	c, created := e.tenant(t, "pro")
	require.NotEmpty(t, created.APIKey.Key)

	rec := api.UsageBatch{Records: []api.UsageRecord{{Metric: "api_calls", Quantity: "5", IdempotencyKey: "rec-1"}}}
	first, res, err := c.RecordUsage(ctx, rec, client.WithIdempotencyKey("req-1"), client.WithRequestID("client-test-1"))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	require.Equal(t, api.UsageRecorded{Accepted: 1, Duplicates: 0, Seq: first.Seq}, first)
	require.False(t, res.IdempotentReplayed)
	require.Equal(t, "client-test-1", res.RequestID)
	require.NotNil(t, res.RateLimit, "tenant operations carry RateLimit")
	require.Equal(t, "plan", res.RateLimit.Policy)
	require.Positive(t, res.RateLimit.Quota)

	// The same request under the same key: its first answer, replayed.
	again, res, err := c.RecordUsage(ctx, rec, client.WithIdempotencyKey("req-1"))
	require.NoError(t, err)
	require.True(t, res.IdempotentReplayed)
	require.Equal(t, first, again)

	// A new request repeating the record's own key: counted once, a duplicate with its seq.
	dup, res, err := c.RecordUsage(ctx, api.UsageBatch{Records: []api.UsageRecord{rec.Records[0], {Metric: "api_calls", Quantity: "7", IdempotencyKey: "rec-2"}}})
	require.NoError(t, err)
	require.False(t, res.IdempotentReplayed)
	require.Equal(t, 1, dup.Accepted)
	require.Equal(t, 1, dup.Duplicates)
	require.Greater(t, dup.Seq, first.Seq)

	// Read your write: min_seq waits for the usage read model.
	usage, _, err := c.GetUsage(ctx, client.UsageQuery{Metric: "api_calls", Granularity: "day"}, client.WithMinSeq(dup.Seq))
	require.NoError(t, err)
	require.Len(t, usage.Series, 1)
	require.Equal(t, "api_calls", usage.Series[0].Metric)
	require.Equal(t, "12", usage.Series[0].Total.String())

	// The tenant it acts on, read through the client's X-Tenant.
	profile, _, err := c.GetTenant(ctx)
	require.NoError(t, err)
	require.Equal(t, created.Tenant.ID, profile.ID)
	require.Equal(t, "pro", profile.Plan)
}

func TestClient_PagesThroughEveryMemberWithNoDuplicateOrGap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	c, created := e.tenant(t, "pro")
	want := map[uuid.UUID]bool{created.Admin.ID: true}
	var seq int64
	for i := range 6 {
		inv, _, err := c.InviteMember(ctx, api.InviteRequest{Email: fmt.Sprintf("m%d@client.example", i), Role: "viewer"})
		require.NoError(t, err)
		acc, _, err := e.operator.With(client.WithToken("")).AcceptInvitation(ctx, api.AcceptInvitationRequest{Token: inv.Token})
		require.NoError(t, err)
		want[acc.Member.ID] = true
		seq = acc.Seq
	}

	// Page by page: more than one page, each of at most the limit.
	pages, got := 0, map[uuid.UUID]bool{}
	page := client.PageParams{Limit: 3}
	for {
		l, _, err := c.ListMembers(ctx, page, client.WithMinSeq(seq))
		require.NoError(t, err)
		pages++
		require.LessOrEqual(t, len(l.Members), 3)
		for _, m := range l.Members {
			require.False(t, got[m.ID], "member %s on two pages", m.ID)
			got[m.ID] = true
		}
		if !l.HasMore {
			require.Nil(t, l.NextCursor)
			break
		}
		page.Cursor = *l.NextCursor
	}
	require.Equal(t, want, got)
	require.Equal(t, 3, pages, "7 members, 3 a page")

	// The iterator follows the same cursors.
	got = map[uuid.UUID]bool{}
	for m, err := range c.Members(ctx, 3, client.WithMinSeq(seq)) {
		require.NoError(t, err)
		require.False(t, got[m.ID], "member %s yielded twice", m.ID)
		got[m.ID] = true
	}
	require.Equal(t, want, got)

	// A break stops it after the first member.
	n := 0
	for range c.Members(ctx, 3) {
		n++
		break
	}
	require.Equal(t, 1, n)
}

func TestClient_PagesThroughEveryInvitation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	c, _ := e.tenant(t, "pro")
	want := map[uuid.UUID]bool{}
	var seq int64
	for i := range 5 {
		inv, _, err := c.InviteMember(ctx, api.InviteRequest{Email: fmt.Sprintf("p%d@client.example", i), Role: "editor"})
		require.NoError(t, err)
		want[inv.Invitation.ID] = true
		seq = inv.Seq
	}
	got := map[uuid.UUID]bool{}
	for inv, err := range c.Invitations(ctx, 2, client.WithMinSeq(seq)) {
		require.NoError(t, err)
		require.False(t, got[inv.ID], "invitation %s yielded twice", inv.ID)
		got[inv.ID] = true
	}
	require.Equal(t, want, got)
}

func TestClient_TurnsErrorAnswersIntoTypedErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	c, created := e.tenant(t, "pro")

	t.Run("BadRequestListsEveryField", func(t *testing.T) {
		_, res, err := e.operator.CreateTenant(ctx, api.CreateTenantRequest{Name: "", Slug: "Not A Slug", AdminEmail: "nope"}, client.WithRequestID("bad-create-1"))
		var ce *client.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, http.StatusBadRequest, ce.StatusCode)
		require.Equal(t, http.StatusBadRequest, ce.Problem.Status)
		require.Equal(t, "invalid-request", ce.Kind())
		require.Equal(t, api.ProblemBase+"invalid-request", ce.Problem.Type)
		require.NotEmpty(t, ce.Problem.Title)
		require.Equal(t, "bad-create-1", ce.Problem.RequestID)
		require.Equal(t, res, ce.Response)
		var fields []string
		for _, f := range ce.Problem.Errors {
			fields = append(fields, f.Field)
			require.NotEmpty(t, f.Message)
		}
		require.Subset(t, fields, []string{"name", "slug", "admin_email"})
		require.Contains(t, err.Error(), "slug")
	})
	t.Run("NotFound", func(t *testing.T) {
		_, _, err := c.RemoveMember(ctx, uuid.New())
		require.True(t, client.IsNotFound(err), "%v", err)
		var ce *client.Error
		require.True(t, errors.As(err, &ce))
		require.Equal(t, "not-found", ce.Kind())
		require.NotEmpty(t, ce.Problem.Detail)
	})
	t.Run("Forbidden", func(t *testing.T) {
		k, _, err := c.CreateAPIKey(ctx, api.CreateAPIKeyRequest{Name: "viewer", Role: "viewer"})
		require.NoError(t, err)
		viewer := c.With(client.WithToken(k.APIKey.Key))
		_, _, err = viewer.InviteMember(ctx, api.InviteRequest{Email: "x@client.example", Role: "viewer"})
		require.True(t, client.IsForbidden(err), "%v", err)
		require.Equal(t, http.StatusForbidden, client.StatusOf(err))
	})
	t.Run("ReusedIdempotencyKey", func(t *testing.T) {
		rec := func(q int64) api.UsageBatch {
			return api.UsageBatch{Records: []api.UsageRecord{{Metric: "api_calls", Quantity: json.Number(strconv.FormatInt(q, 10)), IdempotencyKey: uuid.NewString()}}}
		}
		_, _, err := c.RecordUsage(ctx, rec(1), client.WithIdempotencyKey("reused"))
		require.NoError(t, err)
		_, _, err = c.RecordUsage(ctx, rec(2), client.WithIdempotencyKey("reused"))
		var ce *client.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, http.StatusUnprocessableEntity, ce.StatusCode)
		require.Equal(t, "idempotency-key-reused", ce.Kind())
	})
	t.Run("AnotherTenantsKeyNeverReachesThisOne", func(t *testing.T) {
		other, _ := e.tenant(t, "free")
		_, _, err := other.With(client.WithTenant(created.Tenant.Slug)).GetTenant(ctx)
		require.True(t, client.IsNotFound(err), "%v", err)
	})
}

func TestClient_GivesRetryAfterWhenRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "free.rps=1,free.burst=2")
	ctx := context.Background()
	c, _ := e.tenant(t, "free")
	var err error
	for i := 0; i < 20 && err == nil; i++ {
		_, _, err = c.GetTenant(ctx)
	}
	require.True(t, client.IsRateLimited(err), "%v", err)
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "rate-limited", ce.Kind())
	require.GreaterOrEqual(t, ce.RetryAfter, time.Second)
	require.LessOrEqual(t, ce.RetryAfter, time.Minute)
	require.NotNil(t, ce.Response.RateLimit)
	require.Zero(t, ce.Response.RateLimit.Remaining)
}

func TestClient_ExportsAndVerifiesTheAuditTrail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	c, _ := e.tenant(t, "pro")
	_, _, err := c.RecordUsage(ctx, api.UsageBatch{Records: []api.UsageRecord{{Metric: "api_calls", Quantity: "1", IdempotencyKey: "a"}}})
	require.NoError(t, err)

	exp, res, err := c.ExportAuditEvents(ctx, client.ExportQuery{})
	require.NoError(t, err)
	defer exp.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var events []api.AuditEvent
	var head *api.AuditHead
	for line, err := range exp.Lines() {
		require.NoError(t, err)
		require.Nil(t, head, "the head line is the last")
		if line.Head != nil {
			head = line.Head
			continue
		}
		require.NotNil(t, line.Event)
		require.Equal(t, int64(len(events)+1), line.Event.Seq)
		events = append(events, *line.Event)
	}
	require.NotNil(t, head, "the page that reaches the head ends with it")
	require.Equal(t, int64(len(events)), head.Seq)
	require.Equal(t, events[len(events)-1].Hash, head.Hash)
	require.False(t, exp.HasMore)

	// Two events a page, following the cursor: the same events, once each.
	var paged []api.AuditEvent
	q := client.ExportQuery{Limit: 2}
	for pages := 1; ; pages++ {
		require.Less(t, pages, 100)
		p, _, err := c.ExportAuditEvents(ctx, q)
		require.NoError(t, err)
		for line, err := range p.Lines() {
			require.NoError(t, err)
			if line.Event != nil {
				paged = append(paged, *line.Event)
			}
		}
		require.NoError(t, p.Close())
		if !p.HasMore {
			break
		}
		require.NotEmpty(t, p.NextCursor)
		q.Cursor = p.NextCursor
	}
	require.Equal(t, events, paged)

	rep, _, err := c.VerifyAuditChain(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)
	require.Equal(t, head.Seq, rep.HeadSeq)

	state, _, err := c.GetAuditState(ctx, time.Time{})
	require.NoError(t, err)
	require.NotNil(t, state.Tenant)
	require.Equal(t, "1", state.UsageTotals["api_calls"].String())
}

func TestClient_RunsTheOperatorsRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := context.Background()
	c, created := e.tenant(t, "pro")
	id := created.Tenant.ID.String()

	found := false
	for te, err := range e.operator.Tenants(ctx, 2) {
		require.NoError(t, err)
		found = found || te.ID == created.Tenant.ID
	}
	require.True(t, found, "the directory lists the new tenant")

	s, _, err := e.operator.SuspendTenant(ctx, id, api.SuspendRequest{Note: "client test"})
	require.NoError(t, err)
	require.Equal(t, "suspended", s.Tenant.Status)
	_, _, err = c.UpdateTenant(ctx, api.UpdateTenantRequest{Name: ptr("Nope")})
	var ce *client.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, http.StatusForbidden, ce.StatusCode)
	require.Equal(t, "tenant-suspended", ce.Kind())
	r, _, err := e.operator.ReactivateTenant(ctx, id)
	require.NoError(t, err)
	p, _, err := c.GetTenant(ctx, client.WithMinSeq(r.Seq))
	require.NoError(t, err)
	require.Equal(t, "active", p.Status)
	cl, _, err := e.operator.CloseTenant(ctx, id, api.CloseRequest{Note: "done"})
	require.NoError(t, err)
	require.Equal(t, "closed", cl.Tenant.Status)

	st, _, err := e.operator.GetHealth(ctx)
	require.NoError(t, err)
	require.Equal(t, "ok", st.Status)
	st, _, err = e.operator.GetReadiness(ctx)
	require.NoError(t, err)
	require.Equal(t, "ready", st.Status)
	doc, _, err := e.operator.GetOpenAPIDocument(ctx)
	require.NoError(t, err)
	require.True(t, json.Valid(doc))
}

func ptr[T any](v T) *T { return &v }

// Every operation of the document has a client method named after its operationId, so a
// route added without one fails here.
func TestClient_HasAMethodForEveryOperation(t *testing.T) {
	raw, err := httpapi.DocumentJSON()
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	methods := map[string]bool{}
	ct := reflect.TypeFor[*client.Client]()
	for i := range ct.NumMethod() {
		methods[strings.ToLower(ct.Method(i).Name)] = true
	}
	var ops, missing []string
	for path, item := range doc.Paths {
		for verb, op := range item {
			if op.OperationID == "" {
				continue // parameters and other path-item fields
			}
			ops = append(ops, op.OperationID)
			if !methods[strings.ToLower(op.OperationID)] {
				missing = append(missing, fmt.Sprintf("%s (%s %s)", op.OperationID, strings.ToUpper(verb), path))
			}
		}
	}
	require.GreaterOrEqual(t, len(ops), 29, "the document's operations were read")
	require.Empty(t, missing, "operations without a client method (http/client/operations.go)")
}
