package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/app"
	"github.com/tenantry/tenantry/domain/app/logctx"
	"github.com/tenantry/tenantry/domain/usage"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// MaxUsageRecords is the most records one POST /v1/usage may carry.
const MaxUsageRecords = 1000

// MaxFieldErrors is the most field errors one problem lists; a batch with more invalid
// fields lists these and one more entry (field "records") saying how many were left out.
const MaxFieldErrors = 100

// parseUsageBody accepts one record, or {"records": [...]} with 1 to MaxUsageRecords
// records, each validated by the domain's rules, whose sums per metric and window fit
// (usage.CheckTotals); errors name the record.
func parseUsageBody(body []byte, now time.Time) ([]usage.Recorded, error) {
	return parseUsageBodyFor(body, now, nil)
}

// parseUsageBodyFor is parseUsageBody for metrics defined by defs: a quantity may carry up
// to its metric's Scale decimal places (usage.ParseRecordJSONFor).
func parseUsageBodyFor(body []byte, now time.Time, defs usage.Definitions) ([]usage.Recorded, error) {
	records, err := parseUsageRecords(body, now, defs)
	if err != nil {
		return nil, err
	}
	if err := usage.CheckTotals(records); err != nil {
		return nil, err
	}
	return records, nil
}

// parseUsageRecords is parseUsageBody without the check of the sums.
func parseUsageRecords(body []byte, now time.Time, defs usage.Definitions) ([]usage.Recorded, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, domain.Invalid("body", "send one usage record or {\"records\": [...]} as a JSON object")
	}
	// Without a backslash, a "records" key can only be spelled so: a body without it is one
	// record, parsed once (the common case of single-record ingestion). A body it refuses
	// takes the full path below, which names the problem.
	if bytes.IndexByte(trimmed, '\\') < 0 && !bytes.Contains(trimmed, []byte(`"records"`)) {
		if r, err := usage.ParseRecordJSONFor(trimmed, now, defs); err == nil {
			return []usage.Recorded{r}, nil
		}
	}
	if records, ok := usage.ParsePlainBatchFor(trimmed, MaxUsageRecords, now, defs); ok {
		return records, nil
	}
	return parseUsageEnvelope(trimmed, now, defs)
}

// parseUsageEnvelope is parseUsageBody's full path: the body as an object that is either a
// record or {"records": [...]}.
func parseUsageEnvelope(trimmed []byte, now time.Time, defs usage.Definitions) ([]usage.Recorded, error) {
	var envelope map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &envelope); err != nil {
		return nil, domain.Invalid("body", "the body is not valid JSON")
	}
	raw, batch := envelope["records"]
	if !batch {
		r, err := usage.ParseRecordJSONFor(trimmed, now, defs)
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
	var errs domain.Invalids
	omitted := 0
	for i, item := range items {
		r, err := usage.ParseRecordJSONFor(item, now, defs)
		if err == nil {
			out[i] = r
			continue
		}
		var many domain.Invalids
		if !errors.As(err, &many) {
			var de *domain.Error
			if !errors.As(err, &de) {
				return nil, err
			}
			many = domain.Invalids{de}
		}
		for _, de := range many {
			if len(errs) == MaxFieldErrors {
				omitted++
				continue
			}
			field := fmt.Sprintf("records[%d]", i)
			if de.Field != "" {
				field += "." + de.Field
			}
			errs = append(errs, &domain.Error{Code: de.Code, Field: field, Message: fmt.Sprintf("record %d: %s", i, de.Message)})
		}
	}
	switch {
	case len(errs) == 0:
		return out, nil
	case len(errs) == 1:
		return nil, errs[0]
	case omitted > 0:
		errs = append(errs, domain.Invalid("records", "%d more invalid fields are not listed (at most %d are)", omitted, MaxFieldErrors))
	}
	return nil, errs
}

// postUsage records usage (app.RecordUsage). A record whose idempotency key this tenant
// has sent before is counted as a duplicate and never again.
func (s *Server) postUsage(c *gin.Context, cl *call) {
	records, err := parseUsageBodyFor(cl.body, s.now(), s.d.Definitions)
	if err != nil {
		s.failErr(c, err)
		return
	}
	cl.yield()                               // waiting for the commit takes no CPU: let the tenant's next request in
	plan, _ := domain.ParsePlanName(cl.plan) // the credential's: a plan unknown here has no quotas
	res, err := s.usage.Record(c, app.UsageInput{Tenant: cl.tenant, Metadata: metadata(c, cl), Records: records,
		Plan: plan, PlanVersion: cl.planV})
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusAccepted, api.UsageRecorded{Accepted: res.Accepted, Duplicates: res.Duplicates, Seq: res.Seq})
}

// newRecordUsage builds the usage use case over the store; a coalesced append logs with
// its tenant's id.
func newRecordUsage(d Deps) *app.RecordUsage {
	return app.NewRecordUsage(app.RecordUsageConfig{Store: eventstore.DomainStore{Store: d.Store, Registry: d.Registry}, Keys: d.Store,
		Sums: d.Store, Catalog: d.Catalog,
		Background: func(tenant uuid.UUID) context.Context {
			return logctx.With(context.Background(), "tenant_id", tenant.String())
		},
		NoCoalescing: d.NoUsageCoalescing})
}

// Usage series limits: how far back a range may reach per granularity, and how many
// points (metrics × buckets) one answer may hold, since a tenant may record any number of
// metrics.
const (
	maxHourlyRange = 31 * 24 * time.Hour
	maxDailyRange  = 400 * 24 * time.Hour
	maxUsagePoints = 10_000
)

// getUsage answers usage per metric and hour or day over a time range.
func (s *Server) getUsage(c *gin.Context, cl *call) {
	if !s.minSeq(c, cl, eventstore.ProjectionUsage) {
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
	var points []eventstore.UsagePoint
	err := s.d.Store.InTenant(c, cl.tenant, true, func(tx *eventstore.Tx) error {
		if err := tx.RequireCurrent(c, eventstore.ProjectionUsage); err != nil {
			return err
		}
		var err error
		points, err = tx.UsageSeriesLimit(c, metric, from, to, gran == "day", maxUsagePoints+1)
		return err
	})
	if err != nil {
		s.failErr(c, err) // a stopped usage projection: failStopped's 503
		return
	}
	if len(points) > maxUsagePoints {
		fail(c, http.StatusUnprocessableEntity, "invalid-request", fmt.Sprintf(
			"the answer would hold more than %d points (metrics × %ss); name one metric, narrow the range or use granularity=day",
			maxUsagePoints, gran), FieldError{Field: "metric", Message: "name one metric, or narrow the range"})
		return
	}
	series, err := usageSeries(points, s.d.Definitions)
	if err != nil {
		s.failErr(c, err)
		return
	}
	reply(c, http.StatusOK, api.Usage{Granularity: gran, From: from, To: to, Series: series})
}

// usageSeries groups the read model's points (by metric, then start) into series. Values
// are exact decimals of any size (the read models' totals are unbounded numerics), see
// api.ExactDecimal. A gauge's points also carry their highest and last readings, and its
// series its value over the range by its aggregation.
func usageSeries(points []eventstore.UsagePoint, defs usage.Definitions) ([]api.UsageSeries, error) {
	series := []api.UsageSeries{}
	var windows []usage.Window
	var def usage.Definition
	var total usage.Decimal
	finish := func() {
		if len(series) == 0 {
			return
		}
		last := &series[len(series)-1]
		last.Total = api.Decimal(total.String())
		if def.Kind == usage.KindGauge {
			last.Aggregation = def.Aggregation.String()
			if v, ok := def.Value(windows); ok {
				d := api.Decimal(v.String())
				last.Value = &d
			}
		}
	}
	for _, p := range points {
		if len(series) == 0 || series[len(series)-1].Metric != p.Metric {
			finish()
			m, err := usage.ParseMetric(p.Metric)
			if err != nil {
				return nil, fmt.Errorf("usage read model: %w", err)
			}
			def, windows, total = usage.DefinitionOf(defs, m), windows[:0], usage.Decimal{}
			series = append(series, api.UsageSeries{Metric: p.Metric, Points: []api.UsagePoint{}})
		}
		w, err := usage.ParseWindow(p.Start, p.Sum, p.Max, p.Last, p.LastAt, p.LastSeq, p.LastIdx)
		if err != nil {
			return nil, fmt.Errorf("usage read model, %s at %s: %w", p.Metric, p.Start.Format(time.RFC3339), err)
		}
		windows, total = append(windows, w), total.Add(w.Sum)
		point := api.UsagePoint{Start: p.Start, Quantity: api.Decimal(w.Sum.String())}
		if def.Kind == usage.KindGauge && w.HasReadings {
			maxR, lastR, at := api.Decimal(w.Max.String()), api.Decimal(w.Last.String()), w.LastAt
			point.Max, point.Last, point.LastAt = &maxR, &lastR, &at
		}
		last := &series[len(series)-1]
		last.Points = append(last.Points, point)
	}
	finish()
	return series, nil
}
