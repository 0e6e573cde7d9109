package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/eventstore"
)

// Problems a verifier reports (AUDIT.md section 3).
const (
	ProblemMalformed   = "malformed"
	ProblemTenant      = "tenant"
	ProblemNumbering   = "numbering"
	ProblemLink        = "link"
	ProblemHash        = "hash"
	ProblemTruncated   = "truncated"
	ProblemHead        = "head"
	ProblemSignature   = "signature"
	ProblemEarlierHead = "earlier_head"
)

// Report is a verifier's verdict, in the shape AUDIT.md gives.
type Report struct {
	OK          bool   `json:"ok"`
	TenantID    string `json:"tenant_id"`
	Events      int64  `json:"events"`
	HeadSeq     int64  `json:"head_seq"`
	HeadHash    string `json:"head_hash"`
	Signed      bool   `json:"signed"`
	FirstBadSeq int64  `json:"first_bad_seq"`
	Problem     string `json:"problem"`
	Detail      string `json:"detail"`
}

func (r *Report) fail(problem string, seq int64, format string, args ...any) Report {
	r.OK, r.Problem, r.FirstBadSeq, r.Detail = false, problem, seq, fmt.Sprintf(format, args...)
	return *r
}

// VerifyOptions are what the auditor brings: the published public key (without it the head
// signature is not checked) and a head published earlier that the history must extend.
type VerifyOptions struct {
	PublicKey ed25519.PublicKey
	Earlier   *Head
}

// MaxLine bounds one line of an export.
const MaxLine = 64 << 20

// fixedFields is an event line without data and metadata; pointers tell missing from zero.
type fixedFields struct {
	TenantID      *string `json:"tenant_id"`
	Seq           *int64  `json:"seq"`
	EventID       *string `json:"event_id"`
	StreamID      *string `json:"stream_id"`
	StreamVersion *int64  `json:"stream_version"`
	Type          *string `json:"type"`
	SchemaVersion *int32  `json:"schema_version"`
	RecordedAt    *string `json:"recorded_at"`
	PrevHash      *string `json:"prev_hash"`
	Hash          *string `json:"hash"`
}

var (
	dataSep = []byte(`,"data":`)
	metaSep = []byte(`,"metadata":`)
)

// Verify checks an export read from r without any database, per AUDIT.md section 3. The
// returned error is only for failing to read r; every problem with the content is in the
// Report.
//
// Lines are parsed and hashed in parallel (each line's hash depends only on its own
// fields), and the checks then run in file order, so the verdict is the sequential one.
func Verify(r io.Reader, opts VerifyOptions) (Report, error) {
	rep := Report{OK: true}
	quit := make(chan struct{})
	defer close(quit)
	batches := parseInParallel(r, quit)
	var prev [32]byte
	var tenant uuid.UUID
	var last int64
	var atEarlier [32]byte // the hash at the earlier head's seq, when the walk passes it
	var head []byte
	for b := range batches {
		<-b.done
		for i := range b.lines {
			l := &b.lines[i]
			if head != nil {
				return rep.fail(ProblemMalformed, last+1, "a line follows the head line"), nil
			}
			if b.unterminated && i == len(b.lines)-1 {
				return rep.fail(ProblemMalformed, last+1, "the file's last line does not end with \\n"), nil
			}
			if l.head {
				head = l.raw
				continue
			}
			want := last + 1
			e := &l.e
			if l.err != nil {
				return rep.fail(ProblemMalformed, want, "line %d: %v", want, l.err), nil
			}
			if last == 0 {
				tenant = e.TenantID
				rep.TenantID = tenant.String()
			} else if e.TenantID != tenant {
				return rep.fail(ProblemTenant, want, "line %d is tenant %s's event, not %s's", want, e.TenantID, tenant), nil
			}
			if e.Seq != want {
				return rep.fail(ProblemNumbering, want, "line %d has seq %d", want, e.Seq), nil
			}
			if e.PrevHash != prev {
				return rep.fail(ProblemLink, e.Seq, "prev_hash is not the hash of seq %d", e.Seq-1), nil
			}
			if l.computed != e.Hash {
				return rep.fail(ProblemHash, e.Seq, "the hash of the event's content is %x", l.computed), nil
			}
			prev, last = e.Hash, e.Seq
			rep.Events++
			if opts.Earlier != nil && opts.Earlier.Seq == e.Seq {
				atEarlier = e.Hash
			}
		}
		// Reading failed after these lines: a problem in them was the first, as it is for a
		// verifier that reads one line at a time, and so is a malformed head line (check 7
		// reads the head before looking for a line after it).
		if b.err != nil {
			if head != nil {
				if _, err := parseHead(head, true); err != nil {
					return rep.fail(ProblemMalformed, last+1, "the head line: %v", err), nil
				}
			}
			return rep, b.err
		}
	}
	if head == nil {
		return rep.fail(ProblemTruncated, last+1, "the file ends without a head line"), nil
	}
	return verifyHead(head, &rep, tenant, last, prev, atEarlier, opts)
}

// parsedLine is one line, parsed and hashed by a worker.
type parsedLine struct {
	raw      []byte
	head     bool
	e        eventstore.Event
	computed [32]byte
	err      error
}

type lineBatch struct {
	lines        []parsedLine
	done         chan struct{}
	err          error // reading failed after the lines before it
	unterminated bool  // the batch's last line is the file's last and has no "\n"
}

const batchLines = 512

// parseInParallel reads r's lines in batches that workers parse and hash; the batches come
// out in file order, each ready when its done channel closes.
func parseInParallel(r io.Reader, quit <-chan struct{}) <-chan *lineBatch {
	ordered := make(chan *lineBatch, 2*runtime.GOMAXPROCS(0))
	work := make(chan *lineBatch, 2*runtime.GOMAXPROCS(0))
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		go func() {
			for b := range work {
				for i := range b.lines {
					l := &b.lines[i]
					if IsHeadLine(l.raw) {
						l.head = true
						continue
					}
					if l.err = parseEventLine(l.raw, &l.e); l.err == nil {
						l.computed = eventstore.ChainHash(l.e.PrevHash, &l.e)
					}
				}
				close(b.done)
			}
		}()
	}
	go func() {
		defer close(ordered)
		defer close(work)
		br := bufio.NewReaderSize(r, 1<<20)
		for {
			b := &lineBatch{done: make(chan struct{})}
			var arena []byte
			var ends []int
			var err error
			for len(ends) < batchLines {
				var line []byte
				var lf bool
				if line, lf, err = readLine(br); err != nil {
					break
				}
				arena = append(arena, line...)
				ends = append(ends, len(arena))
				if !lf {
					b.unterminated = true
					err = io.EOF
					break
				}
			}
			b.lines = make([]parsedLine, len(ends))
			start := 0
			for i, end := range ends {
				b.lines[i].raw = arena[start:end:end]
				start = end
			}
			if err != nil && err != io.EOF {
				b.err = err
			}
			select {
			case ordered <- b:
			case <-quit:
				return
			}
			select {
			case work <- b:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ordered
}

// readLine reads one line without its "\n"; lf is false for a last line that has none.
func readLine(br *bufio.Reader) (line []byte, lf bool, err error) {
	line, err = br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		whole := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull && len(whole) <= MaxLine {
			line, err = br.ReadSlice('\n')
			whole = append(whole, line...)
		}
		if len(whole) > MaxLine {
			return nil, false, fmt.Errorf("a line exceeds %d bytes", MaxLine)
		}
		line = whole
	}
	if err == io.EOF && len(line) > 0 {
		return line, false, nil // a last line without "\n": malformed, but it names a seq
	}
	if err != nil {
		return nil, false, err
	}
	return line[:len(line)-1], true, nil
}

// parseEventLine reads one event line into e, taking data and metadata as raw bytes.
func parseEventLine(line []byte, e *eventstore.Event) error {
	return parseEventLineVia(line, e, true)
}

// parseEventLineVia is parseEventLine; withFast false skips the fast path (fastFixed), so
// that its benchmark can weigh it against the plain path alone.
func parseEventLineVia(line []byte, e *eventstore.Event, withFast bool) error {
	if len(line) == 0 || line[0] != '{' || line[len(line)-1] != '}' || !utf8.Valid(line) {
		return errors.New("not a JSON object in UTF-8")
	}
	d := bytes.Index(line, dataSep)
	m := bytes.Index(line, metaSep)
	if d < 0 || m < d || bytes.Count(line, dataSep) != 1 || bytes.Count(line, metaSep) != 1 {
		return errors.New(`data and metadata are not where AUDIT.md puts them`)
	}
	// In Tenantry's own layout (fastFixed) the line is valid JSON exactly when data and
	// metadata are, which is checked below; any other layout is validated whole.
	var f fixedFields
	fast := withFast && fastFixed(line[:d], &f)
	if !fast {
		if !json.Valid(line) {
			return errors.New("not a JSON object in UTF-8")
		}
		if err := strictFixed(append(append([]byte(nil), line[:d]...), '}'), &f); err != nil {
			return err
		}
	}
	if f.TenantID == nil || f.Seq == nil || f.EventID == nil || f.StreamID == nil || f.StreamVersion == nil ||
		f.Type == nil || f.SchemaVersion == nil || f.RecordedAt == nil || f.PrevHash == nil || f.Hash == nil {
		return errors.New("a field is missing")
	}
	var err error
	if e.TenantID, err = canonicalUUID(*f.TenantID); err != nil {
		return fmt.Errorf("tenant_id: %v", err)
	}
	if e.ID, err = canonicalUUID(*f.EventID); err != nil {
		return fmt.Errorf("event_id: %v", err)
	}
	if e.RecordedAt, err = parseMicros(*f.RecordedAt); err != nil {
		return fmt.Errorf("recorded_at: %v", err)
	}
	if at := *f.RecordedAt; !canonicalFraction(at) {
		return fmt.Errorf("recorded_at: %q is not as the exporter writes it (a fraction only when not zero, without trailing zeros)", at)
	}
	if e.PrevHash, err = parseHash(*f.PrevHash); err != nil {
		return fmt.Errorf("prev_hash: %v", err)
	}
	if e.Hash, err = parseHash(*f.Hash); err != nil {
		return fmt.Errorf("hash: %v", err)
	}
	e.Seq, e.StreamID, e.StreamVersion, e.Type, e.SchemaVersion = *f.Seq, *f.StreamID, *f.StreamVersion, *f.Type, int(*f.SchemaVersion)
	e.Data = line[d+len(dataSep) : m]
	e.Metadata = line[m+len(metaSep) : len(line)-1]
	if !isObject(e.Data) || !isObject(e.Metadata) {
		return fmt.Errorf("data and metadata must each be a JSON object from { to }, nested at most %d deep", MaxDepth)
	}
	// The fast path takes only Tenantry's own layout and spellings (fastFixed); any other line
	// must still be, byte for byte, what the exporter writes for the values it holds.
	if !fast {
		want, err := appendFixed(nil, e)
		if err != nil || !bytes.Equal(want, line[:d]) {
			return errors.New("the fields before data are not written as the exporter writes them (AUDIT.md, \"Event lines\")")
		}
	}
	return nil
}

// MaxDepth bounds how deep data and metadata nest (AUDIT.md, "Event lines"), so that every
// verifier, however it parses JSON, can read what it accepts.
const MaxDepth = 256

// isObject reports whether b is one JSON object, from its "{" to its "}" with nothing around
// them, nested at most MaxDepth deep.
func isObject(b []byte) bool {
	return len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}' && withinDepth(b) && json.Valid(b)
}

// withinDepth reports whether the JSON text b nests objects and arrays at most MaxDepth deep.
// Text with no more brackets than that cannot nest deeper, so a full scan is rarely needed.
func withinDepth(b []byte) bool {
	if bytes.Count(b, []byte("{"))+bytes.Count(b, []byte("[")) <= MaxDepth {
		return true
	}
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if depth++; depth > MaxDepth {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

// eventFields are an event line's fields before data and metadata, in their order.
var eventFields = []string{"tenant_id", "seq", "event_id", "stream_id", "stream_version", "type",
	"schema_version", "recorded_at", "prev_hash", "hash"}

// strictFixed reads the fixed fields of an event line laid out in any other way than
// fastFixed takes: exactly these keys, each once, in this order, strings that are valid
// Unicode and integers written as integers, as AUDIT.md requires.
func strictFixed(b []byte, f *fixedFields) error {
	vals, err := strictObject(b, eventFields, true)
	if err != nil {
		return err
	}
	strs := map[string]**string{"tenant_id": &f.TenantID, "event_id": &f.EventID, "stream_id": &f.StreamID,
		"type": &f.Type, "recorded_at": &f.RecordedAt, "prev_hash": &f.PrevHash, "hash": &f.Hash}
	for k, dst := range strs {
		v, err := strictString(vals[k])
		if err != nil {
			return fmt.Errorf("%s: %v", k, err)
		}
		*dst = &v
	}
	seq, err := strictInt(vals["seq"], 64)
	if err != nil {
		return fmt.Errorf("seq: %v", err)
	}
	sv, err := strictInt(vals["stream_version"], 64)
	if err != nil {
		return fmt.Errorf("stream_version: %v", err)
	}
	schema, err := strictInt(vals["schema_version"], 32)
	if err != nil {
		return fmt.Errorf("schema_version: %v", err)
	}
	s32 := int32(schema)
	f.Seq, f.StreamVersion, f.SchemaVersion = &seq, &sv, &s32
	return nil
}

// strictObject reads one JSON object with exactly the keys given, each once (in that order
// when ordered), and returns their raw values.
func strictObject(b []byte, keys []string, ordered bool) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	vals := map[string]json.RawMessage{}
	for i := 0; dec.More(); i++ {
		t, err := dec.Token()
		if err != nil {
			return nil, errors.New("not a JSON object")
		}
		k, _ := t.(string)
		if !want[k] || vals[k] != nil || (ordered && (i >= len(keys) || keys[i] != k)) {
			return nil, fmt.Errorf("the fields must be exactly %s, each once%s", strings.Join(keys, ", "),
				map[bool]string{true: ", in that order", false: ""}[ordered])
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errors.New("not a JSON object")
		}
		vals[k] = raw
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') || len(vals) != len(keys) {
		return nil, fmt.Errorf("the fields must be exactly %s", strings.Join(keys, ", "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not one JSON object")
	}
	return vals, nil
}

// strictString decodes a JSON string, refusing one with an escaped lone surrogate (it has no
// UTF-8 form; encoding/json would quietly make it U+FFFD).
func strictString(raw json.RawMessage) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	for i := 0; i+5 < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++ // an escaped character: skip it
			continue
		}
		r := hexRune(raw[i+2 : i+6])
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if i+11 >= len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
				return "", errors.New("not valid Unicode (a lone surrogate)")
			}
			if lo := hexRune(raw[i+8 : i+12]); lo < 0xDC00 || lo > 0xDFFF {
				return "", errors.New("not valid Unicode (a lone surrogate)")
			}
			i += 11
		case r >= 0xDC00 && r <= 0xDFFF:
			return "", errors.New("not valid Unicode (a lone surrogate)")
		default:
			i += 5
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errors.New("not a string")
	}
	return s, nil
}

func hexRune(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}

// strictInt decodes a JSON integer (no fraction or exponent) that fits in bits.
func strictInt(raw json.RawMessage, bits int) (int64, error) {
	p := fastParser{b: raw, ok: true}
	n := p.int()
	if !p.ok || p.i != len(raw) {
		return 0, errors.New("not an integer")
	}
	if bits == 32 && (n < -1<<31 || n > 1<<31-1) {
		return 0, errors.New("out of range")
	}
	return n, nil
}

// canonicalUUID accepts only the lowercase hyphenated form.
func canonicalUUID(s string) (uuid.UUID, error) {
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return uuid.Nil, fmt.Errorf("%q is not a lowercase hyphenated UUID", s)
	}
	return u, nil
}

// parseHash accepts 64 lowercase hex digits.
func parseHash(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 || strings.ToLower(s) != s {
		return h, fmt.Errorf("%q is not 64 lowercase hex digits", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("%q is not 64 lowercase hex digits", s)
	}
	return h, nil
}

// parseMicros accepts RFC 3339 in UTC ("Z") holding a whole number of microseconds.
func parseMicros(s string) (time.Time, error) {
	if !rfc3339UTC(s) {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time in UTC", s)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time in UTC", s)
	}
	if t.Nanosecond()%1000 != 0 {
		return time.Time{}, fmt.Errorf("%q is not a whole number of microseconds", s)
	}
	return t, nil
}

// rfc3339UTC matches YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits, then Z.
// canonicalFraction reports, for a time parseMicros took, whether its fraction is spelled as
// encoding/json writes it (time.RFC3339Nano): present only when not zero, without trailing
// zeros. parseMicros took a whole number of microseconds, so a fraction ending in a digit
// other than 0 has at most 6 digits.
func canonicalFraction(s string) bool {
	return len(s) == len("2006-01-02T15:04:05Z") || s[len(s)-2] != '0'
}

func rfc3339UTC(s string) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(s) < len(layout)+1 || s[len(s)-1] != 'Z' {
		return false
	}
	for i := 0; i < len(layout); i++ {
		if c := s[i]; layout[i] == 'd' && (c < '0' || c > '9') || layout[i] != 'd' && c != layout[i] {
			return false
		}
	}
	frac := s[len(layout) : len(s)-1]
	if frac == "" {
		return true
	}
	if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
		return false
	}
	for _, c := range frac[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// verifyHead runs checks 7 to 15 on the head line.
func verifyHead(line []byte, rep *Report, tenant uuid.UUID, last int64, lastHash, atEarlier [32]byte, opts VerifyOptions) (Report, error) {
	head, err := parseHead(line, true)
	if err != nil {
		return rep.fail(ProblemMalformed, last+1, "the head line: %v", err), nil
	}
	id := head.TenantID
	var hash [32]byte
	_, _ = hex.Decode(hash[:], []byte(head.Hash)) // 64 lowercase hex digits: parseHead checked
	rep.HeadSeq, rep.HeadHash = head.Seq, head.Hash
	if last == 0 {
		rep.TenantID = id.String()
	} else if id != tenant {
		return rep.fail(ProblemTenant, last+1, "the head is tenant %s's", id), nil
	}
	switch {
	case head.Seq > last:
		return rep.fail(ProblemTruncated, last+1, "the head is at seq %d but the events end at %d", head.Seq, last), nil
	case head.Seq < last:
		return rep.fail(ProblemHead, head.Seq+1, "events follow the head's seq %d", head.Seq), nil
	case hash != lastHash:
		return rep.fail(ProblemHead, last, "the head's hash is not seq %d's", last), nil
	}
	if opts.PublicKey != nil {
		if err := head.Verify(opts.PublicKey); err != nil {
			return rep.fail(ProblemSignature, head.Seq, "head: %v", err), nil
		}
		rep.Signed = true
	}
	if opts.Earlier != nil {
		return verifyEarlier(rep, id, last, atEarlier, opts)
	}
	return *rep, nil
}

// isHex reports whether s is lowercase hex digits only.
func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// verifyEarlier runs checks 12 to 15: the history extends the earlier head.
func verifyEarlier(rep *Report, tenant uuid.UUID, last int64, atEarlier [32]byte, opts VerifyOptions) (Report, error) {
	h := opts.Earlier
	if opts.PublicKey != nil {
		if err := h.Verify(opts.PublicKey); err != nil {
			return rep.fail(ProblemSignature, h.Seq, "earlier head: %v", err), nil
		}
	}
	if h.TenantID != tenant {
		return rep.fail(ProblemTenant, h.Seq, "the earlier head is tenant %s's", h.TenantID), nil
	}
	if h.Seq > last {
		return rep.fail(ProblemTruncated, last+1, "the earlier head is at seq %d but the events end at %d", h.Seq, last), nil
	}
	if hex.EncodeToString(atEarlier[:]) != h.Hash { // at seq 0: the zeros of no events
		return rep.fail(ProblemEarlierHead, h.Seq, "seq %d's hash is not the one the earlier head published: the history was rewritten", h.Seq), nil
	}
	return *rep, nil
}

// fastFixed reads the fixed fields when they are laid out exactly as Tenantry writes them
// (that order, no spaces, strings without escapes); anything else returns false and takes
// encoding/json's path, which reads the same values. It exists for speed only.
func fastFixed(b []byte, f *fixedFields) bool {
	p := fastParser{b: b, ok: true}
	p.lit(`{"tenant_id":`)
	tenant := p.str()
	p.lit(`,"seq":`)
	seq := p.int()
	p.lit(`,"event_id":`)
	event := p.str()
	p.lit(`,"stream_id":`)
	stream := p.str()
	p.lit(`,"stream_version":`)
	sv := p.int()
	p.lit(`,"type":`)
	typ := p.str()
	p.lit(`,"schema_version":`)
	schema := p.int()
	p.lit(`,"recorded_at":`)
	at := p.str()
	p.lit(`,"prev_hash":`)
	prev := p.str()
	p.lit(`,"hash":`)
	hash := p.str()
	if !p.ok || p.i != len(b) || schema < -1<<31 || schema > 1<<31-1 {
		return false
	}
	s32 := int32(schema)
	*f = fixedFields{TenantID: &tenant, Seq: &seq, EventID: &event, StreamID: &stream, StreamVersion: &sv,
		Type: &typ, SchemaVersion: &s32, RecordedAt: &at, PrevHash: &prev, Hash: &hash}
	return true
}

// notPlain marks the bytes of a string that encoding/json writes escaped (controls, the
// backslash, <, > and &) and 0xE2, the first byte of U+2028 and U+2029, which it escapes
// too: fastParser.str leaves such strings, escaped or not, to the plain path's exact
// comparison.
var notPlain = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for _, c := range []byte{'\\', '<', '>', '&', 0xE2} {
		t[c] = true
	}
	return t
}()

type fastParser struct {
	b  []byte
	i  int
	ok bool
}

func (p *fastParser) lit(s string) {
	if !p.ok || !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.ok = false
		return
	}
	p.i += len(s)
}

// str reads a JSON string that encoding/json writes without escapes.
func (p *fastParser) str() string {
	if !p.ok || p.i >= len(p.b) || p.b[p.i] != '"' {
		p.ok = false
		return ""
	}
	j := p.i + 1
	for j < len(p.b) && p.b[j] != '"' {
		if c := p.b[j]; notPlain[c] && (c != 0xE2 || j+2 < len(p.b) && p.b[j+1] == 0x80 && (p.b[j+2] == 0xA8 || p.b[j+2] == 0xA9)) {
			p.ok = false
			return ""
		}
		j++
	}
	if j >= len(p.b) {
		p.ok = false
		return ""
	}
	s := string(p.b[p.i+1 : j])
	p.i = j + 1
	return s
}

// int reads an integer as encoding/json writes an int64: an optional minus sign, no leading
// zero, no "-0".
func (p *fastParser) int() int64 {
	if !p.ok {
		return 0
	}
	j, neg := p.i, false
	if j < len(p.b) && p.b[j] == '-' {
		neg, j = true, j+1
	}
	start := j
	limit := uint64(1<<63 - 1) // -2^63 fits an int64 too
	if neg {
		limit++
	}
	var n uint64
	for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
		if n > (limit-uint64(p.b[j]-'0'))/10 {
			p.ok = false
			return 0
		}
		n = n*10 + uint64(p.b[j]-'0')
		j++
	}
	if j == start || (p.b[start] == '0' && (j-start > 1 || neg)) {
		p.ok = false
		return 0
	}
	p.i = j
	if neg {
		return int64(-n)
	}
	return int64(n)
}
