package plans

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// Bounds on a catalog document, so that a bad file costs bounded work.
const (
	MaxDocumentBytes = 1 << 20
	maxPlans         = 200
	maxMetrics       = 200
	maxFeatures      = 100
	maxTrialDays     = 365
	maxNameLen       = 100
)

// Document is a catalog file as the operator writes it (YAML through the ports, or JSON):
// plain fields only, so that a decoder that refuses unknown fields can fill it. Validate
// turns it into Definitions.
type Document struct {
	Metrics []MetricDoc `json:"metrics" yaml:"metrics"`
	Plans   []PlanDoc   `json:"plans" yaml:"plans"`
}

// MetricDoc declares a metric (usage.Definition's fields) and its optional Stripe meter.
type MetricDoc struct {
	Metric      string `json:"metric" yaml:"metric"`
	Kind        string `json:"kind" yaml:"kind"`
	Aggregation string `json:"aggregation" yaml:"aggregation"`
	Scale       int    `json:"scale" yaml:"scale"`
	Unit        string `json:"unit,omitempty" yaml:"unit"`
	Meter       string `json:"meter,omitempty" yaml:"meter"`
}

// PlanDoc is one plan of the document.
type PlanDoc struct {
	Key       string              `json:"key" yaml:"key"`
	Name      string              `json:"name" yaml:"name"`
	Intervals map[string]PriceDoc `json:"intervals" yaml:"intervals"`
	TrialDays int                 `json:"trial_days" yaml:"trial_days"`
	Limits    LimitsDoc           `json:"limits" yaml:"limits"`
	Features  map[string]bool     `json:"features,omitempty" yaml:"features"`
	Metrics   map[string]QuotaDoc `json:"metrics,omitempty" yaml:"metrics"`
}

// PriceDoc is one interval's price.
type PriceDoc struct {
	StripePrice string `json:"stripe_price,omitempty" yaml:"stripe_price"`
	Amount      *int64 `json:"amount,omitempty" yaml:"amount"`
	Currency    string `json:"currency,omitempty" yaml:"currency"`
}

// LimitsDoc is a plan's seat and rate limits.
type LimitsDoc struct {
	Seats             int     `json:"seats" yaml:"seats"`
	RequestsPerSecond float64 `json:"requests_per_second" yaml:"requests_per_second"`
	Burst             int     `json:"burst" yaml:"burst"`
}

// QuotaDoc is a plan's quota of one metric.
type QuotaDoc struct {
	Included DecimalText `json:"included" yaml:"included"`
	Beyond   string      `json:"beyond" yaml:"beyond"`
}

// DecimalText is a quota as written: a JSON number or string (YAML scalars arrive as
// their text), checked against the metric's scale by Validate.
type DecimalText string

// UnmarshalJSON accepts a number literal or a string.
func (d *DecimalText) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = DecimalText(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*d = DecimalText(n)
	return nil
}

// Definitions is a validated document: metrics and plans in the document's order.
type Definitions struct {
	Metrics []Metric
	Plans   []Spec
}

// ParseDocument reads a JSON catalog document strictly (unknown fields, trailing data and
// documents over MaxDocumentBytes are errors) and validates it.
func ParseDocument(b []byte) (Definitions, error) {
	if len(b) > MaxDocumentBytes {
		return Definitions{}, domain.Invalid("catalog", "the catalog document is larger than %d bytes", MaxDocumentBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return Definitions{}, domain.Invalid("catalog", "the catalog document is not valid: %s", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Definitions{}, domain.Invalid("catalog", "the catalog document has data after its end")
	}
	return doc.Validate()
}

// Validate checks every field and answers the first error as a domain.Invalid whose field
// is the path to it (plans.pro.metrics.api_calls.included) and whose message names the
// plan or metric.
func (doc Document) Validate() (Definitions, error) {
	var out Definitions
	if len(doc.Metrics) > maxMetrics {
		return out, domain.Invalid("metrics", "a catalog declares at most %d metrics", maxMetrics)
	}
	if len(doc.Plans) > maxPlans {
		return out, domain.Invalid("plans", "a catalog has at most %d plans", maxPlans)
	}
	if len(doc.Plans) == 0 {
		return out, domain.Invalid("plans", "a catalog needs at least one plan")
	}
	declared := map[usage.Metric]Metric{}
	for i, md := range doc.Metrics {
		m, err := md.validate()
		if err != nil {
			return out, renest(err, fmt.Sprintf("metrics[%d]", i), fmt.Sprintf("metric %q", md.Metric))
		}
		if _, dup := declared[m.Metric]; dup {
			return out, domain.Invalid(fmt.Sprintf("metrics[%d].metric", i), "metric %q is declared twice", md.Metric)
		}
		declared[m.Metric] = m
		out.Metrics = append(out.Metrics, m)
	}
	seen := map[string]bool{}
	for _, pd := range doc.Plans {
		p, err := pd.validate(declared)
		if err != nil {
			return out, err
		}
		if seen[pd.Key] {
			return out, domain.Invalid("plans."+pd.Key+".key", "plan %q is defined twice", pd.Key)
		}
		seen[pd.Key] = true
		out.Plans = append(out.Plans, p)
	}
	return out, nil
}

// renest puts a field error under prefix and its message after about.
func renest(err error, prefix, about string) error {
	var de *domain.Error
	if errors.As(err, &de) {
		field := prefix
		if de.Field != "" {
			field += "." + de.Field
		}
		return domain.Invalid(field, "%s: %s", about, de.Message)
	}
	return domain.Invalid(prefix, "%s: %s", about, err)
}

func (md MetricDoc) validate() (Metric, error) {
	metric, err := usage.ParseMetric(md.Metric)
	if err != nil {
		return Metric{}, err
	}
	return metricFrom(metricJSON{Metric: metric, Kind: md.Kind, Aggregation: md.Aggregation, Scale: md.Scale, Unit: md.Unit, Meter: md.Meter})
}

func (pd PlanDoc) validate(declared map[usage.Metric]Metric) (Spec, error) {
	key, err := domain.ParsePlanName(pd.Key)
	if err != nil {
		return Spec{}, renest(err, "plans", fmt.Sprintf("plan %.70q", pd.Key))
	}
	at := "plans." + pd.Key
	bad := func(field, format string, args ...any) error {
		return domain.Invalid(at+"."+field, "plan %s: %s", pd.Key, fmt.Sprintf(format, args...))
	}
	s := Spec{Key: key, Name: pd.Name, TrialDays: pd.TrialDays, Intervals: map[Interval]Price{},
		Features: map[string]bool{}, Metrics: map[usage.Metric]Quota{}}
	if !nameOK(pd.Name) {
		return Spec{}, bad("name", "name must be 1 to %d characters without control characters or surrounding spaces", maxNameLen)
	}
	if len(pd.Intervals) == 0 {
		return Spec{}, bad("intervals", "a plan needs a monthly or a yearly interval")
	}
	for name, pr := range pd.Intervals {
		iv, err := ParseInterval(name)
		if err != nil {
			return Spec{}, bad("intervals", "%.20q is not an interval; use monthly or yearly", name)
		}
		price, err := pr.validate()
		if err != nil {
			return Spec{}, bad("intervals."+name, "%s", err)
		}
		s.Intervals[iv] = price
	}
	if pd.TrialDays < 0 || pd.TrialDays > maxTrialDays {
		return Spec{}, bad("trial_days", "trial_days must be from 0 to %d", maxTrialDays)
	}
	s.Limits = domain.Limits{Seats: pd.Limits.Seats, RequestsPerSecond: pd.Limits.RequestsPerSecond, Burst: pd.Limits.Burst}
	if !s.Limits.Valid() {
		return Spec{}, bad("limits", "seats (up to 1000000), requests_per_second (up to 1000000) and burst (up to 10000000) must all be positive")
	}
	if len(pd.Features) > maxFeatures {
		return Spec{}, bad("features", "a plan has at most %d features", maxFeatures)
	}
	for f, on := range pd.Features {
		if _, err := usage.ParseMetric(f); err != nil {
			return Spec{}, bad("features", "feature %.70q must be a lowercase identifier (letters, digits, underscores)", f)
		}
		s.Features[f] = on
	}
	if len(pd.Metrics) > maxMetrics {
		return Spec{}, bad("metrics", "a plan has at most %d metric quotas", maxMetrics)
	}
	for name, q := range pd.Metrics {
		m, err := usage.ParseMetric(name)
		if err != nil {
			return Spec{}, bad("metrics", "%.70q is not a metric name", name)
		}
		def, ok := declared[m]
		if !ok {
			def = Metric{Definition: usage.DefaultDefinition(m)}
		}
		inc, err := ParseDecimal(string(q.Included), def.Scale)
		if err != nil {
			return Spec{}, bad("metrics."+name+".included", "%s", err)
		}
		beyond, err := ParseBeyond(q.Beyond)
		if err != nil {
			return Spec{}, bad("metrics."+name+".beyond", "beyond must be hard, soft or overage")
		}
		if beyond == BeyondOverage && def.Meter == "" {
			return Spec{}, bad("metrics."+name+".beyond", "overage is billed through a meter: declare metric %s under metrics with a meter", name)
		}
		s.Metrics[m] = Quota{Included: inc, Beyond: beyond}
	}
	return s, nil
}

func (pr PriceDoc) validate() (Price, error) {
	p := Price{StripePrice: pr.StripePrice, Currency: pr.Currency}
	if p.StripePrice != "" && !stripeIDShaped(p.StripePrice) {
		return Price{}, errors.New("stripe_price must be a Stripe id (letters, digits, _ or -)")
	}
	if (pr.Amount == nil) != (pr.Currency == "") {
		return Price{}, errors.New("amount and currency go together")
	}
	if pr.Amount != nil {
		if *pr.Amount < 0 || *pr.Amount > 1e12 {
			return Price{}, errors.New("amount must be from 0 to 1000000000000 minor units")
		}
		if len(pr.Currency) != 3 || strings.ToLower(pr.Currency) != pr.Currency || !isLetters(pr.Currency) {
			return Price{}, errors.New("currency must be a lowercase ISO 4217 code such as usd")
		}
		p.Amount = *pr.Amount
	}
	return p, nil
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func stripeIDShaped(s string) bool {
	if len(s) == 0 || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func nameOK(s string) bool {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameLen || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
