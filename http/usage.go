package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/projections"
)

// MaxUsageRecords is the most records one POST /v1/usage may carry.
const MaxUsageRecords = 1000

// parseUsageBody accepts one record, or {"records": [...]} with 1 to MaxUsageRecords
// records, each validated by the domain's rules; errors name the record.
func parseUsageBody(body []byte, now time.Time) ([]usage.Recorded, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, domain.Invalid("body", "send one usage record or {\"records\": [...]} as a JSON object")
	}
	// Without a backslash, a "records" key can only be spelled so: a body without it is one
	// record, parsed once (the common case of single-record ingestion). A body it refuses
	// takes the full path below, which names the problem.
	if bytes.IndexByte(trimmed, '\\') < 0 && !bytes.Contains(trimmed, []byte(`"records"`)) {
		if r, err := usage.ParseRecordJSON(trimmed, now); err == nil {
			return []usage.Recorded{r}, nil
		}
	}
	if records, ok := usage.ParsePlainBatch(trimmed, MaxUsageRecords, now); ok {
		return records, nil
	}
	return parseUsageEnvelope(trimmed, now)
}

// parseUsageEnvelope is parseUsageBody's full path: the body as an object that is either a
// record or {"records": [...]}.
func parseUsageEnvelope(trimmed []byte, now time.Time) ([]usage.Recorded, error) {
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &envelope); err != nil {
		return nil, domain.Invalid("body", "the body is not valid JSON")
	}
	raw, batch := envelope["records"]
	if !batch {
		r, err := usage.ParseRecordJSON(trimmed, now)
		if err != nil {
			return nil, err
		}
		return []usage.Recorded{r}, nil
	}
	if len(envelope) != 1 {
		return nil, domain.Invalid("body", "a batch is {\"records\": [...]} with no other fields")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, domain.Invalid("records", "records must be an array of usage records")
	}
	if len(items) == 0 || len(items) > MaxUsageRecords {
		return nil, domain.Invalid("records", "a batch holds 1 to %d records, not %d", MaxUsageRecords, len(items))
	}
	out := make([]usage.Recorded, len(items))
	for i, item := range items {
		r, err := usage.ParseRecordJSON(item, now)
		if err != nil {
			var de *domain.Error
			if errors.As(err, &de) {
				field := fmt.Sprintf("records[%d]", i)
				if de.Field != "" {
					field += "." + de.Field
				}
				return nil, domain.Invalid(field, "record %d: %s", i, de.Message)
			}
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}

// postUsage records usage. A record whose idempotency key this tenant has sent before is
// counted as a duplicate and never again: its key id is derived from the key, the event
// that stores the record claims it, and the event store refuses a second claim.
func (s *Server) postUsage(c *gin.Context, cl *call) {
	records, err := parseUsageBody(cl.body, s.now())
	if err != nil {
		s.failErr(c, err)
		return
	}
	ids := make([]uuid.UUID, 0, len(records))
	byID := make(map[uuid.UUID]usage.Recorded, len(records))
	for _, r := range records {
		id := usage.RecordEventID(cl.tenant, r.IdempotencyKey)
		if _, dup := byID[id]; !dup {
			byID[id] = r
			ids = append(ids, id)
		}
	}
	// Optimistically append everything: a new key is the common case. Only if some key is
	// claimed already does it look up which, and append the rest.
	fresh := ids
	var res eventstore.AppendResult
	accepted := 0
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			var err error
			if fresh, err = s.unclaimed(c, cl.tenant, ids); err != nil {
				s.failErr(c, err)
				return
			}
			if len(fresh) == 0 {
				break
			}
		}
		event, err := s.usageEvent(c, cl, fresh, byID)
		if err != nil {
			s.internal(c, err)
			return
		}
		cl.yield() // waiting for the commit takes no CPU: let the tenant's next request in
		res, err = s.d.Store.Append(c, cl.tenant, usage.StreamID, eventstore.Any, event)
		if err == nil {
			if !res.Retried {
				accepted = len(fresh)
			}
			break
		}
		if !errors.Is(err, eventstore.ErrKeyClaimed) && !errors.Is(err, eventstore.ErrEventIDConflict) || attempt == 3 {
			s.failErr(c, err)
			return
		}
		// Some keys are claimed already (sent before, or by a concurrent request): look again.
	}
	reply(c, http.StatusAccepted, usageAccepted{Accepted: accepted, Duplicates: len(records) - accepted, Seq: res.LastSeq})
}

type usageAccepted struct {
	Accepted   int   `json:"accepted"`
	Duplicates int   `json:"duplicates"`
	Seq        int64 `json:"seq"`
}

// usageEvent is the event for the records with key ids ids: one record is a usage.recorded
// event whose id is its key id (a retried request is then recognised as a retry), more are
// one usage.batch_recorded event. Either claims every record's key id.
func (s *Server) usageEvent(c *gin.Context, cl *call, ids []uuid.UUID, byID map[uuid.UUID]usage.Recorded) (eventstore.NewEvent, error) {
	var e domain.Event
	if len(ids) == 1 {
		e = byID[ids[0]]
	} else {
		b := usage.BatchRecorded{Records: make([]usage.Recorded, len(ids))}
		for i, id := range ids {
			b.Records[i] = byID[id]
		}
		e = b
	}
	events, err := s.encode(c, cl, []domain.Event{e})
	if err != nil {
		return eventstore.NewEvent{}, err
	}
	if len(ids) == 1 {
		events[0].ID = ids[0]
	}
	events[0].Keys = ids
	return events[0], nil
}

// unclaimed returns the key ids, in order, that the tenant has not claimed.
func (s *Server) unclaimed(c *gin.Context, tenant uuid.UUID, ids []uuid.UUID) ([]uuid.UUID, error) {
	claimed, err := s.d.Store.ClaimedKeys(c, tenant, ids)
	if err != nil {
		return nil, err
	}
	out := make([]uuid.UUID, 0, len(ids))
	for _, id := range ids {
		if _, ok := claimed[id]; !ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// Usage series limits: how far back a range may reach per granularity.
const (
	maxHourlyRange = 31 * 24 * time.Hour
	maxDailyRange  = 400 * 24 * time.Hour
)

type usageSeries struct {
	Metric string       `json:"metric"`
	Points []usagePoint `json:"points"`
	Total  int64        `json:"total"`
}

type usagePoint struct {
	Start    time.Time `json:"start"`
	Quantity int64     `json:"quantity"`
}

// getUsage answers usage per metric and hour or day over a time range.
func (s *Server) getUsage(c *gin.Context, cl *call) {
	if !s.minSeq(c, cl) {
		return
	}
	var errs fieldErrors
	gran := c.DefaultQuery("granularity", "hour")
	step := time.Hour
	switch gran {
	case "hour":
	case "day":
		step = 24 * time.Hour
	default:
		errs = append(errs, FieldError{Field: "granularity", Message: "must be hour or day"})
	}
	now := s.now()
	to := now.Truncate(step).Add(step)
	if v := c.Query("to"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = append(errs, FieldError{Field: "to", Message: "must be an RFC 3339 time"})
		}
		to = t.UTC()
	}
	from := to.Add(-24 * time.Hour)
	if gran == "day" {
		from = to.Add(-30 * 24 * time.Hour)
	}
	if v := c.Query("from"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			errs = append(errs, FieldError{Field: "from", Message: "must be an RFC 3339 time"})
		}
		from = t.UTC()
	}
	metric := c.Query("metric")
	if metric != "" {
		if _, err := usage.ParseMetric(metric); err != nil {
			errs.add("metric", err)
		}
	}
	if len(errs) == 0 {
		limit := maxHourlyRange
		if gran == "day" {
			limit = maxDailyRange
		}
		switch {
		case !from.Before(to):
			errs = append(errs, FieldError{Field: "from", Message: "must be before to"})
		case to.Sub(from) > limit:
			errs = append(errs, FieldError{Field: "from", Message: fmt.Sprintf("the range may span at most %d days at %s granularity", int(limit.Hours()/24), gran)})
		}
	}
	if errs.fail(c) {
		return
	}
	var points []projections.UsagePoint
	err := projections.InTenant(c, s.pool(), cl.tenant, true, func(tx pgx.Tx) error {
		var err error
		points, err = projections.UsageSeries(c, tx, metric, from, to, gran == "day")
		return err
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	series := []usageSeries{}
	for _, p := range points {
		if len(series) == 0 || series[len(series)-1].Metric != p.Metric {
			series = append(series, usageSeries{Metric: p.Metric})
		}
		last := &series[len(series)-1]
		last.Points = append(last.Points, usagePoint{Start: p.Start, Quantity: p.Quantity})
		last.Total += p.Quantity
	}
	reply(c, http.StatusOK, gin.H{"granularity": gran, "from": from, "to": to, "series": series})
}
