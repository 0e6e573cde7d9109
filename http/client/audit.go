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

// ExportQuery picks a page of the audit export: Cursor is the previous page's
// AuditExport.NextCursor ("" for the first page), Limit the most events (0: the server's
// default, 10,000).
type ExportQuery struct {
	Cursor string
	Limit  int
}

// AuditExport is one page of the audit export being read: Body is the NDJSON stream as the
// server sent it (save it for an offline verifier as it is), Lines decodes it line by line.
// HasMore and NextCursor (the Tenantry-Has-More and Tenantry-Next-Cursor headers) say
// where the next page starts. Close it.
type AuditExport struct {
	Body       io.ReadCloser
	HasMore    bool
	NextCursor string
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

// ExportAuditEvents is exportAuditEvents: one page of the tenant's events as an NDJSON
// stream; the page that reaches the head ends with the head line. The caller closes it.
func (c *Client) ExportAuditEvents(ctx context.Context, in ExportQuery, opts ...CallOption) (*AuditExport, *Response, error) {
	q := url.Values{}
	if in.Cursor != "" {
		q.Set("cursor", in.Cursor)
	}
	if in.Limit != 0 {
		q.Set("limit", strconv.Itoa(in.Limit))
	}
	res, meta, err := c.send(ctx, request{method: http.MethodGet, path: "/v1/audit/events", query: q, scoped: true, accept: "application/x-ndjson"}, opts)
	if err != nil {
		return nil, meta, err
	}
	return &AuditExport{Body: res.Body, HasMore: res.Header.Get("Tenantry-Has-More") == "true",
		NextCursor: res.Header.Get("Tenantry-Next-Cursor")}, meta, nil
}
