package usage

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"time"

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
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Recorded{}, domain.Invalid("", "usage record must be a JSON object")
	}
	var (
		metric   Metric
		quantity Quantity
		key      IdempotencyKey
		occurred = now
		seen     = make(map[string]bool, 4)
	)
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
			return Recorded{}, domain.Invalid(name, "%s is given more than once", name)
		}
		seen[name] = true
		switch name {
		case "metric":
			s, err := jsonString(raw, name)
			if err == nil {
				metric, err = ParseMetric(s)
			}
			if err != nil {
				return Recorded{}, err
			}
		case "quantity":
			if quantity, err = ParseQuantity(string(raw)); err != nil {
				return Recorded{}, err
			}
		case "occurred_at":
			s, err := jsonString(raw, name)
			if err != nil {
				return Recorded{}, err
			}
			if occurred, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return Recorded{}, domain.Invalid(name, "occurred_at must be an RFC 3339 timestamp with a zone, like 2025-01-02T03:04:05Z")
			}
		case "idempotency_key":
			s, err := jsonString(raw, name)
			if err == nil {
				key, err = ParseIdempotencyKey(s)
			}
			if err != nil {
				return Recorded{}, err
			}
		default:
			return Recorded{}, domain.Invalid("", "unknown field %q; use metric, quantity, occurred_at and idempotency_key", clip(name))
		}
	}
	if _, err := dec.Token(); err != nil {
		return Recorded{}, domain.Invalid("", "usage record is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Recorded{}, domain.Invalid("", "usage record must be a single JSON object")
	}
	for _, field := range []string{"metric", "quantity", "idempotency_key"} {
		if !seen[field] {
			return Recorded{}, domain.Invalid(field, "%s is required", field)
		}
	}
	return NewRecord(metric, quantity, occurred, key, now)
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
