package platform

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/domain/auditlog"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/eventstore/audit"
)

// verifyAuditPy is the independent verifier, run with python3 as an auditor would.
const verifyAuditPy = "../../../eventstore/audit/verify_audit.py"

// verdict is what a verifier process tells its caller: its exit status and its report.
type verdict struct {
	Code   int
	Stdout string
	Report map[string]any
}

// goVerify runs `tenantry audit verify` offline (no database in the environment) and returns
// its exit status and standard output.
func goVerify(t *testing.T, args ...string) verdict {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewCommand(func(k string) string { return map[string]string{"LOG_FORMAT": "json"}[k] }, &out, &errOut)
	root.SetArgs(append([]string{"audit", "verify"}, args...))
	var v verdict
	if err := root.ExecuteContext(context.Background()); err != nil {
		v.Code = exitCode(err)
	}
	v.Stdout = out.String()
	v.Report = report(t, v.Stdout)
	return v
}

// pyVerify runs verify_audit.py with the same file and flags, in a process of its own.
func pyVerify(t *testing.T, file string, args ...string) verdict {
	t.Helper()
	py, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 is needed (the Makefile installs it)")
	cmd := exec.Command(py, append([]string{verifyAuditPy, file}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	v := verdict{Stdout: out.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		v.Code = exit.ExitCode()
	} else {
		require.NoError(t, err, errOut.String())
	}
	require.NotContains(t, errOut.String(), "Traceback", "verify_audit.py crashed")
	v.Report = report(t, v.Stdout)
	return v
}

// pyBatch runs verify_audit.py's main once per argument list, all in one python3 process
// (starting Python costs seconds on a busy machine): the exit status is main's return value
// or the status of the SystemExit it raises, as `python3 verify_audit.py ...` would exit.
// An exception main does not handle fails the test.
const pyBatch = `
import contextlib, io, json, sys
sys.path.insert(0, sys.argv[1])
import verify_audit
results = []
for argv in json.load(sys.stdin):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = verify_audit.main(argv)
    except SystemExit as e:
        code = e.code
    results.append({"code": code, "stdout": out.getvalue()})
json.dump(results, sys.stdout)
`

func pyVerifyAll(t *testing.T, calls [][]string) []verdict {
	t.Helper()
	py, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 is needed (the Makefile installs it)")
	in, err := json.Marshal(calls)
	require.NoError(t, err)
	cmd := exec.Command(py, "-c", pyBatch, filepath.Dir(verifyAuditPy))
	cmd.Stdin = bytes.NewReader(in)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	require.NoError(t, err, errOut.String())
	var res []struct {
		Code   int    `json:"code"`
		Stdout string `json:"stdout"`
	}
	require.NoError(t, json.Unmarshal(out, &res))
	require.Len(t, res, len(calls))
	vs := make([]verdict, len(res))
	for i, r := range res {
		vs[i] = verdict{Code: r.Code, Stdout: r.Stdout, Report: report(t, r.Stdout)}
	}
	return vs
}

func report(t *testing.T, stdout string) map[string]any {
	if stdout == "" {
		return nil
	}
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &r), stdout)
	return r
}

// requireAgree holds the two verdicts equal on all but the free-text detail.
func requireAgree(t *testing.T, name string, g, p verdict) {
	t.Helper()
	require.Equal(t, g.Code, p.Code, "%s: exit status: go %s python %s", name, g.Stdout, p.Stdout)
	if g.Code == 2 {
		require.Empty(t, g.Stdout, "%s: go printed a report without a verdict", name)
		require.Empty(t, p.Stdout, "%s: python printed a report without a verdict", name)
		return
	}
	for _, k := range []string{"ok", "tenant_id", "events", "head_seq", "head_hash", "signed", "first_bad_seq", "problem"} {
		require.Equal(t, g.Report[k], p.Report[k], "%s: %s: go %s python %s", name, k, g.Stdout, p.Stdout)
	}
}

// synthExport writes a valid export of n events of a fresh tenant, without a database: the
// chain as AUDIT.md computes it, then the head signed with s at signedAt.
func synthExport(t *testing.T, n int, s *auditlog.Signer, signedAt time.Time) ([][]byte, audit.Head) {
	t.Helper()
	tenant := uuid.New()
	var prev [32]byte
	var ls [][]byte
	at := time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC)
	for i := 1; i <= n; i++ {
		e := eventstore.Event{TenantID: tenant, Seq: int64(i), ID: uuid.New(), StreamID: "usage", StreamVersion: int64(i),
			Type: "usage.recorded", SchemaVersion: 1, RecordedAt: at.Add(time.Duration(i) * time.Second),
			Data: []byte(`{"quantity": 1}`), Metadata: []byte(`{"actor": "test"}`), PrevHash: prev}
		e.Hash = eventstore.ChainHash(prev, &e)
		prev = e.Hash
		l, err := audit.AppendEventLine(nil, &e)
		require.NoError(t, err)
		ls = append(ls, bytes.TrimSuffix(l, []byte("\n")))
	}
	return ls, s.Sign(tenant, int64(n), prev, signedAt)
}

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// headCase is a head written one way; ok says whether AUDIT.md ("Heads") accepts it.
type headCase struct {
	name string
	edit func(obj string) string
	ok   bool
}

func replace(old, new string) func(string) string {
	return func(s string) string {
		out := strings.Replace(s, old, new, 1)
		if out == s {
			panic(fmt.Sprintf("%q not in %s", old, s))
		}
		return out
	}
}

// headCases are the heads AUDIT.md must decide, for the head h (seq 3, signed_at …00.12Z).
func headCases(h audit.Head) []headCase {
	id, seq := h.TenantID.String(), fmt.Sprintf(`"seq":%d,`, h.Seq)
	return []headCase{
		{"AsWritten", func(s string) string { return s }, true},
		{"PrettyPrinted", func(s string) string {
			var b bytes.Buffer
			_ = json.Indent(&b, []byte(s), " \t", "  ")
			return "\r\n" + b.String() + "\n\n"
		}, true},
		{"SpacesAroundColonsAndCommas", func(s string) string {
			return strings.NewReplacer(`":`, `" : `, `,"`, ` , "`).Replace(s)
		}, true},
		{"OnlyTheTenant", func(string) string { return `{"tenant_id":"` + id + `"}` }, false},
		{"MissingSeq", replace(seq, ``), false},
		{"MissingHash", replace(`"hash":"`+h.Hash+`",`, ``), false},
		{"MissingSignatureKey", replace(`,"signature":"`+h.Signature+`"`, ``), false},
		{"UppercaseKey", replace(`"seq":`, `"Seq":`), false},
		{"AllKeysUppercase", strings.ToUpper, false},
		{"ExtraField", replace(`}`, `,"note":"x"}`), false},
		{"ExtraNullField", replace(`{`, `{"extra":null,`), false},
		{"DuplicateKey", replace(seq, seq+seq), false},
		{"KeysReordered", replace(seq+`"hash":"`+h.Hash+`"`, `"hash":"`+h.Hash+`",`+strings.TrimSuffix(seq, ",")), false},
		{"PlusZeroOffset", replace(`.12Z"`, `.12+00:00"`), false},
		{"LowercaseZ", replace(`.12Z"`, `.12z"`), false},
		{"TrailingZeroFraction", replace(`.12Z"`, `.120Z"`), false},
		{"NanosecondFraction", replace(`.12Z"`, `.120000001Z"`), false},
		{"NoSecondsField", replace(`10:05:00.12Z"`, `10:05.12Z"`), false},
		{"February30", replace(`2026-11-25T`, `2026-02-30T`), false},
		{"Hour24", replace(`T10:05`, `T24:05`), false},
		{"LeapSecond", replace(`:05:00.`, `:05:60.`), false},
		{"UppercaseTenantID", replace(id, strings.ToUpper(id)), false},
		{"TenantIDWithoutHyphens", replace(id, strings.ReplaceAll(id, "-", "")), false},
		{"TenantIDInBraces", replace(`"`+id+`"`, `"{`+id+`}"`), false},
		{"UppercaseHash", replace(h.Hash, strings.ToUpper(h.Hash)), false},
		{"ShortHash", replace(h.Hash, h.Hash[2:]), false},
		{"UppercaseKeyID", replace(h.KeyID, strings.ToUpper(h.KeyID)), false},
		{"UppercaseSignature", replace(h.Signature, strings.ToUpper(h.Signature)), false},
		{"KeyIDWithoutSignature", replace(h.Signature, ``), false},
		{"SignatureWithoutKeyID", replace(h.KeyID, ``), false},
		{"SeqAsString", replace(seq, fmt.Sprintf(`"seq":"%d",`, h.Seq)), false},
		{"SeqWithFraction", replace(seq, fmt.Sprintf(`"seq":%d.0,`, h.Seq)), false},
		{"SeqWithExponent", replace(seq, fmt.Sprintf(`"seq":%de0,`, h.Seq)), false},
		{"SeqWithLeadingZero", replace(seq, fmt.Sprintf(`"seq":0%d,`, h.Seq)), false},
		{"SeqWithPlus", replace(seq, fmt.Sprintf(`"seq":+%d,`, h.Seq)), false},
		{"NegativeSeq", replace(seq, fmt.Sprintf(`"seq":-%d,`, h.Seq)), false},
		{"SeqBeyondInt64", replace(seq, `"seq":9223372036854775808,`), false},
		{"SeqNull", replace(seq, `"seq":null,`), false},
		{"SeqNaN", replace(seq, `"seq":NaN,`), false},
		{"HashAsNumber", replace(`"`+h.Hash+`"`, `1`), false},
		{"EscapedCharacter", replace(`"`+id[:1], `"\u00`+hex.EncodeToString([]byte(id[:1]))), false},
		{"EscapedSolidus", replace(`"tenant_id"`, `"tenant_id\/"`), false},
		{"ByteOrderMark", func(s string) string { return "\ufeff" + s }, false},
		{"TrailingComma", replace(`"}`, `",}`), false},
		{"TwoObjects", func(s string) string { return s + s }, false},
		{"AnArray", func(s string) string { return "[" + s + "]" }, false},
		{"Empty", func(string) string { return "" }, false},
		{"NotUTF8", replace(`"key_id"`, "\"key_id\xff\""), false},
		{"DeeplyNested", replace(`"`+h.Hash+`"`, strings.Repeat("[", 100000)+strings.Repeat("]", 100000)), false},
	}
}

// Heads, as an export's head line and as a --head file, with and without the public key: the
// Go and the Python verifier give the same verdict and the same exit status, and accept
// exactly the heads AUDIT.md accepts.
func TestAuditVerify_BothVerifiersAgreeOnEveryHeadSpelling(t *testing.T) {
	s, err := auditlog.ParseSigningKey(strings.Repeat("5e", 32))
	require.NoError(t, err)
	pub := hex.EncodeToString(s.PublicKey())
	events, head := synthExport(t, 3, s, time.Date(2026, 11, 25, 10, 5, 0, 120000000, time.UTC))
	obj, err := json.Marshal(head)
	require.NoError(t, err)
	require.Contains(t, string(obj), `"signed_at":"2026-11-25T10:05:00.12Z"`)
	dir := t.TempDir()
	good := write(t, dir, "good.ndjson", append(bytes.Join(append(events, []byte(`{"head":`+string(obj)+`}`)), []byte("\n")), '\n'))

	type check struct {
		name     string
		args     []string // after the export file
		file     string
		wantCode int
	}
	var checks []check
	for _, tc := range headCases(head) {
		h := tc.edit(string(obj))
		line := `{"head":` + strings.ReplaceAll(h, "\n", " ") + `}` // one line, the object's own spelling
		export := write(t, dir, tc.name+".ndjson", append(bytes.Join(append(events, []byte(line)), []byte("\n")), '\n'))
		bare := write(t, dir, tc.name+".head.json", []byte(h))
		wrapped := write(t, dir, tc.name+".line.json", []byte(`{"head":`+h+`}`))
		for _, key := range [][]string{nil, {"--public-key", pub}} {
			name := fmt.Sprintf("%s key=%v", tc.name, key != nil)
			checks = append(checks, check{name + " head line", key, export, map[bool]int{true: 0, false: 1}[tc.ok]})
			for _, file := range []string{bare, wrapped} {
				checks = append(checks, check{name + " head file " + filepath.Base(file), append([]string{"--head", file}, key...),
					good, map[bool]int{true: 0, false: 2}[tc.ok]})
			}
		}
	}
	// How the head line itself is recognised and spelled (AUDIT.md, "The head line").
	for i, tc := range []struct {
		line string
		ok   bool
	}{
		{" \t\r{ \t\"head\" \t: " + string(obj) + " }\r", true},
		{`{"Head":` + string(obj) + `}`, false},
		{`{"head" ` + string(obj) + `}`, false},
		{`{"head":` + string(obj) + `,"head":` + string(obj) + `}`, false},
		{`{"head":` + string(obj) + `,"x":1}`, false},
		{`{"x":1,"head":` + string(obj) + `}`, false},
		{`{"head":{"head":` + string(obj) + `}}`, false},
		{string(obj), false},
	} {
		export := write(t, dir, fmt.Sprintf("line%d.ndjson", i), append(bytes.Join(append(events, []byte(tc.line)), []byte("\n")), '\n'))
		for _, key := range [][]string{nil, {"--public-key", pub}} {
			checks = append(checks, check{fmt.Sprintf("line spelling %q key=%v", tc.line, key != nil), key, export, map[bool]int{true: 0, false: 1}[tc.ok]})
		}
	}
	calls := make([][]string, len(checks))
	for i, c := range checks {
		calls[i] = append([]string{c.file}, c.args...)
	}
	py := pyVerifyAll(t, calls)
	for i, c := range checks {
		g := goVerify(t, append([]string{"--file", c.file}, c.args...)...)
		requireAgree(t, c.name, g, py[i])
		require.Equal(t, c.wantCode, g.Code, "%s: %s", c.name, g.Stdout)
		switch {
		case c.wantCode == 0:
			require.Equal(t, len(c.args) > 0 && c.args[len(c.args)-2] == "--public-key", g.Report["signed"], c.name)
		case c.wantCode == 1:
			require.Equal(t, "malformed", g.Report["problem"], c.name)
			require.Equal(t, float64(4), g.Report["first_bad_seq"], c.name)
		}
	}
}

// What an earlier head proves, signed or not, is decided alike by both verifiers.
func TestAuditVerify_BothVerifiersAgreeOnEarlierHeads(t *testing.T) {
	s, err := auditlog.ParseSigningKey(strings.Repeat("5e", 32))
	require.NoError(t, err)
	other, err := auditlog.ParseSigningKey(strings.Repeat("6f", 32))
	require.NoError(t, err)
	pub := hex.EncodeToString(s.PublicKey())
	at := time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)
	events, head := synthExport(t, 4, s, at)
	hl, err := auditlog.HeadLine(head)
	require.NoError(t, err)
	dir := t.TempDir()
	export := write(t, dir, "export.ndjson", append(bytes.Join(events, []byte("\n")), append([]byte("\n"), hl...)...))
	hashAt := func(seq int) [32]byte {
		var f struct{ Hash string }
		require.NoError(t, json.Unmarshal(append(bytes.Split(events[seq-1], []byte(`,"data":`))[0], '}'), &f))
		var h [32]byte
		_, err := hex.Decode(h[:], []byte(f.Hash))
		require.NoError(t, err)
		return h
	}
	var unsigned *auditlog.Signer
	cases := []struct {
		name    string
		earlier audit.Head
		noKey   string // the problem without the public key ("" = ok)
		withKey string // and with it
	}{
		{"SignedAtSeq2", s.Sign(head.TenantID, 2, hashAt(2), at), "", ""},
		{"UnsignedAtSeq2", unsigned.Sign(head.TenantID, 2, hashAt(2), at), "", "signature"},
		{"UnsignedAtSeq0", unsigned.Sign(head.TenantID, 0, [32]byte{}, at), "", "signature"},
		{"SignedAtSeq0", s.Sign(head.TenantID, 0, [32]byte{}, at), "", ""},
		{"SignedByAnotherKey", other.Sign(head.TenantID, 2, hashAt(2), at), "", "signature"},
		{"AnotherHashAtSeq2", unsigned.Sign(head.TenantID, 2, hashAt(3), at), "earlier_head", "signature"},
		{"ResignedRewrite", s.Sign(head.TenantID, 2, hashAt(3), at), "earlier_head", "earlier_head"},
		{"AnotherTenant", s.Sign(uuid.New(), 2, hashAt(2), at), "tenant", "tenant"},
		{"BeyondTheHistory", s.Sign(head.TenantID, 5, hashAt(2), at), "truncated", "truncated"},
		{"TheHeadItself", head, "", ""},
	}
	var calls [][]string
	var wants []string
	for _, tc := range cases {
		b, err := json.Marshal(tc.earlier)
		require.NoError(t, err)
		file := write(t, dir, tc.name+".json", b)
		calls = append(calls, []string{export, "--head", file}, []string{export, "--head", file, "--public-key", pub})
		wants = append(wants, tc.noKey, tc.withKey)
	}
	py := pyVerifyAll(t, calls)
	for i, call := range calls {
		name := fmt.Sprintf("%s key=%v", cases[i/2].name, i%2 == 1)
		g := goVerify(t, append([]string{"--file"}, call...)...)
		requireAgree(t, name, g, py[i])
		require.Equal(t, wants[i], g.Report["problem"], "%s: %s", name, g.Stdout)
		require.Equal(t, map[bool]int{true: 0, false: 1}[wants[i] == ""], g.Code, name)
	}
}

// Everything that leaves no verdict exits 2 in both verifiers and prints no report; a
// tampered file exits 1.
func TestAuditVerify_NoVerdictExits2InBothVerifiers(t *testing.T) {
	s, err := auditlog.ParseSigningKey(strings.Repeat("5e", 32))
	require.NoError(t, err)
	pub := hex.EncodeToString(s.PublicKey())
	events, head := synthExport(t, 2, s, time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC))
	hl, err := auditlog.HeadLine(head)
	require.NoError(t, err)
	dir := t.TempDir()
	export := write(t, dir, "export.ndjson", append(bytes.Join(events, []byte("\n")), append([]byte("\n"), hl...)...))
	headFile := write(t, dir, "head.json", hl)
	tooLong := write(t, dir, "long.json", append(bytes.Repeat([]byte(" "), audit.MaxHeadFile), hl...))
	missing := filepath.Join(dir, "missing")

	cases := []struct {
		name string
		file string
		args []string
	}{
		{"MissingExport", missing, nil},
		{"ExportIsADirectory", dir, nil},
		{"MissingHeadFile", export, []string{"--head", missing}},
		{"HeadFileIsADirectory", export, []string{"--head", dir}},
		{"HeadFileTooLong", export, []string{"--head", tooLong}},
		{"EmptyHeadFile", export, []string{"--head", write(t, dir, "empty.json", nil)}},
		{"PublicKeyNotHex", export, []string{"--public-key", "nothex"}},
		{"PublicKeyEmpty", export, []string{"--public-key", ""}},
		{"PublicKey63Digits", export, []string{"--public-key", pub[1:]}},
		{"PublicKey66Digits", export, []string{"--public-key", pub + "00"}},
		{"PublicKeyWithNewline", export, []string{"--public-key", pub + "\n"}},
		{"PublicKeyYNotBelowP", export, []string{"--public-key", "ee" + strings.Repeat("ff", 30) + "7f"}},
		{"PublicKeyNotOnTheCurve", export, []string{"--public-key", "02" + strings.Repeat("00", 31)}},
		{"PublicKeyXZeroNegative", export, []string{"--public-key", "01" + strings.Repeat("00", 30) + "80"}},
		{"UnknownFlag", export, []string{"--bogus"}},
		{"AbbreviatedFlag", export, []string{"--public", pub}},
		{"FlagWithoutValue", export, []string{"--head"}},
		{"ExtraArgument", export, []string{"extra"}},
	}
	calls := make([][]string, len(cases))
	for i, tc := range cases {
		calls[i] = append([]string{tc.file}, tc.args...)
	}
	py := pyVerifyAll(t, calls)
	for i, tc := range cases {
		g := goVerify(t, append([]string{"--file", tc.file}, tc.args...)...)
		require.Equal(t, 2, g.Code, "%s: go %s", tc.name, g.Stdout)
		requireAgree(t, tc.name, g, py[i])
	}
	// And as a process of its own, as an auditor runs it.
	require.Equal(t, 2, pyVerify(t, missing).Code)
	for name, args := range map[string][]string{
		"NeitherFileNorTenant": {},
		"BothFileAndTenant":    {"--file", export, "--tenant", "acme"},
		"HeadWithTenant":       {"--tenant", "acme", "--head", headFile},
		"PublicKeyWithTenant":  {"--tenant", "acme", "--public-key", pub},
	} {
		require.Equal(t, 2, goVerify(t, args...).Code, name)
	}

	// A good file exits 0 in both and a tampered one 1, with the same report.
	g, p := goVerify(t, "--file", export, "--public-key", pub), pyVerify(t, export, "--public-key", pub)
	requireAgree(t, "good", g, p)
	require.Equal(t, 0, g.Code, g.Stdout)
	tampered := write(t, dir, "tampered.ndjson", bytes.Replace(readFile(t, export), []byte(`"quantity": 1`), []byte(`"quantity": 2`), 1))
	g, p = goVerify(t, "--file", tampered, "--public-key", pub), pyVerify(t, tampered, "--public-key", pub)
	requireAgree(t, "tampered", g, p)
	require.Equal(t, 1, g.Code, g.Stdout)
	require.Equal(t, "hash", g.Report["problem"])
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

// pyHeads tells, for each head file given in base64, whether verify_audit.py's parse_head
// accepts it (one python3 process for all of them).
const pyHeads = `
import base64, json, sys
sys.path.insert(0, sys.argv[1])
import verify_audit
ok = []
for b in json.load(sys.stdin):
    try:
        verify_audit.parse_head(base64.b64decode(b), line=False)
        ok.append(True)
    except (ValueError, RecursionError):
        ok.append(False)
json.dump(ok, sys.stdout)
`

// Thousands of random one- to three-byte edits of a head, into bytes that matter to JSON and
// to the values: the Go and the Python head parser accept exactly the same ones.
func TestAuditVerify_BothHeadParsersAgreeOnMutatedHeads(t *testing.T) {
	s, err := auditlog.ParseSigningKey(strings.Repeat("5e", 32))
	require.NoError(t, err)
	_, head := synthExport(t, 3, s, time.Date(2026, 11, 25, 10, 5, 0, 120000000, time.UTC))
	obj, err := json.Marshal(head)
	require.NoError(t, err)
	line, err := auditlog.HeadLine(head)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(7, 11))
	alphabet := []byte(" \t\r\n{}[]:,\"\\-+.0123456789eEaAfFzZ:Tnul\x00\xff")
	var heads [][]byte
	for i := 0; i < 5000; i++ {
		b := append([]byte(nil), obj...)
		if i%2 == 1 {
			b = append([]byte(nil), line...)
		}
		for edits := 1 + rng.IntN(3); edits > 0; edits-- {
			at := rng.IntN(len(b))
			c := alphabet[rng.IntN(len(alphabet))]
			switch rng.IntN(3) {
			case 0:
				b[at] = c
			case 1:
				b = append(b[:at], append([]byte{c}, b[at:]...)...)
			default:
				b = append(b[:at], b[at+1:]...)
			}
		}
		heads = append(heads, b)
	}
	in := make([]string, len(heads))
	for i, h := range heads {
		in[i] = base64.StdEncoding.EncodeToString(h)
	}
	py, err := exec.LookPath("python3")
	require.NoError(t, err)
	payload, err := json.Marshal(in)
	require.NoError(t, err)
	cmd := exec.Command(py, "-c", pyHeads, filepath.Dir(verifyAuditPy))
	cmd.Stdin = bytes.NewReader(payload)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	require.NoError(t, err, errOut.String())
	var pyOK []bool
	require.NoError(t, json.Unmarshal(out, &pyOK))
	require.Len(t, pyOK, len(heads))
	accepted := 0
	for i, h := range heads {
		_, err := audit.ParseHead(h)
		require.Equal(t, err == nil, pyOK[i], "%q: go %v, python accepts: %v", h, err, pyOK[i])
		if err == nil {
			accepted++
		}
	}
	require.Greater(t, accepted, 0, "some edits (whitespace) keep a head a head")
}
