package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/plans"
	"github.com/tenantry/tenantry/http/api"
)

// The operator's plan catalog: read it, apply a document (or compare one), move tenants
// between versions of a plan.

func (s *Server) adminListPlans(c *gin.Context, _ *call) {
	cat, err := s.catalog.Fresh(c)
	if err != nil {
		s.failErr(c, err)
		return
	}
	out := api.PlanList{CatalogVersion: cat.StreamVersion(), Plans: []api.PlanEntry{}, Metrics: []api.CatalogMetric{}}
	for _, key := range cat.Keys() {
		vs := cat.Versions(key)
		cur := vs[len(vs)-1]
		out.Plans = append(out.Plans, api.PlanEntry{Key: key.String(), Retired: cat.Retired(key), CurrentVersion: cur.Version, Current: planVersionAnswer(cur)})
	}
	for _, m := range cat.Metrics() {
		out.Metrics = append(out.Metrics, api.CatalogMetric{Metric: m.Metric.String(), Kind: m.Kind.String(), Aggregation: m.Aggregation.String(),
			Scale: m.Scale, Unit: m.Unit, Meter: m.Meter})
	}
	reply(c, http.StatusOK, out)
}

func (s *Server) adminGetPlan(c *gin.Context, _ *call) {
	key, err := domain.ParsePlanName(c.Param("key"))
	if err != nil {
		fail(c, http.StatusNotFound, "not-found", "plan not found")
		return
	}
	cat, err := s.catalog.Fresh(c)
	if err != nil {
		s.failErr(c, err)
		return
	}
	vs := cat.Versions(key)
	if len(vs) == 0 {
		fail(c, http.StatusNotFound, "not-found", "plan not found")
		return
	}
	reply(c, http.StatusOK, api.PlanHistory{Key: key.String(), Retired: cat.Retired(key), Versions: mapAll(vs, planVersionAnswer)})
}

func (s *Server) adminApplyCatalog(c *gin.Context, cl *call) {
	dryRun, ok := boolQuery(c, "dry_run")
	if !ok {
		return
	}
	expected := domain.Any
	if v := c.Query("catalog_version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			fail(c, http.StatusBadRequest, "invalid-request", "catalog_version must be a whole number from 0", FieldError{Field: "catalog_version", Message: "is not a version"})
			return
		}
		expected = domain.Exact(n)
	}
	defs, err := plans.ParseDocument(cl.body)
	if err != nil {
		s.failErr(c, err)
		return
	}
	cl.yield()
	out, err := s.catalog.Apply(c, app.ApplyCatalogInput{Definitions: defs, DryRun: dryRun, Expected: expected, Meta: metadata(c, cl)})
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, catalogAppliedAnswer(out))
}

func (s *Server) adminMigrateTenants(c *gin.Context, cl *call) {
	key, err := domain.ParsePlanName(c.Param("key"))
	if err != nil {
		fail(c, http.StatusNotFound, "not-found", "plan not found")
		return
	}
	var req api.MigrateTenantsRequest
	if !decode(c, cl.body, &req) {
		return
	}
	if req.ToVersion < 1 || req.FromVersion < 0 {
		fail(c, http.StatusBadRequest, "invalid-request", "to_version must be 1 or more, from_version 0 or more", FieldError{Field: "to_version", Message: "is not a version"})
		return
	}
	cl.yield()
	out, err := s.uc.migrate.Run(c, app.MigrateInput{Plan: key, FromVersion: req.FromVersion, ToVersion: req.ToVersion, Meta: metadata(c, cl)})
	if err != nil {
		s.failErr(c, err)
		return
	}
	for i, id := range out.Moved {
		// Their limits changed with their version: authenticate them afresh once the read
		// models show it (bounded, as every write's answer is).
		_ = s.settle(c, cl, id, out.Seqs[i])
		s.creds.forget(id)
	}
	reply(c, http.StatusOK, api.TenantsMigrated{Plan: out.Plan, ToVersion: out.ToVersion, Moved: out.Moved, Skipped: out.Skipped})
}

// boolQuery reads an optional true/false query parameter; a malformed one answers 400.
func boolQuery(c *gin.Context, name string) (v, ok bool) {
	switch c.Query(name) {
	case "", "false":
		return false, true
	case "true":
		return true, true
	}
	fail(c, http.StatusBadRequest, "invalid-request", name+" must be true or false", FieldError{Field: name, Message: "is not true or false"})
	return false, false
}

func planVersionAnswer(p plans.Plan) api.PlanVersion {
	out := api.PlanVersion{Version: p.Version, Name: p.Name, TrialDays: p.TrialDays, Intervals: map[string]api.PlanPrice{},
		Limits:   api.PlanLimits{Seats: p.Limits.Seats, RequestsPerSecond: p.Limits.RequestsPerSecond, Burst: p.Limits.Burst},
		Features: map[string]bool{}, Metrics: map[string]api.PlanQuota{}}
	for i, pr := range p.Intervals {
		out.Intervals[i.String()] = api.PlanPrice{StripePrice: pr.StripePrice, Amount: pr.Amount, Currency: pr.Currency}
	}
	for f, on := range p.Features {
		out.Features[f] = on
	}
	for m, q := range p.Metrics {
		out.Metrics[m.String()] = api.PlanQuota{Included: api.QuotaText(q.Included.String()), Beyond: q.Beyond.String()}
	}
	return out
}

func catalogAppliedAnswer(a app.CatalogApplied) api.CatalogApplied {
	changes := func(cs []plans.Change) []api.CatalogChange {
		return mapAll(cs, func(c plans.Change) api.CatalogChange { return api.CatalogChange(c) })
	}
	return api.CatalogApplied{Plans: changes(a.Diff.Plans), Metrics: changes(a.Diff.Metrics), CatalogVersion: a.CatalogVersion, DryRun: a.DryRun}
}

var (
	planKeyPath = map[string]param{"key": {name: "key", desc: "the plan's key", schema: schema{"type": "string", "pattern": "^[a-z][a-z0-9_]{0,62}$"}, required: true}}

	docAdminListPlans = op{id: "listPlans", tag: "Admin", summary: "List the plan catalog", result: api.PlanList{},
		desc: "Every plan ever defined with its current version (retired plans too: tenants may still be on them) and the declared metrics. " +
			"Before any catalog is applied this is the default catalog: free, pro and enterprise at version 1."}
	docAdminGetPlan = op{id: "getPlan", tag: "Admin", summary: "Read every version of a plan", result: api.PlanHistory{}, errors: []int{404},
		paths: planKeyPath, desc: "Every version of one plan, oldest first. A version never changes once defined: tenants stay on the version they joined."}
	docAdminApplyCatalog = op{id: "applyCatalog", tag: "Admin", summary: "Apply a plan catalog document", body: api.CatalogDocument{}, result: api.CatalogApplied{},
		errors: []int{409},
		query: []param{
			{name: "dry_run", desc: "true: answer the difference the document makes and write nothing", schema: schema{"type": "boolean"}},
			{name: "catalog_version", desc: "apply only if the catalog is still at this version (a dry run's catalog_version): 409 otherwise", schema: integerS(0, 0)},
		},
		desc: "Makes the catalog equal to the document, all or nothing: a plan whose definition differs from its current version gets a new version, " +
			"an unchanged one nothing (applying the same document twice writes nothing the second time), a plan or metric the document leaves out is retired. " +
			"Existing tenants stay on their versions (move them with migrate-tenants). Two applies decided on the same catalog version cannot both win: the other answers 409. " +
			"A bad document answers 400 naming the field (plans.pro.metrics.api_calls.included)."}
	docAdminMigrateTenants = op{id: "migrateTenants", tag: "Admin", summary: "Move a plan's tenants to another version", body: api.MigrateTenantsRequest{},
		result: api.TenantsMigrated{}, errors: []int{404}, paths: planKeyPath,
		desc: "Appends one tenant.plan_changed per tenant of the plan (those on from_version, when given) that is not on to_version yet, keeping its billing interval. " +
			"Idempotent: a repeated call moves no one twice. Tenants are found through the tenant directory, so one signed up a moment ago may need a second call."}
)
