package platform

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/module"
	"github.com/tenantry/tenantry/http/product"
)

// taskCreated is a product's event (module "tasks").
type taskCreated struct {
	Title string `json:"title"`
}

func (taskCreated) EventType() string  { return "tasks.task.created" }
func (taskCreated) SchemaVersion() int { return 2 }

// tenantCreatedToo is a product's event whose type is Tenantry's own tenant.created.
type tenantCreatedToo struct{}

func (tenantCreatedToo) EventType() string  { return "tenant.created" }
func (tenantCreatedToo) SchemaVersion() int { return 1 }

// tasks is a valid product: one event type at v2, with its upcaster from v1.
func tasks() product.Product {
	return product.Product{Module: module.Module{Name: "tasks",
		Events:    []module.EventType{module.Event[taskCreated]()},
		Upcasters: []module.Upcaster{{Type: "tasks.task.created", FromVersion: 1, Fn: func(b []byte) ([]byte, error) { return b, nil }}},
	}}
}

// runWith runs the command line of a binary built with products, in an environment that
// has no database: a command refused before it needs one says why.
func runWith(t *testing.T, products []product.Product, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := NewCommand(func(k string) string { return map[string]string{"LOG_FORMAT": "json"}[k] }, &out, &out, products...)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// A binary built with products that are not valid refuses every command, the ones that
// need no configuration included, before it reads anything, with exit status 1 (the
// binary is wrong, not its command line) and an error that names the product.
func TestProducts_AnInvalidProductStopsEveryCommandWithExit1(t *testing.T) {
	noUpcaster := tasks()
	noUpcaster.Module.Upcasters = nil
	bad := map[string]struct {
		products []product.Product
		says     string
	}{
		"a bad module name":         {[]product.Product{{Module: module.Module{Name: "Tasks"}}}, `module "Tasks": name must be`},
		"Tenantry's own name":       {[]product.Product{{Module: module.Module{Name: module.Core}}}, `module "tenantry": the name of Tenantry's own areas`},
		"two products of one name":  {[]product.Product{tasks(), tasks()}, "module tasks: declared twice"},
		"a namespace Tenantry has":  {[]product.Product{{Module: module.Module{Name: "tenant", Events: []module.EventType{module.Event[tenantCreatedToo]()}}}}, `module "tenant": the name is reserved for Tenantry's own event types`},
		"a hole in an upcast chain": {[]product.Product{noUpcaster}, `"tasks.task.created" is at v2 but has no upcaster from v1`},
	}
	commands := [][]string{{"version"}, {"openapi"}, {"audit", "keygen"}, {"migrate"}, {"tenants", "list"},
		{"audit", "verify", "--file", "missing.ndjson"}}
	for name, c := range bad {
		for _, args := range commands {
			out, err := runWith(t, c.products, args...)
			require.Error(t, err, "%s: %v", name, args)
			require.ErrorContains(t, err, "products: ", "%s: %v", name, args)
			require.ErrorContains(t, err, c.says, "%s: %v", name, args)
			require.Equal(t, 1, exitCode(err), "%s: %v", name, args)
			require.Empty(t, out, "%s: %v: nothing ran", name, args)
		}
	}

	out, err := runWith(t, []product.Product{tasks()}, "version")
	require.NoError(t, err, "a valid product runs: %s", out)
	require.Contains(t, out, "go")
}

// The registry every process and command decodes events with holds each product's event
// types and upcasters beside Tenantry's own.
func TestProducts_EventTypesJoinTheRegistryBesideTenantrys(t *testing.T) {
	a := &app{products: []product.Product{tasks()}}
	reg, err := a.domainRegistry()
	require.NoError(t, err)
	require.Equal(t, 2, reg.Current("tasks.task.created"))
	require.Equal(t, 2, reg.Current("tenant.created"), "Tenantry's own events are still there")
	p, err := reg.Decode("tasks.task.created", 1, []byte(`{"title":"Write the report"}`))
	require.NoError(t, err, "v1 is upcast to v2")
	require.Equal(t, &taskCreated{Title: "Write the report"}, p)

	reg, err = (&app{}).domainRegistry()
	require.NoError(t, err)
	require.Zero(t, reg.Current("tasks.task.created"), "without products, only Tenantry's events")
}
