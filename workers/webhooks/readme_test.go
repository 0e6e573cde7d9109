package webhooks_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// readmeSnippet is the fenced block right after marker in README.md.
func readmeSnippet(t *testing.T, marker, lang string) string {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)" + regexp.QuoteMeta(marker) + "[ \t]*\n```" + lang + "\n(.*?)\n```").FindStringSubmatch(string(readme))
	require.NotNil(t, m, "README.md has no %s block after %s", lang, marker)
	return m[1]
}

// The README's Python and Node verifiers, exactly as printed, accept a real delivery's
// body and Tenantry-Signature with the endpoint's secret, and refuse a tampered body and
// another secret.
func TestReadme_VerificationSnippetsAcceptARealDelivery(t *testing.T) {
	for _, tool := range []string{"python3", "node"} {
		_, err := exec.LookPath(tool)
		require.NoError(t, err, "%s is needed (.ci/tools installs it)", tool)
	}
	f := newFixture(t)
	rcv := &receiver{}
	tenant := uuid.Must(uuid.NewV7())
	_, secret := f.endpoint(t, tenant, serve(t, rcv))
	f.record(t, tenant, 1)
	until(t, f.newWorker(t), func() bool { return len(rcv.delivered()) == 1 })
	dir := t.TempDir()
	bodyFile := filepath.Join(dir, "body")
	require.NoError(t, os.WriteFile(bodyFile, rcv.bodies[0], 0o600))
	tampered := filepath.Join(dir, "tampered")
	require.NoError(t, os.WriteFile(tampered, []byte(strings.Replace(string(rcv.bodies[0]), `"seq":1`, `"seq":2`, 1)), 0o600))

	py := readmeSnippet(t, "<!-- webhook-verify-python -->", "python") + `
import os, sys
body = open(os.environ["BODY_FILE"], "rb").read()
sys.exit(0 if verify(body, os.environ["SIGNATURE"], os.environ["SECRET"]) else 1)
`
	js := readmeSnippet(t, "<!-- webhook-verify-node -->", "js") + `
const body = require("fs").readFileSync(process.env.BODY_FILE);
process.exit(verify(body, process.env.SIGNATURE, process.env.SECRET) ? 0 : 1);
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "verify.py"), []byte(py), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "verify.js"), []byte(js), 0o600))
	run := func(tool, script, body, secret string) error {
		cmd := exec.Command(tool, filepath.Join(dir, script))
		cmd.Env = append(os.Environ(), "BODY_FILE="+body, "SIGNATURE="+rcv.sigs[0], "SECRET="+secret)
		out, err := cmd.CombinedOutput()
		if err != nil && len(out) > 0 {
			t.Logf("%s: %s", tool, out)
		}
		return err
	}
	for _, v := range [][2]string{{"python3", "verify.py"}, {"node", "verify.js"}} {
		require.NoError(t, run(v[0], v[1], bodyFile, secret), "%s accepts the delivery", v[0])
		require.Error(t, run(v[0], v[1], tampered, secret), "%s refuses a tampered body", v[0])
		require.Error(t, run(v[0], v[1], bodyFile, "whsec_other"), "%s refuses another secret", v[0])
	}
}
