package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tenantry/tenantry/domain"
)

type pinged struct{ N int }

func (pinged) EventType() string  { return "test.pinged" }
func (pinged) SchemaVersion() int { return 1 }

func TestDeref_ReturnsPointedToEvent(t *testing.T) {
	require.Equal(t, pinged{N: 7}, domain.Deref(&pinged{N: 7}))
	require.Equal(t, pinged{N: 7}, domain.Deref(pinged{N: 7}))
	require.Nil(t, domain.Deref(nil))

	var nilPtr *pinged
	require.Equal(t, domain.Event(nilPtr), domain.Deref(nilPtr))
}
