package platform

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

// oddStreamID needs every kind of escape encoding/json writes, and some it does not.
const oddStreamID = "s<&>\"\\\u2028\u2029\x01\b\f\n\r\t\x7fé/☃"

// eventExport writes a valid export of 3 events signed with s; edit, when set, changes event 2
// before it is hashed. Event 1 is recorded at a time with a fraction ending in 0 in its
// nanoseconds (".12"), event 2 at one with 6 fraction digits, event 3 on a whole second; event
// 2's stream_id needs escapes and its schema_version is 0.
func eventExport(t *testing.T, s *auditlog.Signer, edit func(*eventstore.Event)) [][]byte {
	t.Helper()
	tenant := uuid.MustParse("0190f5c2-7a4b-7c3d-9e8f-0123456789ab")
	var prev [32]byte
	var ls [][]byte
	at := []time.Time{time.Date(2026, 11, 25, 10, 0, 0, 120000000, time.UTC),
		time.Date(2026, 11, 25, 10, 0, 1, 123456000, time.UTC), time.Date(2026, 11, 25, 10, 0, 3, 0, time.UTC)}
	for i := 1; i <= 3; i++ {
		e := eventstore.Event{TenantID: tenant, Seq: int64(i), ID: uuid.MustParse(fmt.Sprintf("0190f5c2-7a4b-7c3d-9e8f-%012d", i)),
			StreamID: "usage", StreamVersion: int64(i), Type: "usage.recorded", SchemaVersion: 1, RecordedAt: at[i-1],
			Data: []byte(`{"n": [1, {"b": "x\"y"}], "q": 1.0}`), Metadata: []byte(`{"actor": "test"}`), PrevHash: prev}
		if i == 2 {
			e.StreamID, e.Type, e.SchemaVersion = oddStreamID, "usage.récorded", 0
			if edit != nil {
				edit(&e)
			}
		}
		e.Hash = eventstore.ChainHash(prev, &e)
		prev = e.Hash
		l, err := audit.AppendEventLine(nil, &e)
		require.NoError(t, err)
		ls = append(ls, bytes.TrimSuffix(l, []byte("\n")))
	}
	hl, err := auditlog.HeadLine(s.Sign(tenant, 3, prev, time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)))
	require.NoError(t, err)
	return append(ls, bytes.TrimSuffix(hl, []byte("\n")))
}

// joinLines writes lines as the exporter does: each ended by one LF.
func joinLines(ls [][]byte) []byte {
	var b []byte
	for _, l := range ls {
		b = append(append(b, l...), '\n')
	}
	return b
}

// editLine replaces the first old in line i (0-based) and panics when old is not there, so
// that a case cannot silently test the unaltered file.
func editLine(ls [][]byte, i int, old, new string) []byte {
	out := append([][]byte{}, ls...)
	out[i] = bytes.Replace(ls[i], []byte(old), []byte(new), 1)
	if bytes.Equal(out[i], ls[i]) {
		panic(fmt.Sprintf("%q not in line %d: %s", old, i, ls[i]))
	}
	return joinLines(out)
}

func withLine(ls [][]byte, i int, line []byte) []byte {
	out := append([][]byte{}, ls...)
	out[i] = line
	return joinLines(out)
}

// eventLineCase is an export and the verdict AUDIT.md ("Event lines", "The export file") gives
// it: exit status, and for exit 1 the problem and the seq.
type eventLineCase struct {
	name    string
	file    []byte
	code    int
	problem string
	seq     float64
}

func eventLineCases(t *testing.T, s *auditlog.Signer) []eventLineCase {
	ls := eventExport(t, s, nil)
	good := joinLines(ls)
	require.Contains(t, string(ls[1]), `"stream_id":"s\u003c\u0026\u003e\"\\\u2028\u2029\u0001\b\f\n\r\t`+"\x7f"+`é/☃"`)
	require.Contains(t, string(ls[1]), `"schema_version":0,"recorded_at":"2026-11-25T10:00:01.123456Z"`)
	require.Contains(t, string(ls[0]), `"recorded_at":"2026-11-25T10:00:00.12Z"`)
	require.Contains(t, string(ls[2]), `"recorded_at":"2026-11-25T10:00:03Z"`)
	bad := func(name string, file []byte) eventLineCase { return eventLineCase{name, file, 1, "malformed", 2} }
	valueCase := func(name string, code int, edit func(*eventstore.Event)) eventLineCase {
		c := eventLineCase{name: name, file: joinLines(eventExport(t, s, edit)), code: code}
		if code == 1 {
			c.problem, c.seq = "malformed", 2
		}
		return c
	}
	crlf := bytes.ReplaceAll(good, []byte("\n"), []byte("\r\n"))
	return []eventLineCase{
		{"AsWritten", good, 0, "", 0},
		// Whitespace: none outside data and metadata, where jsonb text has its own.
		bad("LeadingSpace", withLine(ls, 1, append([]byte(" "), ls[1]...))),
		bad("LeadingTab", withLine(ls, 1, append([]byte("\t"), ls[1]...))),
		bad("LeadingCR", withLine(ls, 1, append([]byte("\r"), ls[1]...))),
		bad("TrailingSpace", withLine(ls, 1, append(append([]byte{}, ls[1]...), ' '))),
		bad("CRLF", withLine(ls, 1, append(append([]byte{}, ls[1]...), '\r'))),
		{"CRLFEverywhere", crlf, 1, "malformed", 1},
		bad("SpaceAfterBrace", editLine(ls, 1, `{"tenant_id"`, `{ "tenant_id"`)),
		bad("SpaceAfterColon", editLine(ls, 1, `"seq":2`, `"seq": 2`)),
		bad("SpaceBeforeComma", editLine(ls, 1, `"seq":2,`, `"seq":2 ,`)),
		bad("TabAfterComma", editLine(ls, 1, `"seq":2,`, "\"seq\":2,\t")),
		bad("SpaceBeforeData", editLine(ls, 1, `,"data":{`, `,"data": {`)),
		bad("SpaceAfterData", editLine(ls, 1, `},"metadata":`, `} ,"metadata":`)),
		bad("SpaceBeforeMetadata", editLine(ls, 1, `,"metadata":{`, `,"metadata": {`)),
		bad("SpaceBeforeFinalBrace", editLine(ls, 1, `"test"}}`, `"test"} }`)),
		// The file: lines end with one LF, the last one included; no empty line, no BOM.
		{"NoFinalLF", bytes.TrimSuffix(good, []byte("\n")), 1, "malformed", 4},
		{"EndsAfterAnEventWithoutLF", joinLines(ls[:2])[:len(joinLines(ls[:2]))-1], 1, "malformed", 2},
		{"EndsAfterAnEvent", joinLines(ls[:2]), 1, "truncated", 3},
		{"EmptyLineBetweenEvents", joinLines(append(append([][]byte{ls[0]}, nil), ls[1:]...)), 1, "malformed", 2},
		{"EmptyLineAfterHead", append(append([]byte{}, good...), '\n'), 1, "malformed", 4},
		{"EmptyFirstLine", append([]byte("\n"), good...), 1, "malformed", 1},
		{"ByteOrderMark", append([]byte("\xef\xbb\xbf"), good...), 1, "malformed", 1},
		bad("ByteOrderMarkOnLine2", withLine(ls, 1, append([]byte("\xef\xbb\xbf"), ls[1]...))),
		// Keys: these, each once, in this order, this case.
		bad("DuplicateKey", editLine(ls, 1, `"seq":2,`, `"seq":2,"seq":2,`)),
		bad("DuplicateKeyOtherValue", editLine(ls, 1, `"seq":2,`, `"seq":1,"seq":2,`)),
		bad("KeysReordered", editLine(ls, 1, `"seq":2,"event_id":"0190f5c2-7a4b-7c3d-9e8f-000000000002"`, `"event_id":"0190f5c2-7a4b-7c3d-9e8f-000000000002","seq":2`)),
		bad("UppercaseKey", editLine(ls, 1, `"type":`, `"Type":`)),
		bad("ExtraKey", editLine(ls, 1, `,"hash":`, `,"x":null,"hash":`)),
		bad("EscapedKey", editLine(ls, 1, `"type":`, `"typ\u0065":`)),
		// Numbers: encoding/json's decimal for an integer, nothing else.
		bad("SeqWithFraction", editLine(ls, 1, `"seq":2,`, `"seq":2.0,`)),
		bad("SeqWithExponent", editLine(ls, 1, `"seq":2,`, `"seq":2e0,`)),
		bad("SeqWithUppercaseExponent", editLine(ls, 1, `"seq":2,`, `"seq":0.2E1,`)),
		bad("SeqWithLeadingZero", editLine(ls, 1, `"seq":2,`, `"seq":02,`)),
		bad("SeqWithPlus", editLine(ls, 1, `"seq":2,`, `"seq":+2,`)),
		bad("SeqAsString", editLine(ls, 1, `"seq":2,`, `"seq":"2",`)),
		bad("StreamVersionWithFraction", editLine(ls, 1, `"stream_version":2,`, `"stream_version":2.00,`)),
		bad("StreamVersionWithNegativeExponent", editLine(ls, 1, `"stream_version":2,`, `"stream_version":20e-1,`)),
		bad("SchemaVersionMinusZero", editLine(ls, 1, `"schema_version":0,`, `"schema_version":-0,`)),
		bad("SchemaVersionZeroFraction", editLine(ls, 1, `"schema_version":0,`, `"schema_version":0.0,`)),
		bad("SchemaVersionZeroExponent", editLine(ls, 1, `"schema_version":0,`, `"schema_version":0e0,`)),
		bad("SchemaVersionFalse", editLine(ls, 1, `"schema_version":0,`, `"schema_version":false,`)),
		// Hex and UUIDs: lowercase.
		bad("UppercaseHash", editLine(ls, 1, `"hash":"`+hashOf(t, ls[1]), `"hash":"`+strings.ToUpper(hashOf(t, ls[1])))),
		bad("UppercasePrevHash", editLine(ls, 1, `"prev_hash":"`+hashOf(t, ls[0]), `"prev_hash":"`+strings.ToUpper(hashOf(t, ls[0])))),
		bad("UppercaseEventID", editLine(ls, 1, `9e8f-000000000002","stream_id"`, `9E8F-000000000002","stream_id"`)),
		// Strings: encoding/json's escapes exactly.
		bad("EscapedLetterInType", editLine(ls, 1, `"type":"usage`, `"type":"\u0075sage`)),
		bad("EscapedNonASCIIInType", editLine(ls, 1, `"type":"usage.ré`, `"type":"usage.r\u00e9`)),
		bad("EscapedSolidus", editLine(ls, 1, `é/☃"`, `é\/☃"`)),
		bad("EscapedSurrogatePair", editLine(ls, 1, `☃"`, `\ud83d\ude00"`)),
		bad("UnescapedLessThan", editLine(ls, 1, `s\u003c`, `s<`)),
		bad("UnescapedAmpersand", editLine(ls, 1, `\u0026`, `&`)),
		bad("UnescapedLineSeparator", editLine(ls, 1, `\u2028`, "\u2028")),
		bad("UppercaseUnicodeEscape", editLine(ls, 1, `\u003c`, `\u003C`)),
		bad("QuoteAsUnicodeEscape", editLine(ls, 1, `\"\\`, `\u0022\\`)),
		bad("BackslashAsUnicodeEscape", editLine(ls, 1, `\"\\`, `\"\u005c`)),
		bad("ControlAsShortEscape", editLine(ls, 1, `\u0001\b`, `\u0001\u0008`)),
		bad("NewlineAsUnicodeEscape", editLine(ls, 1, `\f\n`, `\f\u000a`)),
		bad("DeleteEscaped", editLine(ls, 1, "\x7f", `\u007f`)),
		bad("LoneSurrogate", editLine(ls, 1, `☃"`, `\ud800"`)),
		bad("RawControlCharacter", editLine(ls, 1, `\u0001`, "\x01")),
		bad("NULInType", editLine(ls, 1, `"type":"usage`, "\"type\":\"\x00usage")),
		bad("NULBetweenFields", editLine(ls, 1, `,"type":`, ",\x00\"type\":")),
		bad("NULInData", editLine(ls, 1, `"x\"y"`, "\"x\x00y\"")),
		bad("InvalidUTF8InType", editLine(ls, 1, `"type":"usage`, "\"type\":\"\xffusage")),
		bad("InvalidUTF8InData", editLine(ls, 1, `"x\"y"`, "\"x\xc3y\"")),
		bad("SurrogateInUTF8", editLine(ls, 1, `"x\"y"`, "\"x\xed\xa0\x80y\"")),
		bad("OverlongUTF8", editLine(ls, 1, `"type":"usage`, "\"type\":\"\xc1\xb5sage")),
		// recorded_at: encoding/json's spelling of a UTC time in whole microseconds.
		{"FractionWithTrailingZero", editLine(ls, 0, `00.12Z"`, `00.120Z"`), 1, "malformed", 1},
		{"FractionOf6Digits", editLine(ls, 0, `00.12Z"`, `00.120000Z"`), 1, "malformed", 1},
		{"FractionOf9Digits", editLine(ls, 0, `00.12Z"`, `00.120000000Z"`), 1, "malformed", 1},
		{"ZeroFraction", editLine(ls, 2, `03Z"`, `03.0Z"`), 1, "malformed", 3},
		{"ZeroFractionOf6Digits", editLine(ls, 2, `03Z"`, `03.000000Z"`), 1, "malformed", 3},
		bad("PlusZeroOffset", editLine(ls, 1, `.123456Z"`, `.123456+00:00"`)),
		bad("LowercaseZ", editLine(ls, 1, `.123456Z"`, `.123456z"`)),
		bad("LowercaseT", editLine(ls, 1, `25T10:00:01`, `25t10:00:01`)),
		bad("SpaceForT", editLine(ls, 1, `25T10:00:01`, `25 10:00:01`)),
		bad("CommaFraction", editLine(ls, 1, `01.123456Z"`, `01,123456Z"`)),
		bad("NanosecondFraction", editLine(ls, 1, `01.123456Z"`, `01.123456001Z"`)),
		bad("Hour24", editLine(ls, 1, `T10:00:01`, `T24:00:01`)),
		bad("LeapSecond", editLine(ls, 1, `T10:00:01`, `T10:00:60`)),
		bad("February30", editLine(ls, 1, `2026-11-25T10:00:01`, `2026-02-30T10:00:01`)),
		// data and metadata: one JSON object each, from { to }, at most 256 deep.
		bad("DataNotAnObject", editLine(ls, 1, `,"data":{"n": [1, {"b": "x\"y"}], "q": 1.0}`, `,"data":[1]`)),
		bad("DataTwoObjects", editLine(ls, 1, `,"data":{"n": [1, {"b": "x\"y"}], "q": 1.0}`, `,"data":{} {}`)),
		bad("DataNaN", editLine(ls, 1, `"q": 1.0`, `"q": NaN`)),
		bad("DataTrailingComma", editLine(ls, 1, `"q": 1.0`, `"q": 1.0,`)),
		bad("DataSingleQuotes", editLine(ls, 1, `"q": 1.0`, `'q': 1.0`)),
		valueCase("DataNestedAtTheLimit", 0, func(e *eventstore.Event) { e.Data = nested(255) }),
		valueCase("DataNestedBeyondTheLimit", 1, func(e *eventstore.Event) { e.Data = nested(256) }),
		valueCase("DataNestedFarBeyondTheLimit", 1, func(e *eventstore.Event) { e.Data = nested(5000) }),
		valueCase("DataManyBracketsShallow", 0, func(e *eventstore.Event) {
			e.Data = []byte(`{"a": [` + strings.Repeat(`[], {}, "[[{{", `, 300) + `1]}`)
		}),
		valueCase("DataHugeInteger", 0, func(e *eventstore.Event) { e.Data = []byte(`{"n": ` + strings.Repeat("9", 5000) + `}`) }),
		valueCase("DataHugeExponent", 0, func(e *eventstore.Event) { e.Data = []byte(`{"n": 1e999999, "m": -0}`) }),
		valueCase("DataDuplicateKeys", 0, func(e *eventstore.Event) { e.Data = []byte(`{"a": 1, "a": 2}`) }),
		valueCase("DataLoneSurrogateEscape", 0, func(e *eventstore.Event) { e.Data = []byte(`{"a": "\ud800"}`) }),
		valueCase("DataCompact", 0, func(e *eventstore.Event) { e.Data = []byte(`{"a":[1,2]}`) }),
		valueCase("DataLeadingSpace", 1, func(e *eventstore.Event) { e.Data = []byte(` {"a": 1}`) }),
		valueCase("MetadataTrailingNewlineEscape", 0, func(e *eventstore.Event) { e.Metadata = []byte(`{"a": "\n"}`) }),
		valueCase("MetadataTrailingSpace", 1, func(e *eventstore.Event) { e.Metadata = []byte(`{"a": 1} `) }),
		// Values the exporter writes are accepted whatever they hold.
		valueCase("EmptyStreamID", 0, func(e *eventstore.Event) { e.StreamID, e.Type = "", "" }),
		valueCase("NegativeStreamVersion", 0, func(e *eventstore.Event) { e.StreamVersion, e.SchemaVersion = -1, -1<<31 }),
		valueCase("LeastInt64StreamVersion", 0, func(e *eventstore.Event) { e.StreamVersion = -1 << 63 }),
		valueCase("GreatestInt64StreamVersion", 0, func(e *eventstore.Event) { e.StreamVersion = 1<<63 - 1 }),
		bad("StreamVersionBeyondInt64", editLine(ls, 1, `"stream_version":2,`, `"stream_version":9223372036854775808,`)),
		bad("StreamVersionBelowInt64", editLine(ls, 1, `"stream_version":2,`, `"stream_version":-9223372036854775809,`)),
		bad("SchemaVersionBeyondInt32", editLine(ls, 1, `"schema_version":0,`, `"schema_version":2147483648,`)),
		valueCase("YearZero", 0, func(e *eventstore.Event) { e.RecordedAt = time.Date(0, 1, 1, 0, 0, 0, 1000, time.UTC) }),
	}
}

func lines(file []byte) [][]byte {
	return bytes.Split(bytes.TrimSuffix(file, []byte("\n")), []byte("\n"))
}

// hashOf is an event line's hash field.
func hashOf(t *testing.T, line []byte) string {
	t.Helper()
	i := bytes.Index(line, []byte(`,"hash":"`))
	require.GreaterOrEqual(t, i, 0)
	return string(line[i+9 : i+9+64])
}

// nested is a JSON object with depth levels of arrays inside it (depth+1 levels in all).
func nested(depth int) []byte {
	return []byte(`{"a": ` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`)
}

// Every way of writing an event line or the file otherwise than the exporter does, and the
// limits of data and metadata: the Go and the Python verifier give the same verdict and exit
// status, the one AUDIT.md ("Event lines", "The export file") gives.
func TestAuditVerify_BothVerifiersAgreeOnEveryEventLineSpelling(t *testing.T) {
	s, err := auditlog.ParseSigningKey(strings.Repeat("5e", 32))
	require.NoError(t, err)
	pub := hex.EncodeToString(s.PublicKey())
	dir := t.TempDir()
	cases := eventLineCases(t, s)
	// A line longer than the limit leaves no verdict (AUDIT.md section 3, "Inputs").
	ls := eventExport(t, s, nil)
	long := editLine(ls, 1, `"q": 1.0`, `"q": "`+strings.Repeat("x", audit.MaxLine)+`"`)
	cases = append(cases, eventLineCase{"LineBeyondTheLimit", long, 2, "", 0})
	// The first problem in file order decides, as for a verifier that reads line by line.
	longAfterBad := joinLines([][]byte{ls[0], append([]byte(" "), ls[1]...), lines(long)[1], ls[3]})
	cases = append(cases, eventLineCase{"MalformedLineBeforeALineBeyondTheLimit", longAfterBad, 1, "malformed", 2})
	longAfterHead := append(joinLines(ls), lines(long)[1]...)
	cases = append(cases, eventLineCase{"HeadBeforeALineBeyondTheLimit", longAfterHead, 2, "", 0})
	badHeadThenLong := append(joinLines(append(ls[:3:3], bytes.Replace(ls[3], []byte(`"seq":3`), []byte(`"seq":03`), 1))), lines(long)[1]...)
	cases = append(cases, eventLineCase{"MalformedHeadBeforeALineBeyondTheLimit", badHeadThenLong, 1, "malformed", 4})
	var calls [][]string
	var want []eventLineCase
	for _, tc := range cases {
		file := write(t, dir, tc.name+".ndjson", tc.file)
		for _, key := range [][]string{nil, {"--public-key", pub}} {
			calls = append(calls, append([]string{file}, key...))
			want = append(want, tc)
		}
	}
	py := pyVerifyAll(t, calls)
	for i, call := range calls {
		tc := want[i]
		name := fmt.Sprintf("%s key=%v", tc.name, len(call) > 1)
		g := goVerify(t, append([]string{"--file"}, call...)...)
		requireAgree(t, name, g, py[i])
		require.Equal(t, tc.code, g.Code, "%s: %s", name, g.Stdout)
		if tc.code == 1 {
			require.Equal(t, tc.problem, g.Report["problem"], "%s: %s", name, g.Stdout)
			require.Equal(t, tc.seq, g.Report["first_bad_seq"], "%s: %s", name, g.Stdout)
		}
	}
}

// boundaries are the positions in b next to its JSON punctuation, its start and its end.
func boundaries(b []byte) []int {
	at := []int{0, len(b)}
	for i, c := range b {
		if bytes.IndexByte([]byte(`{}[]:,"`), c) >= 0 {
			at = append(at, i, i+1)
		}
	}
	return at
}

// pyVerifyFiles runs verify_audit.verify on each export given in base64, without a public key,
// as main reads a file (one python3 process for all of them).
const pyVerifyFiles = `
import base64, io, json, sys
sys.path.insert(0, sys.argv[1])
import verify_audit
reps = []
for b in json.load(sys.stdin):
    reps.append(verify_audit.verify(verify_audit.bounded_lines(io.BytesIO(base64.b64decode(b)))))
json.dump(reps, sys.stdout)
`

// Thousands of random one- to three-byte edits of event lines, into bytes that matter to JSON,
// to the values and to the file's lines: the Go and the Python verifier give the same report.
func TestAuditVerify_BothVerifiersAgreeOnMutatedEventLines(t *testing.T) {
	s, err := auditlog.ParseSigningKey(strings.Repeat("5e", 32))
	require.NoError(t, err)
	ls := eventExport(t, s, nil)
	rng := rand.New(rand.NewPCG(13, 17))
	alphabet := []string{" ", "\t", "\r", "\n", "{", "}", "[", "]", ":", ",", `"`, `\`, "-", "+", ".", "0", "1", "2",
		"9", "e", "E", "a", "A", "f", "F", "z", "Z", "T", "u", "n", "l", "<", "&", "\x00", "\x7f", "\xff", "\xc3",
		"\xef\xbb\xbf", "\u2028", `\u00`, `\u0041`, `\/`, ".0", "e0", "-0", "00", `,"data":`, `,"metadata":`, `"seq":`}
	var files [][]byte
	for i := 0; i < 3000; i++ {
		line := 1 + rng.IntN(2) // the line with escapes, or the plain one after it
		if i%10 == 0 {
			line = 0
		}
		b := append([]byte(nil), ls[line]...)
		if i%4 == 0 { // JSON whitespace where JSON allows it: around the line and its tokens
			at := boundaries(b)[rng.IntN(len(boundaries(b)))]
			ws := []string{" ", "\t", "\r", "\n", "  ", "\r\n"}[rng.IntN(6)]
			files = append(files, withLine(ls, line, append(b[:at], append([]byte(ws), b[at:]...)...)))
			continue
		}
		for edits := 1 + rng.IntN(3); edits > 0; edits-- {
			at := rng.IntN(len(b) + 1)
			if rng.IntN(2) == 0 {
				at = boundaries(b)[rng.IntN(len(boundaries(b)))]
			}
			c := alphabet[rng.IntN(len(alphabet))]
			switch op := rng.IntN(3); {
			case op == 0 && at < len(b):
				b = append(b[:at], append([]byte(c), b[min(at+len(c), len(b)):]...)...)
			case op == 1 || at == len(b):
				b = append(b[:at], append([]byte(c), b[at:]...)...)
			default:
				b = append(b[:at], b[at+1:]...)
			}
		}
		file := withLine(ls, line, b)
		if i%50 == 0 {
			file = file[:len(file)-1] // and sometimes no final LF
		}
		files = append(files, file)
	}
	in := make([]string, len(files))
	for i, f := range files {
		in[i] = base64.StdEncoding.EncodeToString(f)
	}
	py, err := exec.LookPath("python3")
	require.NoError(t, err, "python3 is needed (the Makefile installs it)")
	payload, err := json.Marshal(in)
	require.NoError(t, err)
	cmd := exec.Command(py, "-c", pyVerifyFiles, filepath.Dir(verifyAuditPy))
	cmd.Stdin = bytes.NewReader(payload)
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	require.NoError(t, err, errOut.String())
	var pyReps []audit.Report
	require.NoError(t, json.Unmarshal(out, &pyReps))
	require.Len(t, pyReps, len(files))
	problems := map[string]int{}
	for i, f := range files {
		g, err := audit.Verify(bytes.NewReader(f), audit.VerifyOptions{})
		require.NoError(t, err)
		p := pyReps[i]
		g.Detail, p.Detail = "", ""
		require.Equal(t, g, p, "%q", f)
		problems[g.Problem]++
	}
	t.Logf("verdicts: %v", problems)
	require.Greater(t, problems["malformed"], 0)
	require.Greater(t, problems["hash"]+problems["numbering"]+problems["link"]+problems["tenant"], 0, "some edits keep a line well-formed")
}
