package domain

import "strings"

// Role is what a member may do inside their tenant. Every member may read the
// tenant profile, the member list and usage; the capability methods below say
// what each role adds.
type Role struct{ s string }

// The roles a member can hold.
var (
	RoleAdmin          = Role{"admin"}
	RoleEditor         = Role{"editor"}
	RoleViewer         = Role{"viewer"}
	RoleBillingManager = Role{"billing_manager"}
	RoleAuditor        = Role{"auditor"}
)

// Roles lists every role, for validation messages and API schemas.
func Roles() []Role {
	return []Role{RoleAdmin, RoleEditor, RoleViewer, RoleBillingManager, RoleAuditor}
}

// ParseRole accepts a role name exactly as spelled by Roles.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if r.s == s {
			return r, nil
		}
	}
	names := make([]string, 0, 5)
	for _, r := range Roles() {
		names = append(names, r.s)
	}
	return Role{}, Invalid("role", "role must be one of %s", strings.Join(names, ", "))
}

// CanManageMembers reports whether the role may invite, re-role and remove members.
func (r Role) CanManageMembers() bool { return r == RoleAdmin }

// CanManageAPIKeys reports whether the role may create and revoke API keys.
func (r Role) CanManageAPIKeys() bool { return r == RoleAdmin }

// CanWriteUsage reports whether the role may record metered usage.
func (r Role) CanWriteUsage() bool { return r == RoleAdmin || r == RoleEditor }

// CanChangePlan reports whether the role may change the tenant's plan.
func (r Role) CanChangePlan() bool { return r == RoleAdmin || r == RoleBillingManager }

// CanViewBilling reports whether the role may see invoices and billing state.
func (r Role) CanViewBilling() bool { return r == RoleAdmin || r == RoleBillingManager }

// CanAudit reports whether the role may export, verify and replay the event log.
func (r Role) CanAudit() bool { return r == RoleAdmin || r == RoleAuditor }

// CanEditTenant reports whether the role may change the tenant profile.
func (r Role) CanEditTenant() bool { return r == RoleAdmin }

// String returns the role name; empty for the zero value.
func (r Role) String() string { return r.s }

// IsZero reports whether r is the unset value.
func (r Role) IsZero() bool { return r.s == "" }

// MarshalText encodes the role; an unset role is an error.
func (r Role) MarshalText() ([]byte, error) {
	if r.IsZero() {
		return nil, errUnset("role")
	}
	return []byte(r.s), nil
}

// UnmarshalText decodes a role name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
