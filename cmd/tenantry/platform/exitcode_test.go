package platform

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every usage error exits 2 (README, "Configuration": exit codes): an unknown subcommand
// at any level, an unknown flag, a bad flag value, a missing required flag, a missing
// input file. None of them needs a database: they are refused before one is opened, so the
// DATABASE_URL below (where nothing listens) is never dialled.
func TestExitCodes_UsageErrorsExit2(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://root@127.0.0.1:1/tenantry?sslmode=disable&connect_timeout=1", "LOG_FORMAT": "json"}
	missing := filepath.Join(t.TempDir(), "missing.ndjson")
	cases := map[string][]string{
		"unknown subcommand":             {"tenants", "lst"},
		"unknown top-level command":      {"tenantz"},
		"unknown audit subcommand":       {"audit", "verfy", "--file", missing},
		"unknown billing subcommand":     {"billing", "reconcil"},
		"unknown projections subcommand": {"projections", "rebuilt", "--all"},
		"no subcommand":                  {"tenants"},
		"no command":                     {},
		"stray argument":                 {"tenants", "list", "extra"},
		"unknown flag":                   {"tenants", "list", "--jsn"},
		"unknown flag of audit verify":   {"audit", "verify", "--bogus"},
		"bad flag value":                 {"migrate", "--concurrency", "many"},
		"flag value out of range":        {"migrate", "--concurrency", "0"},
		"missing required flags":         {"tenants", "create", "--name", "Acme"},
		"invalid flag values":            {"tenants", "create", "--name", "Acme", "--slug", "A!", "--admin-email", "x"},
		"missing --tenant":               {"audit", "export"},
		"missing --tenant of replay":     {"audit", "replay"},
		"bad --as-of":                    {"audit", "replay", "--tenant", "acme", "--as-of", "yesterday"},
		"rebuild without a target":       {"projections", "rebuild"},
		"rebuild of a malformed tenant":  {"projections", "rebuild", "--tenant", "Not An Id!"},
		"export of a malformed tenant":   {"audit", "export", "--tenant", "urn:uuid:" + "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"},
		"reconcile of a YYYY-MM period":  {"billing", "reconcile", "--period", "2026-12"},
		"reconcile of a mid-month time":  {"billing", "reconcile", "--period", "2026-12-02T00:00:00Z"},
		"list with a foreign cursor":     {"tenants", "list", "--cursor", "junk"},
		"list with a limit out of range": {"tenants", "list", "--limit", "1001"},
		"verify of a missing file":       {"audit", "verify", "--file", missing},
		"verify without input":           {"audit", "verify"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := run(t, context.Background(), env, args...)
			require.Error(t, err, out)
			require.Equal(t, 2, exitCode(err), "%v: %v", args, err)
		})
	}
	// The help of a group goes to standard error with its exit 2, and names its commands.
	out, err := run(t, context.Background(), env, "tenants")
	require.Equal(t, 2, exitCode(err))
	require.Contains(t, out, "Available Commands:")
	require.Contains(t, out, "list")
	// A typo is answered with the command meant.
	_, err = run(t, context.Background(), env, "tenants", "lst")
	require.ErrorContains(t, err, `unknown command "lst" for "tenantry tenants" (did you mean "list"?)`)
	// A bad flag value names its flag once: "--name: name is required", never "name name".
	_, err = run(t, context.Background(), env, "tenants", "create", "--name", "", "--slug", "acme", "--admin-email", "a@acme.example")
	require.Equal(t, 2, exitCode(err))
	require.ErrorContains(t, err, "--name: name is required")
	require.NotContains(t, err.Error(), "name name")
	// Asking for help is not an error.
	_, err = run(t, context.Background(), env, "tenants", "--help")
	require.NoError(t, err)
}

// A command that ran and failed exits 1: here the database cannot be reached.
func TestExitCodes_FailuresExit1(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://root@127.0.0.1:1/tenantry?sslmode=disable&connect_timeout=1", "LOG_FORMAT": "json"}
	_, err := run(t, context.Background(), env, "tenants", "list")
	require.Error(t, err)
	require.Equal(t, 1, exitCode(err))
	_, err = run(t, context.Background(), map[string]string{}, "migrate")
	require.ErrorContains(t, err, "DATABASE_URL is not set")
	require.Equal(t, 1, exitCode(err))
}

// binaryPackage is the tenantry binary the tests that run processes build (this package is
// its platform, not a command).
const binaryPackage = "github.com/tenantry/tenantry/cmd/tenantry"

// The built binary exits with those codes (main maps the error to the process's status).
func TestExitCodes_OfTheBuiltBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "tenantry")
	build := exec.Command("go", "build", "-o", bin, binaryPackage)
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	code := func(args ...string) int {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DATABASE_URL=postgres://root@127.0.0.1:1/tenantry?sslmode=disable&connect_timeout=1")
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	}
	require.Equal(t, 0, code("version"))
	require.Equal(t, 0, code("--help"))
	require.Equal(t, 2, code("tenants", "lst"))
	require.Equal(t, 2, code("tenants", "list", "--jsn"))
	require.Equal(t, 2, code("tenants", "create", "--slug", "acme"))
	require.Equal(t, 2, code("audit", "verify", "--file", filepath.Join(t.TempDir(), "missing")))
	require.Equal(t, 1, code("tenants", "list"))
}
