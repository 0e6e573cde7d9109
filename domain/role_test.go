package domain_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
)

func TestParseRole_AcceptsExactNamesOnly(t *testing.T) {
	for _, r := range domain.Roles() {
		got, err := domain.ParseRole(r.String())
		require.NoError(t, err)
		require.Equal(t, r, got)
	}
	require.Equal(t, []string{"admin", "editor", "viewer", "billing_manager", "auditor"},
		[]string{domain.RoleAdmin.String(), domain.RoleEditor.String(), domain.RoleViewer.String(),
			domain.RoleBillingManager.String(), domain.RoleAuditor.String()})
	for _, bad := range []string{"", "Admin", "owner", "billing-manager", " admin"} {
		_, err := domain.ParseRole(bad)
		requireInvalid(t, err, "role")
		require.Contains(t, err.Error(), "billing_manager")
	}
}

func TestRole_CapabilitiesMatchTheRouteTable(t *testing.T) {
	type caps struct{ members, keys, usage, plan, billing, audit, edit bool }
	tests := []struct {
		role domain.Role
		want caps
	}{
		{domain.RoleAdmin, caps{true, true, true, true, true, true, true}},
		{domain.RoleEditor, caps{usage: true}},
		{domain.RoleViewer, caps{}},
		{domain.RoleBillingManager, caps{plan: true, billing: true}},
		{domain.RoleAuditor, caps{audit: true}},
		{domain.Role{}, caps{}},
	}
	for _, tt := range tests {
		t.Run("Role_"+tt.role.String(), func(t *testing.T) {
			r := tt.role
			got := caps{r.CanManageMembers(), r.CanManageAPIKeys(), r.CanWriteUsage(), r.CanChangePlan(),
				r.CanViewBilling(), r.CanAudit(), r.CanEditTenant()}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRole_EncodesAsItsName(t *testing.T) {
	b, err := json.Marshal(domain.RoleBillingManager)
	require.NoError(t, err)
	require.Equal(t, `"billing_manager"`, string(b))
	var r domain.Role
	require.NoError(t, json.Unmarshal(b, &r))
	require.Equal(t, domain.RoleBillingManager, r)
	require.Error(t, json.Unmarshal([]byte(`"owner"`), &r))
	_, err = json.Marshal(domain.Role{})
	require.Error(t, err)
	require.True(t, domain.Role{}.IsZero())
}
