package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
)

func TestErrorCode_FindsDomainErrorsThroughWrapping(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want domain.Code
	}{
		{"Nil", nil, ""},
		{"PlainError", errors.New("boom"), ""},
		{"Invalid", domain.Invalid("slug", "bad"), domain.CodeInvalid},
		{"Conflict", domain.Conflict("taken"), domain.CodeConflict},
		{"NotFound", domain.NotFound("gone"), domain.CodeNotFound},
		{"Forbidden", domain.Forbidden("no"), domain.CodeForbidden},
		{"Limit", domain.LimitExceeded("seats", "full"), domain.CodeLimit},
		{"Wrapped", fmt.Errorf("invite: %w", domain.Conflict("taken")), domain.CodeConflict},
		{"Joined", errors.Join(errors.New("x"), domain.NotFound("gone")), domain.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, domain.ErrorCode(tt.err))
		})
	}
}

func TestError_CarriesFieldAndFormattedMessage(t *testing.T) {
	err := domain.Invalid("seats", "must be at least %d", 1)
	require.Equal(t, &domain.Error{Code: domain.CodeInvalid, Field: "seats", Message: "must be at least 1"}, err)
	require.Equal(t, "must be at least 1", err.Error())

	lim := domain.LimitExceeded("seats", "all %d seats in use", 3)
	require.Equal(t, domain.CodeLimit, lim.Code)
	require.Equal(t, "seats", lim.Field)
	require.Equal(t, "all 3 seats in use", lim.Message)
}

func TestCodes_AreStableStrings(t *testing.T) {
	// The HTTP layer and clients see these strings; changing one is a breaking change.
	require.Equal(t, domain.Code("invalid"), domain.CodeInvalid)
	require.Equal(t, domain.Code("conflict"), domain.CodeConflict)
	require.Equal(t, domain.Code("not_found"), domain.CodeNotFound)
	require.Equal(t, domain.Code("forbidden"), domain.CodeForbidden)
	require.Equal(t, domain.Code("limit_exceeded"), domain.CodeLimit)
}
