package platform

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The Makefile's promises (README, "Two commands"), checked by running its real targets
// with the tools they call replaced by small scripts: no database, build or network.

// repoRoot is the repository's top directory (this package is cmd/tenantry/platform).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "Makefile"))
	return root
}

// needTools skips the test when a tool the Makefile needs is not installed.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
}

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755))
	return p
}

// makeIn runs make with args in dir, in this process's environment without the variables
// an enclosing `make test` passes down (MAKEFLAGS carries its command-line variables) and
// without those named in unset; extra is added.
func makeIn(t *testing.T, dir string, unset []string, extra []string, args ...string) (string, error) {
	t.Helper()
	cmd := makeCmd(dir, unset, extra, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// makeCmd is the command makeIn runs, for a make that runs on (make run).
func makeCmd(dir string, unset []string, extra []string, args ...string) *exec.Cmd {
	cmd := exec.Command("make", append([]string{"--no-print-directory", "-C", dir}, args...)...)
	drop := append([]string{"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS"}, unset...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			keep = keep && name != d
		}
		if keep {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, extra...)
	return cmd
}

// `make lint` fails on any tracked file over 1 MiB and names it; a file of exactly 1 MiB,
// or a larger one that is not tracked, passes the check.
func TestMakeLint_RefusesATrackedFileOverOneMiB(t *testing.T) {
	needTools(t, "make", "bash", "git")
	makefile := filepath.Join(repoRoot(t), "Makefile")
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", repo}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	git("init", "-q")
	write := func(name string, size int) {
		t.Helper()
		require.NoError(t, os.WriteFile(filepath.Join(repo, name), bytes.Repeat([]byte{'x'}, size), 0o644))
	}
	// GO=true: the later steps (go vet, staticcheck) do nothing; only the size check counts.
	lint := func() (string, error) { return makeIn(t, repo, nil, nil, "-f", makefile, "lint", "GO=true") }

	write("exactly one MiB.bin", 1<<20)
	write("untracked.bin", 2<<20)
	git("add", "exactly one MiB.bin")
	out, err := lint()
	require.NoError(t, err, out)
	require.Contains(t, out, "size: ok", out)

	write("big build", 1<<20+1)
	git("add", "big build")
	out, err = lint()
	require.Error(t, err, "a tracked file over 1 MiB must fail make lint:\n%s", out)
	require.Contains(t, out, "size: tracked files over 1 MiB")
	require.Contains(t, out, "big build (1.0 MiB)")
	require.NotContains(t, out, "untracked.bin")
	require.NotContains(t, out, "exactly one MiB.bin")
}

// `make run` serves on 127.0.0.1:8080 unless TENANTRY_ADDR says otherwise: the README's
// sample operator token must not open the API to the network.
func TestMakeRun_ListensOnTheLoopbackInterfaceByDefault(t *testing.T) {
	needTools(t, "make", "bash")
	root, tmp := repoRoot(t), t.TempDir()
	log := filepath.Join(tmp, "calls")
	// The binary records each subcommand with the address it would listen on; the
	// environment script runs its command as .ci/with-env does, without starting anything.
	bin := script(t, tmp, "tenantry", `case "$1" in migrate|serve) echo "$1 addr=[${TENANTRY_ADDR-unset}]" >> "`+log+`" ;; esac`+"\n")
	env := script(t, tmp, "with-env", `exec "$@"`+"\n")
	runMake := func(extra ...string) string {
		t.Helper()
		require.NoError(t, os.RemoveAll(log))
		out, err := makeIn(t, root, []string{"TENANTRY_ADDR"}, extra, "run",
			"GO=true", "BIN="+bin, "ENV="+env, "DATA="+filepath.Join(tmp, "data"))
		require.NoError(t, err, out)
		calls, err := os.ReadFile(log)
		require.NoError(t, err, out)
		return string(calls)
	}
	require.Equal(t, "migrate addr=[127.0.0.1:8080]\nserve addr=[127.0.0.1:8080]\n", runMake("DATABASE_URL="+runURL))
	require.Equal(t, "migrate addr=[:9090]\nserve addr=[:9090]\n", runMake("TENANTRY_ADDR=:9090", "DATABASE_URL="+runURL),
		"TENANTRY_ADDR, when set, is where make run listens")

	// make run leaves the URL of its database in .data/env, readable by its owner only, for
	// the CLI (dburl.go); a URL with a password is not written.
	envFile := filepath.Join(tmp, "data", "env")
	b, err := os.ReadFile(envFile)
	require.NoError(t, err)
	require.Contains(t, string(b), "\nDATABASE_URL="+runURL+"\n")
	got, err := readDevEnv(envFile)
	require.NoError(t, err)
	require.Equal(t, runURL, got)
	fi, err := os.Stat(envFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	runMake("DATABASE_URL=postgres://u:s3cret@127.0.0.1:5432/tenantry")
	require.NoFileExists(t, envFile)
}

// `make run` signs heads by default: with neither TENANTRY_AUDIT_SIGNING_KEY nor _FILE set, it
// makes a key with the binary's `audit keygen` into .data/audit-signing.key when there is
// none, serves with TENANTRY_AUDIT_SIGNING_KEY_FILE naming it, and leaves the public key of
// the key it serves with in .data/audit-signing.pub; a key the user set is used as it is.
func TestMakeRun_MakesAndUsesADevelopmentSigningKey(t *testing.T) {
	needTools(t, "make", "bash")
	root, tmp := repoRoot(t), t.TempDir()
	log := filepath.Join(tmp, "calls")
	// The binary records keygen and serve with the signing settings they see; keygen writes a
	// secret and prints a public key as the real one does, `audit head --public-key` prints a
	// public key derived from the key it is given.
	bin := script(t, tmp, "tenantry", `L="`+log+`"
case "$1 ${2-}" in
"audit keygen")
	[ "$3" = --out ] || exit 2
	[ ! -e "$4" ] || { echo "$4 exists" >&2; exit 1; }
	(umask 077; echo "seed-$$" > "$4")
	echo "keygen $4" >> "$L"
	echo "pub-of-seed-$$" ;;
"audit head")
	if [ -n "${TENANTRY_AUDIT_SIGNING_KEY_FILE-}" ]; then echo "pub-of-$(cat "$TENANTRY_AUDIT_SIGNING_KEY_FILE")"
	else echo "pub-of-${TENANTRY_AUDIT_SIGNING_KEY-none}"; fi ;;
"serve ") echo "serve key=[${TENANTRY_AUDIT_SIGNING_KEY-unset}] file=[${TENANTRY_AUDIT_SIGNING_KEY_FILE-unset}]" >> "$L" ;;
esac
`)
	env := script(t, tmp, "with-env", `exec "$@"`+"\n")
	data := filepath.Join(tmp, "data")
	keyFile, pubFile := filepath.Join(data, "audit-signing.key"), filepath.Join(data, "audit-signing.pub")
	runMake := func(extra ...string) (calls, out string) {
		t.Helper()
		require.NoError(t, os.RemoveAll(log))
		out, err := makeIn(t, root, []string{"TENANTRY_AUDIT_SIGNING_KEY", "TENANTRY_AUDIT_SIGNING_KEY_FILE"},
			append([]string{"DATABASE_URL=" + runURL}, extra...), "run", "GO=true", "BIN="+bin, "ENV="+env, "DATA="+data)
		require.NoError(t, err, out)
		b, err := os.ReadFile(log)
		require.NoError(t, err, out)
		return string(b), out
	}
	pubOf := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return "pub-of-" + string(b)
	}

	calls, out := runMake()
	require.Equal(t, "keygen "+keyFile+"\nserve key=[unset] file=["+keyFile+"]\n", calls, "a key is made and served with")
	fi, err := os.Stat(keyFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	secret, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	require.NotContains(t, out, strings.TrimSpace(string(secret)), "the key is never printed")
	require.Contains(t, out, "made a development head signing key")
	pub, err := os.ReadFile(pubFile)
	require.NoError(t, err)
	require.Equal(t, pubOf(keyFile), string(pub), "the public key of the key served with")
	fi, err = os.Stat(pubFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "the public key is public")

	calls, _ = runMake()
	require.Equal(t, "serve key=[unset] file=["+keyFile+"]\n", calls, "the existing key is kept: no second keygen")
	again, err := os.ReadFile(keyFile)
	require.NoError(t, err)
	require.Equal(t, secret, again)

	calls, _ = runMake("TENANTRY_AUDIT_SIGNING_KEY=users-own-key")
	require.Equal(t, "serve key=[users-own-key] file=[unset]\n", calls, "a key the user set wins; no file is added")
	pub, err = os.ReadFile(pubFile)
	require.NoError(t, err)
	require.Equal(t, "pub-of-users-own-key\n", string(pub))

	own := filepath.Join(tmp, "own.key")
	require.NoError(t, os.WriteFile(own, []byte("own-seed"), 0o600))
	calls, _ = runMake("TENANTRY_AUDIT_SIGNING_KEY_FILE=" + own)
	require.Equal(t, "serve key=[unset] file=["+own+"]\n", calls)
	pub, err = os.ReadFile(pubFile)
	require.NoError(t, err)
	require.Equal(t, "pub-of-own-seed\n", string(pub))
}

// runURL is the database `make run` is given in the test above.
const runURL = "postgres://root@127.0.0.1:5432/tenantry?sslmode=disable"

// `make test RUN=...` hands go test the regular expression as written: a `$` anchor is not
// expanded by make (before, RUN='^TestA$|^TestB' became -run '^TestA^TestB', silently
// matching nothing).
func TestMakeTest_PassesRunToGoTestAsWritten(t *testing.T) {
	needTools(t, "make", "bash")
	root, tmp := repoRoot(t), t.TempDir()
	goCmd := script(t, tmp, "go", `for a in "$@"; do printf '%s\n' "$a"; done`+"\n")
	env := script(t, tmp, "with-env", `exec "$@"`+"\n")
	for _, run := range []string{`^TestA$|^TestB`, `^Test(A|B)$`, `^TestA$`, `Test$$x`} {
		out, err := makeIn(t, root, nil, nil, "test", "GO="+goCmd, "ENV="+env, "PKGS=./domain", "RUN="+run)
		require.NoError(t, err, out)
		args := strings.Split(strings.TrimSpace(out), "\n")
		k := slices.Index(args, "-run")
		require.True(t, k >= 0 && k+1 < len(args), "no -run in %q", args)
		require.Equal(t, run, args[k+1], "go test's -run")
	}
	out, err := makeIn(t, root, []string{"RUN"}, nil, "test", "GO="+goCmd, "ENV="+env, "PKGS=./domain")
	require.NoError(t, err, out)
	require.NotContains(t, out, "-run", "no RUN, no -run")
}

// `make test` has the tools its tests run installed from Debian when missing (.ci/tools,
// called by .ci/with-env with WITH_ENV_TEST_TOOLS=1): the quickstart test needs curl and
// jq. apt-get is replaced by a script that "installs" a command by writing it.
func TestCITools_InstallsAMissingCommandFromDebian(t *testing.T) {
	needTools(t, "bash")
	root, tmp := repoRoot(t), t.TempDir()
	bin := filepath.Join(tmp, "bin")
	require.NoError(t, os.Mkdir(bin, 0o755))
	calls := filepath.Join(tmp, "apt-calls")
	script(t, bin, "id", `echo 0`+"\n") // as root: no sudo
	script(t, bin, "apt-get", `echo "$*" >> "`+calls+`"
case " $* " in *" install "*) for last; do :; done; printf '#!/bin/sh\n' > "`+bin+`/$last"; chmod +x "`+bin+`/$last" ;; esac
`)
	tools := func(args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(root, ".ci", "tools"), args...)
		cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := tools("bash", "tenantry-test-tool")
	require.NoError(t, err, out)
	b, err := os.ReadFile(calls)
	require.NoError(t, err, out)
	require.Regexp(t, `(?m)^.*update.*\n.*install -y -q --no-install-recommends tenantry-test-tool$`, string(b), "only the missing one is installed")
	require.FileExists(t, filepath.Join(bin, "tenantry-test-tool"))

	require.NoError(t, os.Remove(calls))
	out, err = tools("bash", "tenantry-test-tool")
	require.NoError(t, err, out)
	require.NoFileExists(t, calls, "nothing missing, no apt-get")

	b, err = os.ReadFile(filepath.Join(root, "Makefile"))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^test:.*\n\t@.*WITH_ENV_TEST_TOOLS=1 \$\(ENV\)`, string(b), "make test asks .ci/with-env for the test tools")
	b, err = os.ReadFile(filepath.Join(root, ".ci", "with-env"))
	require.NoError(t, err)
	require.Contains(t, string(b), `tools+=(curl jq)`)
}

// `make db` prints the database `make run` serves (…/tenantry on the server .ci/devdb finds
// or starts), not the server's maintenance database, so the URL it prints reaches make
// run's data; a DATABASE_URL of the user's own is printed as it is, as make run uses it.
func TestMakeDB_PrintsTheDatabaseMakeRunServes(t *testing.T) {
	needTools(t, "make", "bash", "psql")
	root := repoRoot(t)
	out, err := makeIn(t, root, []string{"DATABASE_URL"}, nil, "db")
	require.NoError(t, err, out)
	var urls []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "postgres://") {
			urls = append(urls, line)
		}
	}
	require.Len(t, urls, 1, out)
	require.Regexp(t, `^postgres://[^/]+/tenantry\?sslmode=disable$`, urls[0])

	own := "postgres://someone@db.example:5432/postgres?sslmode=require"
	out, err = makeIn(t, root, []string{"DATABASE_URL"}, []string{"DATABASE_URL=" + own}, "db")
	require.NoError(t, err, out)
	require.Equal(t, own+"\n", out)
}

// `make build` writes every binary of cmd/ (tenantry, and a product's own) into BINDIR, and
// stamps the commit into each (`tenantry version` prints it), even where GOFLAGS says
// -buildvcs=false, as this machine's Go environment does.
func TestMakeBuild_BuildsEveryBinaryOfCmdAndTheBinaryKnowsItsCommit(t *testing.T) {
	needTools(t, "make", "git")
	root := repoRoot(t)
	dir := t.TempDir()
	out, err := makeIn(t, root, nil, []string{"GOFLAGS=-buildvcs=false"}, "build", "BINDIR="+dir)
	require.NoError(t, err, out)
	list := exec.Command("go", "list", "-f", `{{if eq .Name "main"}}{{.Dir}}{{end}}`, "./cmd/...")
	list.Dir = root
	mains, err := list.Output()
	require.NoError(t, err)
	var names []string
	for _, d := range strings.Fields(string(mains)) {
		names = append(names, filepath.Base(d))
		require.FileExists(t, filepath.Join(dir, filepath.Base(d)), "make build builds %s", d)
	}
	require.Contains(t, names, "tenantry")
	bin := filepath.Join(dir, "tenantry")

	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skip("not a git checkout")
	}
	if fi, err := os.Stat(filepath.Join(root, ".git")); err != nil || !fi.IsDir() {
		// In a linked worktree (.git is a file) go build records no revision here at all,
		// -buildvcs=true included; CI and users build in a plain clone.
		t.Skip("a linked git worktree: go does not stamp its revision")
	}
	out2, err := exec.Command(bin, "version", "--json").Output()
	require.NoError(t, err)
	var v struct{ Commit string }
	require.NoError(t, json.Unmarshal(out2, &v), string(out2))
	require.Equal(t, strings.TrimSpace(string(head)), v.Commit)
}
