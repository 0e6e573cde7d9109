package plans

import (
	"fmt"
	"math/big"
	"time"

	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/domain/usage"
)

// TypeThresholdCrossed is the stored type of a soft quota's alert. Never rename.
const TypeThresholdCrossed = "quota.threshold_crossed"

// AlertStream is the tenant stream that holds its quota alerts.
const AlertStream = "quota"

// AlertThresholds are the shares of a soft quota (percent) whose crossing is recorded, once
// per metric and period each.
var AlertThresholds = [...]int{80, 100}

// ThresholdCrossed records that a tenant's usage of a metric reached Threshold percent of
// its plan's soft quota in a quota period (a UTC month starting at Period): usage goes on
// being accepted, and the event is the alert (in the audit stream, and delivered to the
// webhook endpoints that subscribe to its type). Usage is what the period held when the
// crossing was noticed, so it may already be past the threshold; it is decimal text (as
// Included), so that no client reads a large total through a float.
type ThresholdCrossed struct {
	Metric      usage.Metric    `json:"metric"`
	Period      time.Time       `json:"period"`
	Threshold   int             `json:"threshold_percent"`
	Included    Decimal         `json:"included"`
	Usage       string          `json:"usage"` // exact decimal text, as Included
	Plan        domain.PlanName `json:"plan"`
	PlanVersion int             `json:"plan_version"`
}

// EventType implements domain.Event.
func (ThresholdCrossed) EventType() string { return TypeThresholdCrossed }

// SchemaVersion implements domain.Event.
func (ThresholdCrossed) SchemaVersion() int { return 1 }

// alertNamespace separates alert ids from any other derived id, and versions the derivation.
const alertNamespace = "tenantry/quota-alert/v1"

// AlertID is the event id of the tenant's alert for metric, period and threshold: derived,
// so that however often and by however many workers the crossing is noticed, it is recorded
// once (the event store refuses a second event with the id).
func AlertID(tenant uuid.UUID, metric usage.Metric, period time.Time, threshold int) uuid.UUID {
	return domain.DeriveID(alertNamespace, tenant, fmt.Sprintf("%s|%s|%d", metric, period.UTC().Format("2006-01"), threshold))
}

// Crossed lists the thresholds (AlertThresholds) that used has reached of a soft quota:
// used × 100 ≥ included × threshold, and used above zero (a quota of zero is crossed by the
// first usage, not by none). Other kinds of quota have no alerts.
func (q Quota) Crossed(used usage.Decimal) []int {
	if q.Beyond != BeyondSoft || used.Sign() <= 0 {
		return nil
	}
	inc := q.Included.Usage()
	scale := max(inc.Scale(), used.Scale())
	u, _ := used.Units(scale)
	i, _ := inc.Units(scale)
	u100 := new(big.Int).Mul(u.Big(), big.NewInt(100))
	var out []int
	for _, t := range AlertThresholds {
		if u100.Cmp(new(big.Int).Mul(i.Big(), big.NewInt(int64(t)))) >= 0 {
			out = append(out, t)
		}
	}
	return out
}
