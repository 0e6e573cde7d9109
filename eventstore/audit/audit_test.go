package audit_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/domain/catalog"
	"github.com/tenantry/tenantry/domain/tenant"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
	"github.com/tenantry/tenantry/migrations/pgtest"
	"github.com/tenantry/tenantry/projections"
)

var testDB *pgtest.DB

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m, &testDB)) }

var (
	signer, _   = auditlog.ParseSigningKey(strings.Repeat("7", 64))
	intruder, _ = auditlog.ParseSigningKey(strings.Repeat("8", 64))
)

type fixture struct {
	t     testing.TB
	store *eventstore.Store
	reg   *eventstore.Registry
	id    uuid.UUID
}

func newFixture(t testing.TB, withPipeline ...bool) *fixture {
	url := testDB.AppURL
	if len(withPipeline) > 0 {
		url = testDB.WorkerURL // the relay, the directory and the head signer are the worker's
	}
	pool := pgtest.Pool(t, url, 8)
	reg := eventstore.NewRegistry()
	require.NoError(t, catalog.Register(reg))
	f := &fixture{t: t, store: eventstore.New(pool), reg: reg, id: uuid.Must(uuid.NewV7())}
	if len(withPipeline) > 0 { // the tenant directory, kept by the relay and the pipeline
		log := slog.New(slog.DiscardHandler)
		notifier := eventstore.NewNotifier(pool, 0, log)
		store, err := eventstore.NewStore(pool, eventstore.StoreConfig{Notifier: notifier, GroupCommitters: 4})
		require.NoError(t, err)
		f.store = store
		pipeline, err := projections.NewPipeline(projections.PipelineConfig{Store: store, Registry: reg, Logger: log, Notifier: notifier})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = pipeline.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	slug, err := domain.ParseSlug("audit-" + f.id.String()[24:])
	require.NoError(t, err)
	events, err := tenant.Create(f.id, "Audit Ünïcode ☃", slug, domain.PlanPro, time.Now())
	require.NoError(t, err)
	f.append(tenant.StreamID, events[0])
	f.usage(5)
	return f
}

func (f *fixture) append(stream string, e domain.Event) {
	f.t.Helper()
	ne, err := f.reg.Encode(e, eventstore.Metadata{Actor: "test \"quoted\"", RequestID: "req-1"})
	require.NoError(f.t, err)
	_, err = f.store.Append(context.Background(), f.id, stream, eventstore.Any, ne)
	require.NoError(f.t, err)
}

// usage appends n usage records whose keys need JSON escapes.
func (f *fixture) usage(n int) {
	for i := 0; i < n; i++ {
		m, _ := usage.ParseMetric("api_calls")
		q, _ := usage.NewQuantity(int64(i + 1))
		k, _ := usage.ParseIdempotencyKey(fmt.Sprintf("k\\%d\"x", time.Now().UnixNano()))
		f.append(usage.StreamID, usage.Recorded{Metric: m, Quantity: q, OccurredAt: time.Now().UTC(), IdempotencyKey: k})
	}
}

func (f *fixture) export(s *auditlog.Signer) []byte {
	f.t.Helper()
	var buf bytes.Buffer
	_, err := exporter(f.store, s).Write(context.Background(), app.ExportInput{Tenant: f.id}, &buf)
	require.NoError(f.t, err)
	return buf.Bytes()
}

// exporter is the export use case over store, as the API and the CLI build it.
func exporter(store *eventstore.Store, s *auditlog.Signer) app.Export {
	return app.Export{Events: store, Heads: store, Signer: s, Now: time.Now}
}

func verify(t *testing.T, file []byte, opts audit.VerifyOptions) audit.Report {
	t.Helper()
	rep, err := audit.Verify(bytes.NewReader(file), opts)
	require.NoError(t, err)
	return rep
}

func lines(b []byte) [][]byte { return bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) }

func join(ls [][]byte) []byte { return append(bytes.Join(ls, []byte("\n")), '\n') }

// rehash recomputes the chain from the first line on, as someone who can rewrite the whole
// table would, and signs the head with key (nil: keeps the old signature).
func rehash(t *testing.T, file []byte, key *auditlog.Signer) []byte {
	t.Helper()
	ls := lines(file)
	var prev [32]byte
	var out [][]byte
	for _, l := range ls[:len(ls)-1] {
		var f map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(l, &f))
		d := bytes.Index(l, []byte(`,"data":`))
		m := bytes.Index(l, []byte(`,"metadata":`))
		var e eventstore.Event
		e.Data, e.Metadata = l[d+8:m], l[m+12:len(l)-1]
		require.NoError(t, json.Unmarshal(f["tenant_id"], &e.TenantID))
		require.NoError(t, json.Unmarshal(f["seq"], &e.Seq))
		require.NoError(t, json.Unmarshal(f["event_id"], &e.ID))
		require.NoError(t, json.Unmarshal(f["stream_id"], &e.StreamID))
		require.NoError(t, json.Unmarshal(f["stream_version"], &e.StreamVersion))
		require.NoError(t, json.Unmarshal(f["type"], &e.Type))
		require.NoError(t, json.Unmarshal(f["schema_version"], &e.SchemaVersion))
		require.NoError(t, json.Unmarshal(f["recorded_at"], &e.RecordedAt))
		e.PrevHash = prev
		e.Hash = eventstore.ChainHash(prev, &e)
		prev = e.Hash
		nl, err := audit.AppendEventLine(nil, &e)
		require.NoError(t, err)
		out = append(out, bytes.TrimSuffix(nl, []byte("\n")))
	}
	head, err := audit.ParseHead(ls[len(ls)-1])
	require.NoError(t, err)
	signed := key.Sign(head.TenantID, head.Seq, prev, head.SignedAt)
	if key == nil {
		signed.KeyID, signed.Signature = head.KeyID, head.Signature
	}
	hl, err := auditlog.HeadLine(signed)
	require.NoError(t, err)
	return join(append(out, bytes.TrimSuffix(hl, []byte("\n"))))
}

// tamperings are the ways an export can be altered, each with the verdict it must get with
// the public key (and the seq it must name).
func tamperings(t *testing.T, good []byte) []struct {
	name    string
	file    []byte
	problem string
	seq     int64
} {
	ls := lines(good)
	n := int64(len(ls) - 1) // events
	changed := bytes.Replace(ls[2], []byte(`"quantity": `), []byte(`"quantity": 9`), 1)
	require.NotEqual(t, ls[2], changed)
	alteredThenRehashed := rehash(t, join(append(append(append([][]byte{}, ls[:2]...), changed), ls[3:]...)), nil)
	swapped := append([][]byte{}, ls...)
	swapped[3], swapped[4] = swapped[4], swapped[3]
	return []struct {
		name    string
		file    []byte
		problem string
		seq     int64
	}{
		{"ChangeAByte", join(append(append(append([][]byte{}, ls[:2]...), changed), ls[3:]...)), audit.ProblemHash, 3},
		{"DropALine", join(append(append([][]byte{}, ls[:3]...), ls[4:]...)), audit.ProblemNumbering, 4},
		{"SwapTwoLines", join(swapped), audit.ProblemNumbering, 4},
		{"Truncate", join(ls[:4]), audit.ProblemTruncated, 5},
		{"DropTheLastEventAndHead", join(ls[:n-1]), audit.ProblemTruncated, n},
		{"CutMidLine", good[:len(good)-40], audit.ProblemMalformed, n + 1},
		{"RehashWithoutTheKey", alteredThenRehashed, audit.ProblemSignature, n},
		{"ResignWithAnotherKey", rehash(t, join(append(append(append([][]byte{}, ls[:2]...), changed), ls[3:]...)), intruder), audit.ProblemSignature, n},
		{"DropTheLastEvent", join(append(append([][]byte{}, ls[:n-1]...), ls[n])), audit.ProblemTruncated, n},
		{"AnotherTenantsLine", join(append(append([][]byte{}, ls[:1]...), bytes.Replace(ls[1], ls[1][14:50], []byte(uuid.NewString()), 1))), audit.ProblemTenant, 2},
		{"UppercaseHash", join(append(append([][]byte{}, ls[:1]...), bytes.ToUpper(ls[1]))), audit.ProblemMalformed, 2},
		{"Empty", nil, audit.ProblemTruncated, 1},
		// What the hash does not cover must not pass either.
		{"ExtraField", replaceLine(ls, 1, `{`, `{"extra":1,`), audit.ProblemMalformed, 2},
		{"DuplicateField", replaceLine(ls, 1, `"seq":2,`, `"seq":2,"seq":2,`), audit.ProblemMalformed, 2},
		{"WrongCaseKey", replaceLine(ls, 1, `"seq":`, `"Seq":`), audit.ProblemMalformed, 2},
		{"DataNotAnObject", join(append(append(append([][]byte{}, ls[:1]...), dataAs(ls[1], `[]`)), ls[2:]...)), audit.ProblemMalformed, 2},
		{"LoneSurrogate", replaceLine(ls, 1, `"stream_id":"usage"`, `"stream_id":"usage\ud800"`), audit.ProblemMalformed, 2},
		{"CommaFraction", commaFraction(ls, 1), audit.ProblemMalformed, 2},
		{"ExtraHeadField", replaceLine(ls, int(n), `{"head":{`, `{"head":{"x":1,`), audit.ProblemMalformed, n + 1},
		{"UppercaseSignature", upperSignature(t, ls), audit.ProblemMalformed, n + 1},
		{"NegativeHeadSeq", replaceLine(ls, int(n), fmt.Sprintf(`"seq":%d`, n), fmt.Sprintf(`"seq":-%d`, n)), audit.ProblemMalformed, n + 1},
		// The same values written otherwise than the exporter writes them (AUDIT.md, "Event
		// lines"): the hash covers decoded strings, but a line has one spelling.
		{"EscapedString", replaceLine(ls, 1, `"stream_id":"usage"`, `"stream_id":"usag\u0065"`), audit.ProblemMalformed, 2},
		{"Spaces", replaceLine(ls, 1, `"seq":2,`, `"seq": 2 ,`), audit.ProblemMalformed, 2},
	}
}

// replaceLine replaces the first old in line i.
func replaceLine(ls [][]byte, i int, old, new string) []byte {
	out := append([][]byte{}, ls...)
	out[i] = bytes.Replace(ls[i], []byte(old), []byte(new), 1)
	return join(out)
}

// dataAs gives an event line other data bytes.
func dataAs(line []byte, data string) []byte {
	d := bytes.Index(line, []byte(`,"data":`))
	m := bytes.Index(line, []byte(`,"metadata":`))
	return []byte(string(line[:d]) + `,"data":` + data + string(line[m:]))
}

// commaFraction writes line i's recorded_at with a comma before its fraction.
func commaFraction(ls [][]byte, i int) []byte {
	out := append([][]byte{}, ls...)
	l := append([]byte{}, ls[i]...)
	at := bytes.Index(l, []byte(`"recorded_at":"`))
	dot := bytes.IndexByte(l[at:], '.')
	l[at+dot] = ','
	out[i] = l
	return join(out)
}

func upperSignature(t *testing.T, ls [][]byte) []byte {
	head, err := audit.ParseHead(ls[len(ls)-1])
	require.NoError(t, err)
	return replaceLine(ls, len(ls)-1, head.Signature, strings.ToUpper(head.Signature))
}

func TestExportThenVerify_PassesAndEveryTamperingIsCaught(t *testing.T) {
	f := newFixture(t)
	good := f.export(signer)
	rep := verify(t, good, audit.VerifyOptions{PublicKey: signer.PublicKey()})
	require.True(t, rep.OK, "%+v", rep)
	require.True(t, rep.Signed)
	require.Equal(t, int64(6), rep.Events)
	require.Equal(t, f.id.String(), rep.TenantID)

	for _, tc := range tamperings(t, good) {
		t.Run(tc.name, func(t *testing.T) {
			rep := verify(t, tc.file, audit.VerifyOptions{PublicKey: signer.PublicKey()})
			require.False(t, rep.OK)
			require.Equal(t, tc.problem, rep.Problem, "%+v", rep)
			require.Equal(t, tc.seq, rep.FirstBadSeq, "%+v", rep)
		})
	}
}

func TestVerify_ALaterHistoryExtendsAnEarlierHead(t *testing.T) {
	f := newFixture(t)
	first := f.export(signer)
	earlier, err := audit.ParseHead(lines(first)[len(lines(first))-1])
	require.NoError(t, err)
	f.usage(3)
	later := f.export(signer)
	opts := audit.VerifyOptions{PublicKey: signer.PublicKey(), Earlier: &earlier}
	rep := verify(t, later, opts)
	require.True(t, rep.OK, "%+v", rep)

	// Rewritten history (re-hashed by someone without the key): even if they could
	// re-sign, the earlier head catches it.
	ls := lines(later)
	changed := bytes.Replace(ls[1], []byte(`"quantity": 1`), []byte(`"quantity": 2`), 1)
	rewritten := rehash(t, join(append(append([][]byte{ls[0]}, changed), ls[2:]...)), nil)
	rep = verify(t, rewritten, audit.VerifyOptions{Earlier: &earlier})
	require.Equal(t, audit.ProblemEarlierHead, rep.Problem, "%+v", rep)
	require.Equal(t, earlier.Seq, rep.FirstBadSeq)

	// An earlier head that was not signed with the key, and one from beyond the history.
	forged := earlier
	forged.Hash = strings.Repeat("0", 64)
	rep = verify(t, later, audit.VerifyOptions{PublicKey: signer.PublicKey(), Earlier: &forged})
	require.Equal(t, audit.ProblemSignature, rep.Problem)
	beyond := signer.Sign(f.id, 99, [32]byte{1}, time.Now())
	rep = verify(t, later, audit.VerifyOptions{PublicKey: signer.PublicKey(), Earlier: &beyond})
	require.Equal(t, audit.ProblemTruncated, rep.Problem)
}

func TestSignedHeads_AreRecordedAndSignedOnlyWhenMoved(t *testing.T) {
	f := newFixture(t, true) // the signer walks the tenant directory
	require.NoError(t, f.store.WaitForDirectory(context.Background(), f.id, time.Minute))
	directory := func(ctx context.Context, fn func(uuid.UUID) error) error {
		return f.store.EachTenant(ctx, func(t eventstore.TenantEntry) error { return fn(t.ID) })
	}
	hs, err := audit.NewHeadSigner(audit.HeadSignerConfig{Store: f.store, Signer: signer, Tenants: directory, Interval: time.Hour})
	require.NoError(t, err)
	_, err = hs.Once(context.Background())
	require.NoError(t, err)
	got, ok, err := f.store.LatestSignedHead(context.Background(), f.id)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, got.Verify(signer.PublicKey()))
	seq, hash, err := f.store.Head(context.Background(), f.id)
	require.NoError(t, err)
	require.Equal(t, seq, got.Seq)
	require.Equal(t, hex.EncodeToString(hash[:]), got.Hash)
	_, err = hs.Once(context.Background())
	require.NoError(t, err)
	again, _, err := f.store.LatestSignedHead(context.Background(), f.id)
	require.NoError(t, err)
	require.Equal(t, got, again, "an unmoved head is not signed again")
	f.usage(1)
	_, err = hs.Once(context.Background())
	require.NoError(t, err)
	moved, _, err := f.store.LatestSignedHead(context.Background(), f.id)
	require.NoError(t, err)
	require.Equal(t, got.Seq+1, moved.Seq, "a moved head is signed")
}

func TestNewHeadSigner_RefusesAConfigMissingWhatItNeeds(t *testing.T) {
	tenants := func(context.Context, func(uuid.UUID) error) error { return nil }
	good := audit.HeadSignerConfig{Store: &eventstore.Store{}, Signer: signer, Tenants: tenants, Interval: time.Hour}
	_, err := audit.NewHeadSigner(good)
	require.NoError(t, err)
	for name, change := range map[string]func(*audit.HeadSignerConfig){
		"Store":    func(c *audit.HeadSignerConfig) { c.Store = nil },
		"Tenants":  func(c *audit.HeadSignerConfig) { c.Tenants = nil },
		"Interval": func(c *audit.HeadSignerConfig) { c.Interval = 0 },
	} {
		bad := good
		change(&bad)
		_, err := audit.NewHeadSigner(bad)
		require.ErrorContains(t, err, name)
	}
}

// The independent Python verifier (standard library only) agrees with this one on every file.
func TestPythonVerifier_AgreesWithGo(t *testing.T) {
	py, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 is needed (the Makefile installs it)")
	f := newFixture(t)
	good := f.export(signer)
	if p := os.Getenv("AUDIT_SAMPLE_OUT"); p != "" { // a sample for working on verify_audit.py
		require.NoError(t, os.WriteFile(p, good, 0o600))
		require.NoError(t, os.WriteFile(p+".pub", []byte(hex.EncodeToString(signer.PublicKey())), 0o600))
	}
	dir := t.TempDir()
	pub := hex.EncodeToString(signer.PublicKey())
	files := map[string][]byte{"good": good}
	for _, tc := range tamperings(t, good) {
		files[tc.name] = tc.file
	}
	for name, file := range files {
		path := filepath.Join(dir, name+".ndjson")
		require.NoError(t, os.WriteFile(path, file, 0o600))
		out, _ := exec.Command(py, "verify_audit.py", path, "--public-key", pub).Output()
		var got audit.Report
		require.NoError(t, json.Unmarshal(out, &got), "%s: %s", name, out)
		want := verify(t, file, audit.VerifyOptions{PublicKey: signer.PublicKey()})
		require.Equal(t, want.OK, got.OK, "%s: go %+v python %+v", name, want, got)
		require.Equal(t, want.Problem, got.Problem, "%s: go %+v python %+v", name, want, got)
		require.Equal(t, want.FirstBadSeq, got.FirstBadSeq, "%s: go %+v python %+v", name, want, got)
		require.Equal(t, want.Signed, got.Signed, "%s", name)
	}
}
