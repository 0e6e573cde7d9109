package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// The README's quickstart, run as a reader runs it: `make run` (the real target: it builds
// the binary, makes the development signing key, migrates and serves) with the operator
// token the README gives it, then every command block marked `<!-- quickstart -->`, in
// order, in one `bash -euo pipefail` (later blocks use the KEY and SEQ that earlier ones
// set, as in a reader's terminal), in a directory laid out as the repository's (.data/ is
// make run's), with nothing of this process's environment but PATH. Each block's output is
// checked against what the README says it shows, so a change to an answer's shape, to a
// route or to make run fails here.
//
// One substitution, and only when it is needed: the README talks to localhost:8080. When
// something on this machine already listens there (a developer's own make run), make run is
// given TENANTRY_ADDR=127.0.0.1:<free port> and each "localhost:8080" in the blocks becomes
// "localhost:<that port>". Nothing else in the blocks is changed.

// quickstartMarker marks a README block that this test runs.
const quickstartMarker = "<!-- quickstart -->"

var quickstartBlock = regexp.MustCompile("(?s)" + regexp.QuoteMeta(quickstartMarker) + "[ \t]*\n```(?:sh|bash)\n(.*?)\n```")

// quickstartBlocks returns the README's marked blocks; every marker must sit right before a
// sh fence, so that a block cannot drop out of the test unnoticed.
func quickstartBlocks(t *testing.T, readme string) []string {
	t.Helper()
	matches := quickstartBlock.FindAllStringSubmatch(readme, -1)
	require.Equal(t, strings.Count(readme, quickstartMarker)-strings.Count(readme, "`"+quickstartMarker+"`"), len(matches),
		"every %s marker in README.md must be followed at once by a ```sh block", quickstartMarker)
	var blocks []string
	for _, m := range matches {
		blocks = append(blocks, m[1])
	}
	return blocks
}

// requireTools fails (never skips) when a tool the quickstart uses is missing.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: the quickstart test runs the README's commands, which use it; "+
				"`make test` installs it from Debian (.ci/tools), or run: sudo apt-get install -y %s", tool, tool)
		}
	}
}

// lockedBuffer collects a process's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// readmeHostPort is where the README's commands send their requests.
const readmeHostPort = "localhost:8080"

// portTaken reports whether something answers on, or holds, the README's port.
func portTaken() bool {
	if c, err := net.DialTimeout("tcp", readmeHostPort, time.Second); err == nil {
		c.Close()
		return true
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		return true
	}
	ln.Close()
	return false
}

func TestQuickstart_READMEBlocksRunAsWrittenAgainstMakeRun(t *testing.T) {
	needTools(t, "make")
	requireTools(t, "bash", "curl", "jq")
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	readme := string(b)
	m := regexp.MustCompile(`(?m)^TENANTRY_OPERATOR_TOKEN=(\S+) make run$`).FindStringSubmatch(readme)
	require.NotNil(t, m, "the README's quickstart starts `TENANTRY_OPERATOR_TOKEN=... make run`")
	token := m[1]
	blocks := quickstartBlocks(t, readme)
	require.Len(t, blocks, 7, "README.md's quickstart blocks: create, read the tenant, post usage, read usage, "+
		"members, audit, openapi (a block added or removed must be checked below too)")

	// Where make run listens, and the substitution it may need (see above).
	hostPort, addrEnv := readmeHostPort, []string(nil)
	if portTaken() {
		port := freeAddr(t)[len("127.0.0.1:"):]
		hostPort, addrEnv = "localhost:"+port, []string{"TENANTRY_ADDR=127.0.0.1:" + port}
		t.Logf("%s is taken on this machine: make run listens on 127.0.0.1:%s and the blocks say %s", readmeHostPort, port, hostPort)
		for i := range blocks {
			blocks[i] = strings.ReplaceAll(blocks[i], readmeHostPort, hostPort)
		}
	}

	// make run, as the README starts it, on a test database, with everything under dir/.data.
	db := pgtest.New(t)
	dir := t.TempDir()
	data := filepath.Join(dir, ".data")
	env := script(t, t.TempDir(), "with-env", `exec "$@"`+"\n") // the database is given; no stripe-mock
	var unset []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TENANTRY_") || strings.HasPrefix(name, "STRIPE_") || name == "DATABASE_URL" || name == "LOG_FORMAT" {
			unset = append(unset, name)
		}
	}
	var serveLog lockedBuffer
	makeRun := makeCmd(root, unset, append([]string{"DATABASE_URL=" + db.SuperURL, "TENANTRY_OPERATOR_TOKEN=" + token, "LOG_FORMAT=json"}, addrEnv...),
		"run", "ENV="+env, "DATA="+data)
	makeRun.Stdout, makeRun.Stderr = &serveLog, &serveLog
	makeRun.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // make, its shell and the server: stopped together
	require.NoError(t, makeRun.Start())
	exited := make(chan error, 1)
	go func() { exited <- makeRun.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-makeRun.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-makeRun.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	ready := "http://" + strings.Replace(hostPort, "localhost", "127.0.0.1", 1) + "/readyz"
	deadline := time.Now().Add(5 * time.Minute) // make run builds the binary first
	for {
		resp, err := http.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("make run exited (%v) before serving:\n%s", err, serveLog.String())
		case <-time.After(200 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "make run did not answer %s in time:\n%s", ready, serveLog.String())
	}

	// The blocks, in one shell, each announced by a line this test splits the output on.
	var sh strings.Builder
	for i, block := range blocks {
		fmt.Fprintf(&sh, "echo '=== quickstart block %d'\n%s\n", i, block)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bash := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", sh.String())
	bash.Dir = dir
	bash.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	var out lockedBuffer
	bash.Stdout, bash.Stderr = &out, &out
	err = bash.Run()
	require.NoError(t, err, "the quickstart failed; its output (the last block announced is the one that failed):\n%s\nmake run's output:\n%s",
		out.String(), serveLog.String())
	parts := regexp.MustCompile(`(?m)^=== quickstart block \d+\n`).Split(out.String(), -1)
	require.Len(t, parts, len(blocks)+1, out.String())
	outputs := parts[1:]
	lines := func(i int) []string { return strings.Split(strings.TrimSpace(outputs[i]), "\n") }
	object := func(line string) map[string]any {
		t.Helper()
		var v map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &v), "not a JSON object: %s", line)
		return v
	}

	// 0: the tenant is created and KEY holds the admin's key.
	key := regexp.MustCompile(`(?m)^KEY=(tk_\S+)$`).FindStringSubmatch(outputs[0])
	require.NotNil(t, key, "KEY is set from the create answer:\n%s", outputs[0])

	// 1: the tenant, read with that key.
	tenant := object(strings.TrimSpace(outputs[1]))
	require.Equal(t, "acme", tenant["slug"], outputs[1])
	require.Equal(t, "Acme", tenant["name"])
	require.Equal(t, "pro", tenant["plan"])
	require.Equal(t, "active", tenant["status"])

	// 2: the record is accepted once; the repeat is a duplicate held by the same event.
	require.Len(t, lines(2), 2, outputs[2])
	first, again := object(lines(2)[0]), object(lines(2)[1])
	require.Equal(t, float64(1), first["accepted"], outputs[2])
	require.Equal(t, float64(0), first["duplicates"])
	require.Equal(t, float64(0), again["accepted"], "the repeat counts once")
	require.Equal(t, float64(1), again["duplicates"])
	seq, ok := first["seq"].(float64)
	require.True(t, ok && seq > 0, outputs[2])
	require.Equal(t, seq, again["seq"], "the duplicate answers the seq that holds the record")

	// 3: the total as posted, the duplicate counted once.
	require.Equal(t, []string{`{"metric":"api_calls","total":5}`}, lines(3))

	// 4: the members: the admin.
	require.Equal(t, []string{`{"email":"admin@acme.example","role":"admin"}`}, lines(4))

	// 5: the server's verification, then the offline one of the export, signed.
	require.GreaterOrEqual(t, len(lines(5)), 2, outputs[5])
	live := object(lines(5)[0])
	require.Equal(t, map[string]any{"ok": true, "head_seq": live["head_seq"]}, live)
	headSeq, ok := live["head_seq"].(float64)
	require.True(t, ok && headSeq >= seq, outputs[5])
	var report map[string]any
	for _, l := range lines(5)[1:] {
		if o := object(l); o["signed"] != nil {
			report = o
		}
	}
	require.NotNil(t, report, "audit verify prints its report:\n%s", outputs[5])
	require.Equal(t, true, report["ok"], outputs[5])
	require.Equal(t, true, report["signed"], "make run's development key signs heads")
	require.Equal(t, headSeq, report["head_seq"])

	// 6: the OpenAPI document lists the routes used above.
	for _, path := range []string{"/v1/tenants", "/v1/tenant", "/v1/usage", "/v1/members", "/v1/audit/verify", "/v1/audit/events"} {
		require.Contains(t, lines(6), path, outputs[6])
	}

	// make run made the key that signed: owner-only, never in its output, and its public key
	// is the one the auditor was given.
	secret, err := os.ReadFile(filepath.Join(data, "audit-signing.key"))
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(data, "audit-signing.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	signer, err := auditlog.ParseSigningKey(string(secret))
	require.NoError(t, err)
	pub, err := os.ReadFile(filepath.Join(data, "audit-signing.pub"))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("%x\n", []byte(signer.PublicKey())), string(pub))
	require.NotContains(t, serveLog.String(), strings.TrimSpace(string(secret)), "the signing key never reaches a log line")
	require.NotContains(t, out.String(), strings.TrimSpace(string(secret)))
}
