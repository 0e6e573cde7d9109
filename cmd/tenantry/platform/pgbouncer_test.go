package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/http/api"
	"github.com/tenantry/tenantry/http/client"
	"github.com/tenantry/tenantry/http/oastest"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// The production layout the README documents: API replicas reach PostgreSQL through
// PgBouncer in transaction mode (Debian's 1.18 here: no max_prepared_statements, so pgx
// must not rely on server-side prepared statements), projectors connect directly. A real
// `tenantry api` process runs every API flow through a real PgBouncer, once per pgx query
// mode that works there; `make test` starts PgBouncer (.ci/services pgbouncer) and sets
// PGBOUNCER_URL.
func TestAPIProcess_ServesEveryFlowThroughPgBouncerInTransactionMode(t *testing.T) {
	bouncer := os.Getenv("PGBOUNCER_URL")
	if bouncer == "" {
		if os.Getenv("WITH_ENV_SERVICES") == "1" {
			t.Fatal("PGBOUNCER_URL is not set under `make test`: .ci/with-env starts PgBouncer (.ci/services pgbouncer) when WITH_ENV_PGBOUNCER=1, as make test sets it")
		}
		t.Skip("PGBOUNCER_URL is not set: run `make test` (it starts PgBouncer in transaction mode), or set it to a PgBouncer in transaction mode")
	}
	natsURL := os.Getenv("NATS_URL")
	require.NotEmpty(t, natsURL, "run with `make test` (NATS)")
	db := pgtest.New(t)
	dir := t.TempDir()
	bin := buildTenantry(t, dir)
	cluster := natsCluster(t, natsURL, "pgb")
	const operator = "pgbouncer-operator-token"
	env := append(os.Environ(), "DATABASE_URL="+db.SuperURL, "TENANTRY_APP_DATABASE_URL=", "TENANTRY_BUS=nats",
		"NATS_URL="+natsURL, "TENANTRY_CLUSTER="+cluster, "TENANTRY_OPERATOR_TOKEN="+operator, "LOG_FORMAT=json",
		"REDIS_URL=", "STRIPE_API_KEY=", "TENANTRY_PLAN_LIMITS=pro.rps=100000,pro.burst=100000,enterprise.rps=100000,enterprise.burst=100000")
	// The projector (relay, projector, directory) holds session state on purpose: it
	// connects directly.
	startProcess(t, bin, dir, "projector", env, "projector")

	for i, mode := range []string{"exec", "simple_protocol", "cache_describe"} {
		t.Run(mode, func(t *testing.T) {
			appURL := throughBouncer(t, db.AppURL, bouncer, mode)
			addr := freeAddr(t)
			startProcess(t, bin, dir, "api-"+mode, append(append([]string{}, env...),
				"TENANTRY_APP_DATABASE_URL="+appURL, "TENANTRY_ADDR="+addr, "TENANTRY_DB_MAX_CONNS=8"), "api")
			ac := &apiClient{t: t, base: "http://" + addr}
			waitReady(t, ac.base, dir)
			apiFlows(t, ac, operator, fmt.Sprintf("pgb-%d-%s", i, strings.TrimPrefix(cluster, "pgb-")))
		})
	}
}

// throughBouncer is the runtime role's URL with PgBouncer's host and port and pgx's
// default_query_exec_mode set, as the README's recipe says.
func throughBouncer(t *testing.T, appURL, bouncer, mode string) string {
	u, err := url.Parse(appURL)
	require.NoError(t, err)
	b, err := url.Parse(bouncer)
	require.NoError(t, err)
	u.Host = b.Host
	q := u.Query()
	q.Set("default_query_exec_mode", mode)
	u.RawQuery = q.Encode()
	return u.String()
}

// startProcess runs the real binary until the test ends (SIGTERM, then SIGKILL), logging
// to dir/name.log.
func startProcess(t *testing.T, bin, dir, name string, env []string, args ...string) {
	t.Helper()
	logf, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			t.Logf("%s log (last 4 KiB):\n%s", name, tail(b, 4096))
		}
	})
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// apiClient calls a running API; every answer must be below 500.
type apiClient struct {
	t    *testing.T
	base string
}

type apiAnswer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r apiAnswer) str(path ...string) string {
	var v any = r.body
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	s, _ := v.(string)
	return s
}

func (a *apiClient) do(method, path, token string, body any, header ...string) apiAnswer {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(a.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	require.NoError(a.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(a.t, err)
	require.Less(a.t, res.StatusCode, 500, "%s %s: %s", method, path, raw)
	r := apiAnswer{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// apiFlows is the API's acceptance run: a tenant, its members and keys, usage, reads that
// wait for their writes (min_seq), the audit trail and the operator's routes. It drives the
// API through the Go client (http/client), every answer checked against the OpenAPI
// document (oastest.Transport); a 5xx anywhere fails it.
func apiFlows(t *testing.T, a *apiClient, operatorToken, slug string) {
	ctx := context.Background()
	hc := &http.Client{Transport: oastest.Transport(t, nil)}
	operator, err := client.New(a.base, client.WithToken(operatorToken), client.WithHTTPClient(hc))
	require.NoError(t, err)
	created, res, err := operator.CreateTenant(ctx, api.CreateTenantRequest{Name: "Bouncer", Slug: slug, Plan: "pro", AdminEmail: "admin@" + slug + ".example"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	id, key := created.Tenant.ID.String(), created.APIKey.Key
	require.NotEmpty(t, key)
	admin := operator.With(client.WithToken(key))

	p, _, err := admin.GetTenant(ctx)
	require.NoError(t, err)
	require.Equal(t, slug, p.Slug)
	// The workspace form, which the client does not use (it names the tenant by X-Tenant).
	for _, path := range []string{"/v1/workspaces/" + slug + "/tenant", "/v1/workspaces/" + id + "/tenant"} {
		r := a.do("GET", path, key, nil)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.raw)
		require.Equal(t, id, r.str("id"))
	}
	_, _, err = admin.With(client.WithTenant(slug)).GetTenant(ctx)
	require.NoError(t, err)

	// Members: invite, accept, read your write.
	inv, _, err := admin.InviteMember(ctx, api.InviteRequest{Email: "ed@" + slug + ".example", Role: "editor"})
	require.NoError(t, err)
	acc, res, err := operator.With(client.WithToken("")).AcceptInvitation(ctx, api.AcceptInvitationRequest{Token: inv.Token})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	editor := operator.With(client.WithToken(acc.APIKey.Key))
	members, _, err := editor.ListMembers(ctx, client.PageParams{}, client.WithMinSeq(acc.Seq))
	require.NoError(t, err)
	require.Len(t, members.Members, 2, "%+v", members)
	_, _, err = editor.InviteMember(ctx, api.InviteRequest{Email: "x@" + slug + ".example", Role: "viewer"})
	require.Equal(t, http.StatusForbidden, client.StatusOf(err), "%v", err)

	// API keys: create, list, revoke; a revoked key stops working.
	k, _, err := admin.CreateAPIKey(ctx, api.CreateAPIKeyRequest{Name: "ci", Role: "viewer"})
	require.NoError(t, err)
	viewer := operator.With(client.WithToken(k.APIKey.Key))
	keys, _, err := admin.ListAPIKeys(ctx, client.PageParams{}, client.WithMinSeq(k.Seq))
	require.NoError(t, err)
	require.True(t, slices.ContainsFunc(keys.APIKeys, func(x api.APIKey) bool { return x.ID == k.APIKey.ID }), "%+v", keys)
	_, _, err = viewer.GetTenant(ctx)
	require.NoError(t, err)
	_, res, err = admin.RevokeAPIKey(ctx, k.APIKey.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	pgtest.Until(t, 30*time.Second, 100*time.Millisecond, func() bool {
		_, _, err := viewer.GetTenant(ctx)
		require.Less(t, client.StatusOf(err), 500, "%v", err)
		return client.StatusOf(err) == http.StatusUnauthorized
	}, "a revoked key stops working")

	// Usage: one record (with an Idempotency-Key, replayed), a batch with a duplicate.
	rec := func(k string, q int64) api.UsageRecord {
		return api.UsageRecord{Metric: "api_calls", Quantity: json.Number(strconv.FormatInt(q, 10)), IdempotencyKey: k}
	}
	one := api.UsageBatch{Records: []api.UsageRecord{rec("one", 5)}}
	u, res, err := editor.RecordUsage(ctx, one, client.WithIdempotencyKey("req-1"))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	require.Equal(t, 1, u.Accepted)
	_, res, err = editor.RecordUsage(ctx, one, client.WithIdempotencyKey("req-1"))
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	require.True(t, res.IdempotentReplayed)
	u, _, err = admin.RecordUsage(ctx, api.UsageBatch{Records: []api.UsageRecord{rec("one", 5), rec("two", 7), rec("three", 11)}})
	require.NoError(t, err)
	require.Equal(t, []int{2, 1}, []int{u.Accepted, u.Duplicates})
	usage, _, err := admin.GetUsage(ctx, client.UsageQuery{Granularity: "day"}, client.WithMinSeq(u.Seq))
	require.NoError(t, err)
	require.Len(t, usage.Series, 1, "%+v", usage)
	require.Equal(t, "23", usage.Series[0].Total.String())

	// The tenant: rename, change plan, billing.
	renamed, _, err := admin.UpdateTenant(ctx, api.UpdateTenantRequest{Name: ptrTo("Renamed")})
	require.NoError(t, err)
	p, _, err = admin.GetTenant(ctx, client.WithMinSeq(renamed.Seq))
	require.NoError(t, err)
	require.Equal(t, "Renamed", p.Name)
	onPro := time.Now().UTC() // after the rename, before the plan change
	_, _, err = admin.ChangePlan(ctx, api.ChangePlanRequest{Plan: "enterprise"})
	require.NoError(t, err)
	onEnterprise := time.Now().UTC()
	_, _, err = admin.GetBilling(ctx, time.Time{})
	require.NoError(t, err)

	// The audit trail: the export ends with the head, the chain verifies, time travel works.
	exp, _, err := admin.ExportAuditEvents(ctx, client.ExportQuery{})
	require.NoError(t, err)
	var lines []client.AuditLine
	for l, err := range exp.Lines() {
		require.NoError(t, err)
		lines = append(lines, l)
	}
	require.NoError(t, exp.Close())
	require.Greater(t, len(lines), 5)
	require.NotNil(t, lines[len(lines)-1].Head, "the last page ends with the head")
	rep, _, err := admin.VerifyAuditChain(ctx)
	require.NoError(t, err)
	require.True(t, rep.OK, "%+v", rep)
	require.EqualValues(t, len(lines)-1, rep.HeadSeq)
	// Time travel: the state as of each side of the plan change shows the plan of then.
	for _, at := range []struct {
		asOf time.Time
		plan string
	}{{onPro, "pro"}, {onEnterprise, "enterprise"}} {
		st, _, err := admin.GetAuditState(ctx, at.asOf)
		require.NoError(t, err)
		require.NotNil(t, st.Tenant, "as of %s", at.asOf)
		require.Equal(t, at.plan, st.Tenant.Plan, "as of %s: %+v", at.asOf, st.Tenant)
		require.Equal(t, "Renamed", st.Tenant.Name, "as of %s: %+v", at.asOf, st.Tenant)
	}

	// The operator: list, suspend (writes refused), reactivate.
	_, _, err = operator.ListTenants(ctx, client.PageParams{})
	require.NoError(t, err)
	_, _, err = operator.SuspendTenant(ctx, id, api.SuspendRequest{Note: "pgbouncer test"})
	require.NoError(t, err)
	_, _, err = admin.UpdateTenant(ctx, api.UpdateTenantRequest{Name: ptrTo("Nope")})
	require.Equal(t, http.StatusForbidden, client.StatusOf(err), "%v", err)
	re, _, err := operator.ReactivateTenant(ctx, id)
	require.NoError(t, err)
	p, _, err = admin.GetTenant(ctx, client.WithMinSeq(re.Seq))
	require.NoError(t, err)
	require.Equal(t, "active", p.Status)
}

func ptrTo[T any](v T) *T { return &v }
