package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/oastest"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/projections"
)

var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }

const operatorToken = "op-token-for-tests-0123456789"

// api is a real server on a random port, with the projection pipeline running as in serve.
type api struct {
	t        testing.TB
	url      string
	deps     httpapi.Deps
	srv      *httptest.Server
	server   *httpapi.Server
	notifier *eventstore.Notifier // wakes the relay after the process's appends
}

type apiOption func(*httpapi.Deps)

func newAPI(t testing.TB, opts ...apiOption) *api {
	t.Helper()
	return newAPIOn(t, testDB, opts...)
}

// newAPIOn is newAPI on a database of its own (pgtest.New), for tests whose writes reach
// every tenant, such as the plan catalog's.
func newAPIOn(t testing.TB, db *pgtest.DB, opts ...apiOption) *api {
	t.Helper()
	return startAPI(t, db, true, opts...)
}

// newBenchAPI is newAPIOn without the OpenAPI checks of every answer, for benchmarks: the
// checker's parsed document (some 35 MB of live heap) would make the collector of the
// process measured work as a server's never does (tenantry serve does not hold it), and its
// checks would compete with the server for the CPU.
func newBenchAPI(t testing.TB, db *pgtest.DB, opts ...apiOption) *api {
	t.Helper()
	return startAPI(t, db, false, opts...)
}

func startAPI(t testing.TB, db *pgtest.DB, checkAnswers bool, opts ...apiOption) *api {
	t.Helper()
	// As serve does: the API on tenantry_app, the pipeline on tenantry_worker.
	pool := pgtest.Pool(t, db.AppURL, 16)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	// Errors reach the package's output (shown when it fails): an unexpected 500 names its cause.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	workerPool := pgtest.Pool(t, db.WorkerURL, 8)
	notifier := eventstore.NewNotifier(workerPool, 0, log)
	withPipeline := eventstore.StoreConfig{Notifier: notifier, GroupCommitters: 4}
	store, err := eventstore.NewStore(pool, withPipeline)
	require.NoError(t, err)
	workerStore, err := eventstore.NewStore(workerPool, withPipeline)
	require.NoError(t, err)
	pipeline, err := projections.NewPipeline(projections.PipelineConfig{Store: workerStore, Registry: reg, Logger: log,
		Notifier: notifier, Appenders: []*eventstore.Store{store}})
	require.NoError(t, err)
	pipeline.Projector.PollInterval = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = pipeline.Run(ctx) }()
	plans, err := domain.ParsePlanOverrides(domain.DefaultPlans(), "free.rps=1000,free.burst=1000,pro.rps=1000,pro.burst=1000")
	require.NoError(t, err)
	d := httpapi.Deps{Logger: log, Store: store, Registry: reg, OperatorToken: operatorToken,
		BaseDomain: "tenantry.test", StripeWebhookSecret: "whsec_test_secret", Plans: plans,
		// The relay's horizon is server-wide: other test packages' CREATE DATABASE can hold it
		// for seconds, and the directory (routing by slug) follows the relay.
		SettleTimeout: time.Minute}
	for _, o := range opts {
		o(&d)
	}
	for _, p := range d.Products { // as the binary does: a product's event types are the registry's
		require.NoError(t, module.Register(reg, p.Module))
	}
	h, server := httpapi.NewServer(d)
	// Every answer of the server is checked against the OpenAPI document (oastest).
	checked := oastest.Handler
	if !checkAnswers {
		checked = func(_ testing.TB, h http.Handler) http.Handler { return h }
	} else if len(d.Products) > 0 {
		c, err := oastest.ForProducts(d.Products)
		require.NoError(t, err)
		checked = c.Handler
	}
	srv := httptest.NewUnstartedServer(checked(t, h))
	d.Timeouts.Apply(srv.Config) // as NewHTTPServer does
	srv.Start()
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return &api{t: t, url: srv.URL, deps: d, srv: srv, server: server, notifier: notifier}
}

// response is an answer with its decoded JSON body.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) str(path ...string) string {
	v := r.get(path...)
	s, _ := v.(string)
	return s
}

func (r response) get(path ...string) any {
	var v any = r.body
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// problemType is the last segment of a problem response's type.
func (r response) problemType() string {
	t := r.str("type")
	return t[strings.LastIndex(t, "/")+1:]
}

type req struct {
	method, path string
	token        string
	body         any // string bodies are sent as they are
	header       map[string]string
	host         string
}

// do sends r and reads the whole answer. A request that cannot be sent or read is reported
// with Errorf and answered with status 0, never with require: tests call do from goroutines
// of their own too, where FailNow must not be called.
func (a *api) do(r req) response {
	a.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Errorf("%s %s: encode the body: %v", r.method, r.path, err)
			return response{}
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(r.method, a.url+r.path, body)
	if err != nil {
		a.t.Errorf("%s %s: %v", r.method, r.path, err)
		return response{}
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	res, err := http.DefaultClient.Do(hr)
	if err != nil {
		a.t.Errorf("%s %s: %v", r.method, r.path, err)
		return response{}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Errorf("%s %s: read the answer: %v", r.method, r.path, err)
		return response{}
	}
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if strings.Contains(res.Header.Get("Content-Type"), "json") {
		_ = json.Unmarshal(raw, &out.body)
	}
	return out
}

// tenantFixture is a tenant created through the API, with its admin's key.
type tenantFixture struct {
	id, slug, key, adminID string
}

var slugCounter atomic.Int64

func (a *api) createTenant(plan string) tenantFixture {
	a.t.Helper()
	slug := "t" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "") + "-" + strconv.FormatInt(slugCounter.Add(1), 10)
	r := a.do(req{method: "POST", path: "/v1/tenants", token: operatorToken,
		body: map[string]any{"name": "Tenant " + slug, "slug": slug, "plan": plan, "admin_email": "admin@" + slug + ".example.com"}})
	require.Equal(a.t, http.StatusCreated, r.status, string(r.raw))
	return tenantFixture{id: r.str("tenant", "id"), slug: slug, key: r.str("api_key", "key"), adminID: r.str("admin", "id")}
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) }

func mustPlans(t testing.TB, spec string) domain.Plans {
	p, err := domain.ParsePlanOverrides(domain.DefaultPlans(), spec)
	require.NoError(t, err)
	return p
}
