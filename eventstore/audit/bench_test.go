package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	"github.com/tenantry/tenantry/migrations/pgtest"
)

// BenchmarkAudit prints audit_export (events/s written to an export, baseline: the same
// events read page by page) and audit_verify_offline (events/s verified from the file,
// baseline: SHA-256 over the file's bytes), and audit_verify_python (events/s of the
// independent Python verifier on the same file, baseline: the Go verifier), over one tenant
// of BENCH_AUDIT_EVENTS events (default 50,000); each pair in 3 alternating rounds, medians.
func BenchmarkAudit(b *testing.B) {
	if !pgtest.BenchSelected("audit_export") && !pgtest.BenchSelected("audit_verify_offline") {
		b.Skip("no audit figure selected")
	}
	n := 50000
	if v, err := strconv.Atoi(os.Getenv("BENCH_AUDIT_EVENTS")); err == nil && v > 0 {
		n = v
	}
	f := newFixture(b)
	ctx := context.Background()
	m, _ := usage.ParseMetric("api_calls")
	q, _ := usage.NewQuantity(1)
	for done := 6; done < n; {
		batch := make([]eventstore.NewEvent, 0, 1000)
		for i := 0; i < 1000 && done < n; i++ {
			k, _ := usage.ParseIdempotencyKey(fmt.Sprintf("bench-%d", done))
			ne, err := f.reg.Encode(usage.Recorded{Metric: m, Quantity: q, OccurredAt: time.Now().UTC(), IdempotencyKey: k}, eventstore.Metadata{Actor: "bench"})
			require.NoError(b, err)
			batch = append(batch, ne)
			done++
		}
		_, err := f.store.Append(ctx, f.id, usage.StreamID, eventstore.Any, batch...)
		require.NoError(b, err)
	}
	var exp, read, ver, sum []float64
	verifyRate := func(file []byte) float64 { // the Go verifier's events/s on file
		start := time.Now()
		rep, err := audit.Verify(bytes.NewReader(file), audit.VerifyOptions{PublicKey: signer.PublicKey()})
		require.NoError(b, err)
		require.True(b, rep.OK, "%+v", rep)
		return pgtest.Rate(int64(n), time.Since(start))
	}
	var file []byte
	for round := 0; round < 3; round++ {
		start := time.Now()
		for after := int64(0); ; {
			page, err := f.store.ReadTenant(ctx, f.id, after, eventstore.MaxPage)
			require.NoError(b, err)
			if len(page) == 0 {
				break
			}
			after = page[len(page)-1].Seq
		}
		read = append(read, pgtest.Rate(int64(n), time.Since(start)))

		var buf bytes.Buffer
		start = time.Now()
		_, err := exporter(f.store, signer).Write(ctx, app.ExportInput{Tenant: f.id}, &buf)
		require.NoError(b, err)
		exp = append(exp, pgtest.Rate(int64(n), time.Since(start)))
		file = buf.Bytes()

		ver = append(ver, verifyRate(file))

		start = time.Now()
		h := sha256.New()
		_, _ = io.Copy(h, bytes.NewReader(file))
		sum = append(sum, pgtest.Rate(int64(n), time.Since(start)))
	}
	pgtest.BenchLine("audit_export", pgtest.Median(exp), "events/s", "read_tenant_pages", pgtest.Median(read))
	pgtest.BenchLine("audit_verify_offline", pgtest.Median(ver), "events/s", "sha256_of_file", pgtest.Median(sum))

	// The independent Python verifier on the same file, next to the Go verifier, in rounds of
	// their own.
	if py, err := exec.LookPath("python3"); err == nil {
		path := filepath.Join(b.TempDir(), "export.ndjson")
		require.NoError(b, os.WriteFile(path, file, 0o600))
		var pys, gos []float64
		for round := 0; round < 3; round++ {
			gos = append(gos, verifyRate(file))
			start := time.Now()
			out, err := exec.Command(py, "verify_audit.py", path, "--public-key", hex.EncodeToString(signer.PublicKey())).Output()
			require.NoError(b, err, string(out))
			pys = append(pys, pgtest.Rate(int64(n), time.Since(start)))
		}
		pgtest.BenchLine("audit_verify_python", pgtest.Median(pys), "events/s", "audit_verify_offline", pgtest.Median(gos))
	}
}
