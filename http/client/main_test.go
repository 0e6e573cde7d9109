package client_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/eventstore"
	httpapi "github.com/tenantry/tenantry/http"
	"github.com/tenantry/tenantry/http/api"
	"github.com/tenantry/tenantry/http/client"
	"github.com/tenantry/tenantry/http/oastest"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/projections"
)

var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }

const (
	operatorToken = "op-token-for-client-tests-0123456789"
	serviceToken  = "svc-token-for-client-tests-0123456789"
)

// newServer is a real API on a random port over the package's PostgreSQL database, with
// the projection pipeline running as in serve (as the http package's tests start it).
// plans overrides the plans' limits (ParsePlanOverrides' syntax).
func newServer(t *testing.T, plans string) string {
	t.Helper()
	pool := pgtest.Pool(t, testDB.AppURL, 8)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	log := slog.New(slog.DiscardHandler)
	workerPool := pgtest.Pool(t, testDB.WorkerURL, 4)
	notifier := eventstore.NewNotifier(workerPool, 0, log)
	withPipeline := eventstore.StoreConfig{Notifier: notifier, GroupCommitters: 2}
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
	limits, err := domain.ParsePlanOverrides(domain.DefaultPlans(), plans)
	require.NoError(t, err)
	d := httpapi.Deps{Logger: log, Store: store, Registry: reg, OperatorToken: operatorToken, IntrospectionToken: serviceToken,
		BaseDomain: "tenantry.test", Plans: limits, SettleTimeout: time.Minute}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = httpapi.NewHTTPServer(d) // the handler and timeouts serve uses
	srv.Start()
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return srv.URL
}

// validating is an http.Client whose transport checks every answer the client receives
// against the OpenAPI document (oastest.Transport): one that does not conform fails t.
func validating(t *testing.T) *http.Client {
	t.Helper()
	return &http.Client{Transport: oastest.Transport(t, nil)}
}

// env is a server and a client of it as the operator, every answer checked.
type env struct {
	url      string
	hc       *http.Client
	operator *client.Client
}

func newEnv(t *testing.T, plans string) env {
	t.Helper()
	url := newServer(t, plans)
	hc := validating(t)
	op, err := client.New(url, client.WithToken(operatorToken), client.WithHTTPClient(hc), client.WithUserAgent("tenantry-client-test"))
	require.NoError(t, err)
	return env{url: url, hc: hc, operator: op}
}

var slugCounter atomic.Int64

// tenant creates a tenant on plan and returns a client acting with its admin's key.
func (e env) tenant(t *testing.T, plan string) (*client.Client, api.TenantCreated) {
	t.Helper()
	slug := "c" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "") + "-" + string(rune('a'+slugCounter.Add(1)%26))
	created, res, err := e.operator.CreateTenant(context.Background(), api.CreateTenantRequest{Name: "Client " + slug, Slug: slug, Plan: plan, AdminEmail: "admin@" + slug + ".example.com"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode)
	return e.operator.With(client.WithToken(created.APIKey.Key), client.WithTenant(slug)), created
}
