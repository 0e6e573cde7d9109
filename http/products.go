package httpapi

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/http/product"
)

// A product's routes become rows of the same route table as Tenantry's own (routes), so
// the router, the pipeline (auth, tenant resolution, limits, fairness, body, idempotency),
// the permission table and the OpenAPI document treat them alike. productRoute is the
// conversion; productRequest (product_request.go) is what their handlers see.

var (
	productPathRE = regexp.MustCompile(`^/v1(/(:[a-z][a-z0-9_]{0,30}|[a-z0-9][a-z0-9_.-]{0,62}))+$`)
	operationIDRE = regexp.MustCompile(`^[a-z][A-Za-z0-9]{0,62}$`)
	queryNameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	problemCodeRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
)

// productRoute is rt of p as a row of the route table.
func (s *Server) productRoute(p product.Product, rt product.Route) route {
	tag := rt.Tag
	if tag == "" {
		tag = p.Module.Name
	}
	errs := slices.Clone(rt.Errors)
	if writeVerb[rt.Method] {
		errs = append(errs, http.StatusConflict) // a lost race on the module's streams
	}
	d := op{id: rt.OperationID, tag: tag, summary: rt.Summary, desc: rt.Description, body: rt.Body, result: rt.Result,
		status: rt.Status, errors: errs, paths: map[string]param{}}
	for _, q := range rt.Query {
		d.query = append(d.query, paramOf(q))
	}
	for _, q := range rt.PathParams {
		d.paths[q.Name] = paramOf(q)
	}
	mod, handle := p.Module, rt.Handle
	return route{method: rt.Method, path: rt.Path, access: member, roles: rt.Roles, scoped: true, billing: rt.Billing, doc: d,
		product: mod.Name, handler: func(c *gin.Context, cl *call) {
			handle(c, &productRequest{s: s, c: c, cl: cl, m: mod})
			if !c.Writer.Written() {
				s.internal(c, fmt.Errorf("%s %s of module %s answered nothing", rt.Method, rt.Path, mod.Name))
			}
		}}
}

// productModules are the products' modules.
func productModules(ps []product.Product) []module.Module {
	out := make([]module.Module, len(ps))
	for i, p := range ps {
		out[i] = p.Module
	}
	return out
}

// paramOf documents a product's parameter as the route table's own are.
func paramOf(q product.Param) param {
	sc := schema{}
	switch q.Type {
	case "integer":
		sc["type"], sc["format"] = "integer", "int64"
		if q.Minimum != nil {
			sc["minimum"] = *q.Minimum
		}
		if q.Maximum != nil {
			sc["maximum"] = *q.Maximum
		}
	case "boolean":
		sc["type"] = "boolean"
	default:
		sc["type"] = "string"
		if q.Format != "" {
			sc["format"] = q.Format
		}
	}
	if len(q.Enum) > 0 {
		sc["enum"] = slices.Clone(q.Enum)
	}
	return param{name: q.Name, desc: q.Description, schema: sc}
}

// CheckProducts reports the first thing wrong with a set of products as Tenantry would
// serve them: their modules (module.Check; the name "tenantry" is Tenantry's own), and
// each route's method, path (under /v1/, outside /v1/workspaces and /v1/admin, colliding
// with no route of Tenantry or of another product, Gin wildcards included), roles,
// handler, operation id (unique in the whole document), query parameters, statuses and
// body types (their schemas must derive, and a schema name must not stand for two types).
func CheckProducts(ps []product.Product) error {
	mods := make([]module.Module, len(ps))
	for i, p := range ps {
		if p.Module.Name == module.Core {
			return fmt.Errorf("module %q: the name of Tenantry's own areas; choose another", module.Core)
		}
		mods[i] = p.Module
	}
	if err := module.Check(mods); err != nil {
		return err
	}
	for _, p := range ps {
		for _, rt := range p.Routes {
			if err := checkRoute(rt); err != nil {
				return fmt.Errorf("module %s: route %s %s: %w", p.Module.Name, rt.Method, rt.Path, err)
			}
		}
	}
	if len(ps) == 0 {
		return nil // Tenantry's own table is checked by its tests
	}
	s := &Server{d: Deps{Products: ps}}
	return checkTable(s.routes())
}

// checkRoute checks one product route on its own.
func checkRoute(rt product.Route) error {
	switch {
	case !slices.Contains(product.Methods, rt.Method):
		return fmt.Errorf("method must be one of %v", product.Methods)
	case !productPathRE.MatchString(rt.Path):
		return fmt.Errorf(`path must start with "/v1/" and hold only lowercase segments or ":param" segments`)
	case rt.Path == "/v1/workspaces" || strings.HasPrefix(rt.Path, "/v1/workspaces/") ||
		rt.Path == "/v1/admin" || strings.HasPrefix(rt.Path, "/v1/admin/"):
		return fmt.Errorf("path must not be under /v1/workspaces or /v1/admin (Tenantry's)")
	case len(rt.Roles) == 0:
		return fmt.Errorf("needs at least one role")
	case rt.Handle == nil:
		return fmt.Errorf("needs a Handle func")
	case !operationIDRE.MatchString(rt.OperationID):
		return fmt.Errorf("operation id %q must be camelCase (a lowercase letter, then letters and digits)", rt.OperationID)
	case rt.Status != 0 && (rt.Status < 200 || rt.Status > 299):
		return fmt.Errorf("status %d is not a success status", rt.Status)
	case rt.Status == http.StatusNoContent && rt.Result != nil:
		return fmt.Errorf("status 204 answers no body: Result must be nil")
	}
	for _, r := range rt.Roles {
		if _, err := domain.ParseRole(r.String()); err != nil {
			return fmt.Errorf("roles: %w", err)
		}
	}
	for _, code := range rt.Errors {
		if code < 400 || code > 499 {
			return fmt.Errorf("errors: %d is not a 4xx status", code)
		}
	}
	seen := map[string]bool{}
	for _, q := range rt.Query {
		if !queryNameRE.MatchString(q.Name) || seen[q.Name] {
			return fmt.Errorf("query parameter %q: invalid or listed twice (lowercase letters, digits, underscores)", q.Name)
		}
		seen[q.Name] = true
		if !slices.Contains([]string{"", "string", "integer", "boolean"}, q.Type) {
			return fmt.Errorf("query parameter %s: type %q is not string, integer or boolean", q.Name, q.Type)
		}
	}
	for _, q := range rt.PathParams {
		if !strings.Contains(rt.Path+"/", "/:"+q.Name+"/") {
			return fmt.Errorf("path parameter %q is not a segment of the path", q.Name)
		}
	}
	return nil
}

// checkTable checks the route table as a whole: operation ids unique, no two routes on the
// same method and path, the router accepts every route (Gin panics on a wildcard conflict,
// e.g. /v1/members/:key beside /v1/members/:id), and the OpenAPI document derives.
func checkTable(routes []route) (err error) {
	ids, paths := map[string]string{}, map[string]bool{}
	for _, rt := range routes {
		name := rt.method + " " + rt.path
		if o, ok := ids[rt.doc.id]; ok {
			return fmt.Errorf("route %s: operation id %q is already %s's", name, rt.doc.id, o)
		}
		ids[rt.doc.id] = name
		if paths[name] {
			return fmt.Errorf("route %s: collides with another route on the same method and path", name)
		}
		paths[name] = true
	}
	var current string
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("route %s: %v", current, v)
		}
	}()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	noop := func(*gin.Context) {}
	for _, rt := range routes {
		current = rt.method + " " + rt.path
		for _, p := range routePaths(rt) {
			for _, m := range routeMethods(rt) {
				r.Handle(m, p, noop)
			}
		}
	}
	current = "(the OpenAPI document)"
	c := &schemas{defs: schema{}}
	document(routes, c)
	if len(c.clashes) > 0 {
		return fmt.Errorf("OpenAPI schema names stand for two different types: %s (rename one)", strings.Join(c.clashes, ", "))
	}
	return nil
}

// routeMethods are the methods rt answers: GET routes also answer HEAD (Gin adds none).
func routeMethods(rt route) []string {
	if rt.method == http.MethodGet {
		return []string{http.MethodGet, http.MethodHead}
	}
	return []string{rt.method}
}

// routePaths are the paths rt answers at: a tenant-scoped route also under its workspace.
func routePaths(rt route) []string {
	if rt.scoped {
		return []string{rt.path, workspacePrefix + rt.path[len("/v1"):]}
	}
	return []string{rt.path}
}

// failCode answers a product's problem: its code names the problem type (the title of
// Tenantry's own kinds, or the status text for the product's own codes).
func failCode(c *gin.Context, status int, code, detail string, errs ...FieldError) {
	if status < 400 || status > 599 || !problemCodeRE.MatchString(code) {
		fail(c, http.StatusInternalServerError, "internal", "internal error; quote the request id when reporting it")
		return
	}
	title, ok := problemTitles[code]
	if !ok {
		title = http.StatusText(status)
	}
	writeProblem(c, Problem{Type: ProblemBase + code, Title: title, Status: status, Detail: detail, Errors: errs})
}
