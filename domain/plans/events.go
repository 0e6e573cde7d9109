package plans

import (
	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// Stored event type names. They are part of the storage format: never rename.
const (
	TypePlanDefined   = "plan.defined"
	TypePlanRetired   = "plan.retired"
	TypeMetricDefined = "metric.defined"
	TypeMetricRetired = "metric.retired"
)

// PlanDefined records a plan version: the full definition, so that a tenant's version can
// always be read back as it was.
type PlanDefined struct {
	Plan Plan `json:"plan"`
}

// EventType implements domain.Event.
func (PlanDefined) EventType() string { return TypePlanDefined }

// SchemaVersion implements domain.Event.
func (PlanDefined) SchemaVersion() int { return 1 }

// PlanRetired records that a plan is no longer offered: tenants on it keep their version,
// no one can join it. Defining it again makes a new version, offered again.
type PlanRetired struct {
	Plan domain.PlanName `json:"plan"`
	// Version is the plan's last version when it was retired.
	Version int `json:"version"`
}

// EventType implements domain.Event.
func (PlanRetired) EventType() string { return TypePlanRetired }

// SchemaVersion implements domain.Event.
func (PlanRetired) SchemaVersion() int { return 1 }

// MetricDefined records a metric declaration (its Version counts its declarations).
type MetricDefined struct {
	Metric  Metric `json:"metric"`
	Version int    `json:"version"`
}

// EventType implements domain.Event.
func (MetricDefined) EventType() string { return TypeMetricDefined }

// SchemaVersion implements domain.Event.
func (MetricDefined) SchemaVersion() int { return 1 }

// MetricRetired records that a metric is no longer declared: it reads as
// usage.DefaultDefinition again.
type MetricRetired struct {
	Metric usage.Metric `json:"metric"`
}

// EventType implements domain.Event.
func (MetricRetired) EventType() string { return TypeMetricRetired }

// SchemaVersion implements domain.Event.
func (MetricRetired) SchemaVersion() int { return 1 }
