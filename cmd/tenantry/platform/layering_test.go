package platform_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The layering (README, "How the code is laid out"), enforced: cmd/tenantry/platform wires
// (the binaries under cmd/ only call its Main); the ports (http, workers, CLI) call the use
// cases (domain/app); the use cases depend on domain and on interfaces they declare; the
// data-access layer (eventstore) is the only owner of pools, tenant context, lock classes and
// SQL. A rule broken by new code fails this test; `debt` lists what is still being moved
// (each entry must still occur, so the list only shrinks).

const module = "github.com/tenantry/tenantry"

type goPackage struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
	Standard   bool
}

// importRules: packages matching `from` may not import (directly) anything matching one of
// `forbid`. Patterns are module-relative; "x/..." matches x and everything under it; a
// pattern starting with "!" matches every package the rest does not.
var importRules = []struct {
	from   string
	forbid []string
	why    string
}{
	{"eventstore/...", []string{"domain/catalog", "domain/tenant", "domain/membership", "domain/usage", "domain/billing", "domain/app/...", "projections/...", "http/...", "workers/...", "cmd/..."},
		"the data-access layer knows events, not aggregates or the layers above it"},
	{"projections/...", []string{"http/...", "workers/...", "cmd/..."}, "projections are an adapter below the ports"},
	{"http/...", []string{"workers/...", "projections/...", "cmd/...", "migrations"}, "handlers call use cases and read models, not other ports"},
	{"workers/...", []string{"http/...", "projections/...", "cmd/...", "migrations"}, "workers call use cases, not other ports"},
	{"!cmd/...", []string{"cmd/..."}, "nothing imports the composition root (cmd/tenantry/platform) but the binaries under cmd/"},
	{"http/api", []string{"..."}, "the API's request and response types: a Go client imports them (and its whole dependency tree is the standard library and google/uuid, checked below)"},
}

// onlyIn: an external import allowed only in the listed packages (non-test code).
var onlyIn = []struct {
	external string
	pkgs     []string
}{
	{"github.com/jackc/pgx/v5", []string{"eventstore/...", "migrations/..."}}, // migrations: its own bootstrap
	// cmd/tenantry-tasks: the example product; a product's handlers are Gin's (product.Route.Handle).
	{"github.com/gin-gonic/gin", []string{"http/...", "cmd/tenantry-tasks/..."}},
	{"github.com/pb33f/libopenapi-validator", []string{"http/oastest"}},              // the tests' check of answers against the document
	{"github.com/stripe/stripe-go/v76", []string{"workers/billing/...", "http/..."}}, // http: webhook signature only
}

// sqlOwned: text that only the data-access layer's files may contain (non-test Go files).
var sqlOwned = []struct {
	pattern *regexp.Regexp
	files   []string
}{
	{regexp.MustCompile(`tenantry\.tenant_id`), []string{"eventstore/tenantctx.go"}},
	{regexp.MustCompile(`\b736571[0-9]\b`), []string{"eventstore/locks.go"}},
}

// debt: violations being removed by issue 16's re-layering. Format "pkg -> import" or
// "file: text". An entry that no longer occurs fails the test: delete it.
var debt = []string{}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Dir,Imports,Deps,GoFiles,Standard", "./...")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	r, ok := strings.CutPrefix(path, module+"/")
	return r, ok
}

func matches(pattern, relPath string) bool {
	if not, ok := strings.CutPrefix(pattern, "!"); ok {
		return !matches(not, relPath)
	}
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return relPath == base || strings.HasPrefix(relPath, base+"/")
	}
	return relPath == pattern
}

func matchesAny(patterns []string, relPath string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return matches(p, relPath) })
}

func TestLayering_ImportsPointInward(t *testing.T) {
	pkgs := listPackages(t)
	var found []string
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			if to, ours := rel(imp); ours {
				for _, r := range importRules {
					if matches(r.from, from) && matchesAny(r.forbid, to) {
						found = append(found, from+" -> "+to)
					}
				}
				continue
			}
			for _, o := range onlyIn {
				if (imp == o.external || strings.HasPrefix(imp, o.external+"/")) && !matchesAny(o.pkgs, from) {
					found = append(found, from+" -> "+o.external)
				}
			}
		}
		// http/api, the API's types, is what a Go client imports: the standard library and
		// google/uuid only (no Gin, pgx, stripe-go, nor anything of ours).
		if matches("http/api", from) {
			for _, d := range p.Deps {
				if d != "github.com/google/uuid" && strings.Contains(strings.Split(d, "/")[0], ".") {
					found = append(found, from+" -> "+d)
				}
			}
		}
		// http/client, the Go client API consumers import: the standard library,
		// google/uuid and http/api only (no Gin, nor anything of the server's).
		if matches("http/client", from) {
			for _, d := range p.Deps {
				r, ours := rel(d)
				switch {
				case ours && r == "http/api", d == "github.com/google/uuid", !ours && !strings.Contains(strings.Split(d, "/")[0], "."):
				default:
					found = append(found, from+" -> "+d)
				}
			}
		}
		// The domain, use cases included, is pure: its whole dependency tree is the standard
		// library, google/uuid and the domain itself.
		if matches("domain/...", from) {
			for _, d := range p.Deps {
				r, ours := rel(d)
				switch {
				case ours && matches("domain/...", r), d == "github.com/google/uuid", !strings.Contains(strings.Split(d, "/")[0], "."):
				default:
					found = append(found, from+" -> "+d)
				}
			}
		}
	}
	for _, p := range pkgs {
		from, ok := rel(p.ImportPath)
		if !ok {
			continue
		}
		for _, f := range p.GoFiles {
			path := filepath.Join(from, f)
			b, err := os.ReadFile(filepath.Join(p.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range sqlOwned {
				if o.pattern.Match(b) && !slices.Contains(o.files, path) {
					found = append(found, path+": "+o.pattern.String())
				}
			}
		}
	}
	found = uniq(found)
	for _, f := range found {
		if !slices.Contains(debt, f) {
			t.Errorf("layering broken: %s (see README, How the code is laid out)", f)
		}
	}
	for _, d := range debt {
		if !slices.Contains(found, d) {
			t.Errorf("debt entry %q no longer occurs: delete it from debt", d)
		}
	}
}

// The rule that keeps the composition root for the binaries: a package outside cmd/ matches
// "!cmd/...", a binary or the platform does not.
func TestLayering_OnlyTheBinariesMayImportThePlatform(t *testing.T) {
	for p, want := range map[string]bool{".": true, "http": true, "domain/module": true, "cmdline": true,
		"cmd/tenantry": false, "cmd/tenantry/platform": false, "cmd/tenantry-tasks": false} {
		if got := matches("!cmd/...", p); got != want {
			t.Errorf(`matches("!cmd/...", %q) = %v, want %v`, p, got, want)
		}
	}
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
