package tenant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tenantry/tenantry/domain/plans"
)

// SuspendedV1 is the historical version 1 payload of tenant.suspended, whose
// reason was free text typed by an operator or written by the billing worker.
// It is kept only so UpcastSuspendedV1 documents what it reads.
type SuspendedV1 struct {
	Reason string `json:"reason"`
}

// UpcastSuspendedV1 turns a version 1 tenant.suspended payload into version 2
// JSON. Reason texts that name a v2 reason ("payment failed", "payment_failed",
// "Terms violation", ...) map to it; any other text becomes reason "operator"
// with the old text kept verbatim in the note, so nothing recorded is lost.
// Unknown fields are ignored because history may carry them; invalid JSON or a
// non-string reason is an error.
func UpcastSuspendedV1(data []byte) ([]byte, error) {
	var v1 struct {
		Reason *string `json:"reason"`
	}
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
		return nil, fmt.Errorf("upcast %s v1: payload is not a JSON object", TypeSuspended)
	}
	if err := json.Unmarshal(data, &v1); err != nil {
		return nil, fmt.Errorf("upcast %s v1: %w", TypeSuspended, err)
	}
	v2 := Suspended{Reason: ReasonOperator}
	if v1.Reason != nil {
		if r, ok := reasonFromV1Text(*v1.Reason); ok {
			v2.Reason = r
		} else {
			v2.Note = *v1.Reason
		}
	}
	out, err := json.Marshal(v2)
	if err != nil {
		return nil, fmt.Errorf("upcast %s v1: %w", TypeSuspended, err)
	}
	return out, nil
}

// reasonFromV1Text recognises the spellings v1 writers used for the reasons
// that v2 names, ignoring case and treating spaces and hyphens as underscores.
func reasonFromV1Text(text string) (Reason, bool) {
	norm := strings.ToLower(strings.TrimSpace(text))
	norm = strings.NewReplacer(" ", "_", "-", "_").Replace(norm)
	r, err := ParseReason(norm)
	return r, err == nil
}

// UpcastCreatedV1 turns a version 1 tenant.created payload (plan name only, from before
// the plan catalog) into version 2: the tenant is on version 1 of its plan, billed
// monthly, as every tenant was then.
func UpcastCreatedV1(data []byte) ([]byte, error) {
	return addFields(TypeCreated, data, map[string]any{"plan_version": 1, "interval": plans.Monthly.String()})
}

// UpcastPlanChangedV1 turns a version 1 tenant.plan_changed payload into version 2: both
// plans at version 1, billed monthly.
func UpcastPlanChangedV1(data []byte) ([]byte, error) {
	return addFields(TypePlanChanged, data, map[string]any{"from_version": 1, "to_version": 1, "interval": plans.Monthly.String()})
}

// addFields sets fields on a JSON object payload, keeping every other field as stored.
func addFields(typ string, data []byte, fields map[string]any) ([]byte, error) {
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
		return nil, fmt.Errorf("upcast %s v1: payload is not a JSON object", typ)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("upcast %s v1: %w", typ, err)
	}
	for k, v := range fields {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("upcast %s v1: %w", typ, err)
		}
		obj[k] = b
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("upcast %s v1: %w", typ, err)
	}
	return out, nil
}
