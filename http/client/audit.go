package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tenantry/tenantry/http/api"
)

// ExportQuery picks a page of the audit export: the events after AfterSeq, at most Limit
// of them (0: the server's default).
type ExportQuery struct {
	AfterSeq int64
	Limit    int
}

// AuditExport is an audit export being read: Body is the NDJSON stream as the server sent
// it (save it for an offline verifier as it is), Lines decodes it line by line. Close it.
type AuditExport struct {
	Body io.ReadCloser
}

// Close closes the stream.
func (e *AuditExport) Close() error { return e.Body.Close() }

// AuditLine is one line of the export: an event, or the head line that ends the page
// reaching the tenant's head. Raw is the line's bytes as sent (the hash chain covers the
// event's fields, not this encoding, but an offline verifier wants the original).
type AuditLine struct {
	Event *api.AuditEvent
	Head  *api.AuditHead
	Raw   []byte
}

// Lines iterates over the export's lines; a line longer than MaxBody, or one that is
// neither an event nor a head, ends the sequence with an error.
func (e *AuditExport) Lines() iter.Seq2[AuditLine, error] {
	return func(yield func(AuditLine, error) bool) {
		sc := bufio.NewScanner(e.Body)
		sc.Buffer(make([]byte, 0, 64<<10), MaxBody)
		for n := 1; sc.Scan(); n++ {
			raw := bytes.Clone(sc.Bytes())
			if len(bytes.TrimSpace(raw)) == 0 {
				continue
			}
			line, err := decodeAuditLine(raw)
			if err != nil {
				yield(AuditLine{Raw: raw}, fmt.Errorf("client: audit export line %d: %w", n, err))
				return
			}
			if !yield(line, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(AuditLine{}, fmt.Errorf("client: audit export: %w", err))
		}
	}
}

func decodeAuditLine(raw []byte) (AuditLine, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return AuditLine{}, err
	}
	if h, ok := probe["head"]; ok {
		var head api.AuditHead
		if err := json.Unmarshal(h, &head); err != nil {
			return AuditLine{}, fmt.Errorf("head line: %w", err)
		}
		return AuditLine{Head: &head, Raw: raw}, nil
	}
	var ev api.AuditEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return AuditLine{}, fmt.Errorf("event line: %w", err)
	}
	if ev.Seq == 0 {
		return AuditLine{}, fmt.Errorf("neither an event nor a head")
	}
	return AuditLine{Event: &ev, Raw: raw}, nil
}

// ExportAuditEvents is exportAuditEvents: the tenant's events as an NDJSON stream, one
// page of it (the next page starts after the last event line's seq). The caller closes
// the answer's Body.
func (c *Client) ExportAuditEvents(ctx context.Context, in ExportQuery, opts ...CallOption) (*AuditExport, *Response, error) {
	q := url.Values{}
	if in.AfterSeq != 0 {
		q.Set("after_seq", strconv.FormatInt(in.AfterSeq, 10))
	}
	if in.Limit != 0 {
		q.Set("limit", strconv.Itoa(in.Limit))
	}
	res, meta, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/audit/events", query: q, scoped: true, accept: "application/x-ndjson"}, opts)
	if err != nil {
		return nil, meta, err
	}
	return &AuditExport{Body: res.Body}, meta, nil
}
