package api

import (
	"encoding/json"
	"reflect"
	"time"
)

// Entitlements is the answer of GET /v1/entitlements: what the tenant's plan version
// allows it in the current quota period (a UTC calendar month).
type Entitlements struct {
	Plan        string              `json:"plan" jsonschema_extras:"x-domain-enum=plan" doc:"the tenant's plan"`
	PlanVersion int                 `json:"plan_version" doc:"the version of the plan the tenant is on"`
	PeriodStart time.Time           `json:"period_start" doc:"the current quota period's start: the first instant of this UTC month"`
	PeriodEnd   time.Time           `json:"period_end" doc:"the period's end (exclusive): the first instant of next UTC month, when usage starts from nothing again"`
	Features    map[string]bool     `json:"features" doc:"the plan version's features, on (true) or off (false), by name"`
	Metrics     []EntitlementMetric `json:"metrics" doc:"one entry per metric the plan sets a quota for, by metric name"`
	Seq         int64               `json:"seq" doc:"the tenant's event seq the usage reflects (every usage record up to it, none after)"`
}

// EntitlementMetric is one metered metric of the tenant's plan.
type EntitlementMetric struct {
	Metric      string       `json:"metric" doc:"the metric"`
	Kind        string       `json:"kind" jsonschema:"enum=counter,enum=gauge" doc:"a counter's usage is the sum of its records; a gauge's is a reading of a level"`
	Aggregation string       `json:"aggregation" jsonschema:"enum=sum,enum=max,enum=last" doc:"how the period's records make its usage: sum (counters), the highest reading (max) or the last one by occurred_at (last)"`
	Unit        string       `json:"unit,omitempty" doc:"the metric's unit, for people"`
	Quota       ExactDecimal `json:"quota" doc:"the amount included per period"`
	Beyond      string       `json:"beyond" jsonschema:"enum=hard,enum=soft,enum=overage" doc:"beyond the included amount: hard refuses, soft allows and alerts, overage allows and bills"`
	Usage       ExactDecimal `json:"usage" doc:"usage so far in the period by the metric's aggregation"`
	Remaining   ExactDecimal `json:"remaining" doc:"quota minus usage, never below 0"`
	Exceeded    bool         `json:"exceeded" doc:"whether usage is beyond the included amount"`
}

// EntitlementCheckRequest is the body of POST /v1/entitlements/check: a feature, or a
// metric with a quantity.
type EntitlementCheckRequest struct {
	Feature  string   `json:"feature,omitempty" doc:"a feature name: is it on in the tenant's plan? (exclusive with metric)"`
	Metric   string   `json:"metric,omitempty" doc:"a metric name: may the tenant use quantity more of it? (exclusive with feature)"`
	Quantity Quantity `json:"quantity,omitempty" jsonschema:"exclusiveMinimum=0,maximum=1000000000000" doc:"with metric: the quantity about to be used (a counter) or the level about to be reached (a gauge), a JSON number written as POST /v1/usage takes it"`
}

// Quantity is a request's quantity: a JSON number literal, kept as written. A string is
// refused as POST /v1/usage refuses it (json.Number alone would take "3" too).
type Quantity string

// MarshalJSON writes the number literal (an invalid one is an error).
func (q Quantity) MarshalJSON() ([]byte, error) { return json.Marshal(json.Number(q)) }

// UnmarshalJSON takes a JSON number; null leaves the quantity absent. b is one JSON value
// the decoder has checked, so a number is what starts with a digit or a minus sign.
func (q *Quantity) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		return nil
	case len(b) > 0 && (b[0] == '-' || b[0] >= '0' && b[0] <= '9'):
		*q = Quantity(b)
		return nil
	}
	return &json.UnmarshalTypeError{Value: "non-number", Type: reflect.TypeFor[float64]()}
}

// EntitlementCheck is the answer of POST /v1/entitlements/check.
type EntitlementCheck struct {
	Allowed   bool          `json:"allowed" doc:"whether the plan allows it now"`
	Reason    string        `json:"reason" jsonschema:"enum=included,enum=no_quota,enum=soft_quota,enum=overage,enum=quota_exceeded,enum=feature_enabled,enum=feature_disabled,enum=not_in_plan" doc:"why, as a stable code"`
	Message   string        `json:"message" doc:"why, for people"`
	Feature   string        `json:"feature,omitempty" doc:"the feature checked"`
	Metric    string        `json:"metric,omitempty" doc:"the metric checked"`
	Quota     *ExactDecimal `json:"quota,omitempty" doc:"the metric's included amount per period (absent without a quota)"`
	Beyond    string        `json:"beyond,omitempty" jsonschema:"enum=hard,enum=soft,enum=overage" doc:"what happens beyond the quota (absent without a quota)"`
	Usage     *ExactDecimal `json:"usage,omitempty" doc:"the metric's usage so far in the period, before this quantity (absent without a quota)"`
	Remaining *ExactDecimal `json:"remaining,omitempty" doc:"quota minus usage, never below 0 (absent without a quota)"`
	PeriodEnd time.Time     `json:"period_end" doc:"the end (exclusive) of the quota period the answer is about"`
	Seq       int64         `json:"seq" doc:"the tenant's event seq the usage reflects"`
}
