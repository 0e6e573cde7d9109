package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tenantry/tenantry/domain"
)

// ParseRecordJSON parses and validates one record as the HTTP API receives it:
//
//	{"metric": "api_calls", "quantity": 12, "occurred_at": "2025-01-02T03:04:05Z", "idempotency_key": "k-1"}
//
// It is strict so that a client's mistake is reported rather than guessed at:
// keys must be spelled exactly and appear once, unknown keys and trailing data
// are rejected, quantity must be a JSON integer (not a string, fraction or
// exponent) and occurred_at an RFC 3339 string with a zone. occurred_at may be
// omitted, meaning now. The result has passed NewRecord.
func ParseRecordJSON(data []byte, now time.Time) (Recorded, error) {
	return ParseRecordJSONFor(data, now, nil)
}

// ParseRecordJSONFor is ParseRecordJSON for metrics defined by defs (nil: none is): a
// record's quantity may carry up to its metric's Scale decimal places ("1.25"), and an
// undeclared metric's quantity is a whole number, exactly as ParseRecordJSON reads it.
func ParseRecordJSONFor(data []byte, now time.Time, defs Definitions) (Recorded, error) {
	if r, ok := parseRecordPlain(data, now, defs); ok {
		return r, nil
	}
	return parseRecordTokens(data, now, defs)
}

// scaleOf is how many decimal places a record of metric may carry under defs.
func scaleOf(defs Definitions, metric Metric) int {
	if metric.IsZero() {
		return 0
	}
	return DefinitionOf(defs, metric).Scale
}

// parseRecordPlain is ParseRecordJSON's fast path for the common record: valid JSON, keys and
// strings without escapes, no key twice. It accepts a record only when parseRecordTokens
// would accept it and return the same; anything else (every mistake included) is left to
// parseRecordTokens, which says what is wrong.
func parseRecordPlain(data []byte, now time.Time, defs Definitions) (Recorded, bool) {
	if !json.Valid(data) {
		return Recorded{}, false
	}
	return walkRecord(data, now, defs)
}

// walkRecord is parseRecordPlain on data already known to be valid JSON.
func walkRecord(data []byte, now time.Time, defs Definitions) (Recorded, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return Recorded{}, false
	}
	var (
		metric   Metric
		quantity string // read once the metric (and so its scale) is known
		key      IdempotencyKey
		occurred = now
		seen     [4]bool // metric, quantity, occurred_at, idempotency_key
		err      error
	)
	i = skipSpace(data, i+1)
	for i < len(data) && data[i] == '"' {
		name, next, ok := plainString(data, i)
		if !ok {
			return Recorded{}, false
		}
		i = skipSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return Recorded{}, false
		}
		i = skipSpace(data, i+1)
		field := -1
		switch name {
		case "metric":
			field = 0
		case "quantity":
			field = 1
		case "occurred_at":
			field = 2
		case "idempotency_key":
			field = 3
		}
		if field < 0 || seen[field] {
			return Recorded{}, false
		}
		seen[field] = true
		if field == 1 { // a JSON number: up to the next separator
			end := i
			for end < len(data) && strings.IndexByte("-+.0123456789eE", data[end]) >= 0 {
				end++
			}
			quantity = string(data[i:end])
			i = end
		} else {
			v, next, ok := plainString(data, i)
			if !ok {
				return Recorded{}, false
			}
			switch field {
			case 0:
				metric, err = ParseMetric(v)
			case 2:
				occurred, err = time.Parse(time.RFC3339Nano, v)
			case 3:
				key, err = ParseIdempotencyKey(v)
			}
			if err != nil {
				return Recorded{}, false
			}
			i = next
		}
		i = skipSpace(data, i)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	// Valid JSON: what remains is the closing brace and space.
	if i >= len(data) || data[i] != '}' || skipSpace(data, i+1) != len(data) || !seen[0] || !seen[1] || !seen[3] {
		return Recorded{}, false
	}
	q, err := ParseQuantityScale(quantity, scaleOf(defs, metric))
	if err != nil {
		return Recorded{}, false
	}
	r, err := NewRecord(metric, q, occurred, key, now)
	return r, err == nil
}

// plainString reads the JSON string starting at data[i] if it has no escape and is valid
// UTF-8 (so its bytes are its value), and returns it and the index after it.
func plainString(data []byte, i int) (string, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return "", 0, false
	}
	end := bytes.IndexByte(data[i+1:], '"')
	if end < 0 {
		return "", 0, false
	}
	v := data[i+1 : i+1+end]
	if bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
		return "", 0, false
	}
	return string(v), i + 2 + end, true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// parseRecordTokens is ParseRecordJSON's full path: a token-by-token decode that names
// every invalid field of the record (domain.Invalids when more than one); a record that is
// not a JSON object is refused with one error.
func parseRecordTokens(data []byte, now time.Time, defs Definitions) (Recorded, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Recorded{}, domain.Invalid("", "usage record must be a JSON object")
	}
	var (
		metric   Metric
		quantity Quantity
		rawQty   string // read once the metric (and so its scale) is known
		qtyAt    int    // where in errs a quantity error goes: the order fields came in
		key      IdempotencyKey
		occurred = now
		seen     = make(map[string]bool, 4)
		errs     domain.Invalids
	)
	bad := func(err error) {
		var de *domain.Error
		if !errors.As(err, &de) {
			de = domain.Invalid("", "%s", err.Error())
		}
		errs = append(errs, de)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Recorded{}, domain.Invalid("", "usage record is not valid JSON")
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return Recorded{}, domain.Invalid("", "usage record is not valid JSON")
		}
		if seen[name] {
			bad(domain.Invalid(name, "%s is given more than once", name))
			continue
		}
		seen[name] = true
		switch name {
		case "metric":
			s, err := jsonString(raw, name)
			if err == nil {
				metric, err = ParseMetric(s)
			}
			if err != nil {
				bad(err)
			}
		case "quantity":
			rawQty, qtyAt = string(raw), len(errs)
		case "occurred_at":
			s, err := jsonString(raw, name)
			if err == nil {
				if occurred, err = time.Parse(time.RFC3339Nano, s); err != nil {
					err = domain.Invalid(name, "occurred_at must be an RFC 3339 timestamp with a zone, like 2025-01-02T03:04:05Z")
				}
			}
			if err != nil {
				bad(err)
			}
		case "idempotency_key":
			s, err := jsonString(raw, name)
			if err == nil {
				key, err = ParseIdempotencyKey(s)
			}
			if err != nil {
				bad(err)
			}
		default:
			bad(domain.Invalid("", "unknown field %q; use metric, quantity, occurred_at and idempotency_key", clip(name)))
		}
	}
	if _, err := dec.Token(); err != nil {
		return Recorded{}, domain.Invalid("", "usage record is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Recorded{}, domain.Invalid("", "usage record must be a single JSON object")
	}
	if seen["quantity"] {
		var err error
		if quantity, err = ParseQuantityScale(rawQty, scaleOf(defs, metric)); err != nil {
			tail := append(domain.Invalids{}, errs[qtyAt:]...)
			errs = errs[:qtyAt]
			bad(err)
			errs = append(errs, tail...)
		}
	}
	for _, field := range []string{"metric", "quantity", "idempotency_key"} {
		if !seen[field] {
			bad(domain.Invalid(field, "%s is required", field))
		}
	}
	switch len(errs) {
	case 0:
		return NewRecord(metric, quantity, occurred, key, now)
	case 1:
		return Recorded{}, errs[0]
	}
	return Recorded{}, errs
}

func jsonString(raw json.RawMessage, field string) (string, error) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", domain.Invalid(field, "%s must be a JSON string", field)
	}
	return s, nil
}

// clip shortens client-chosen text before it is echoed in an error message.
func clip(s string) string {
	const limit = 40
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}

// ParsePlainBatch parses a body that is exactly {"records": [{...}, ...]} (valid JSON, the
// key spelled plainly, 1 to limit records, each plain as ParseRecordJSON's fast path takes
// it) into validated records, as a full decode of the body would; ok is false for anything
// else, which a full decode must then decide (and name the mistake). The body is validated
// once, and no record is decoded into maps: the HTTP API's batch ingestion.
func ParsePlainBatch(body []byte, limit int, now time.Time) (records []Recorded, ok bool) {
	return ParsePlainBatchFor(body, limit, now, nil)
}

// ParsePlainBatchFor is ParsePlainBatch for metrics defined by defs (see ParseRecordJSONFor).
func ParsePlainBatchFor(body []byte, limit int, now time.Time, defs Definitions) (records []Recorded, ok bool) {
	items, ok := plainBatch(body, limit)
	if !ok {
		return nil, false
	}
	records = make([]Recorded, len(items))
	for i, item := range items {
		if records[i], ok = walkRecord(item, now, defs); !ok {
			return nil, false
		}
	}
	return records, true
}

// plainBatch splits a body that is exactly {"records": [{...}, ...]} with 1 to limit
// objects, in valid JSON, into the objects' bytes.
func plainBatch(body []byte, limit int) (items [][]byte, ok bool) {
	if len(body) == 0 || body[0] != '{' {
		return nil, false
	}
	if !json.Valid(body) {
		return nil, false
	}
	i := skipSpace(body, 1) // body[0] is '{'
	if !bytes.HasPrefix(body[i:], []byte(`"records"`)) {
		return nil, false
	}
	i = skipSpace(body, i+len(`"records"`))
	if i >= len(body) || body[i] != ':' {
		return nil, false
	}
	i = skipSpace(body, i+1)
	if i >= len(body) || body[i] != '[' {
		return nil, false
	}
	i = skipSpace(body, i+1)
	for i < len(body) && body[i] == '{' {
		end := objectEnd(body, i)
		items = append(items, body[i:end])
		if len(items) > limit {
			return nil, false
		}
		i = skipSpace(body, end)
		if i < len(body) && body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	// Valid JSON: the array and the object close here, or something else follows (another
	// kind of item, another key), which the full path decides.
	if i >= len(body) || body[i] != ']' {
		return nil, false
	}
	i = skipSpace(body, i+1)
	if i >= len(body) || body[i] != '}' || skipSpace(body, i+1) != len(body) || len(items) == 0 {
		return nil, false
	}
	return items, true
}

// objectEnd returns the index just after the JSON object that starts at data[i], in data
// that is valid JSON.
func objectEnd(data []byte, i int) int {
	depth := 0
	for ; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return len(data)
}
