package eventstore_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tenantry/tenantry/eventstore"
)

func TestAppendStreams_WritesEveryStreamInOneTransaction(t *testing.T) {
	t.Parallel()
	s := appStore(t, 4)
	tenant := newTenant(t)

	res, err := s.AppendStreams(ctx(t), tenant,
		eventstore.StreamAppend{Stream: "tenant", Expected: eventstore.NoStream, Events: evs("tenant.created", 1)},
		eventstore.StreamAppend{Stream: "membership", Expected: eventstore.NoStream, Events: evs("member.joined", 2)})
	require.NoError(t, err)
	require.Len(t, res, 2)
	require.Equal(t, int64(1), res[0].LastSeq)
	require.Equal(t, []int64{2, 3}, []int64{res[1].FirstSeq, res[1].LastSeq})
	require.Equal(t, int64(2), res[1].StreamVersion)

	all, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.Equal(t, all[0].TxID, all[2].TxID, "one transaction")
	report, err := s.VerifyChain(ctx(t), tenant)
	require.NoError(t, err)
	require.True(t, report.OK)
}

func TestAppendStreams_OneFailingPartWritesNothing(t *testing.T) {
	t.Parallel()
	s := appStore(t, 4)
	tenant := newTenant(t)
	_, err := s.Append(ctx(t), tenant, "membership", eventstore.NoStream, evs("member.joined", 1)...)
	require.NoError(t, err)

	_, err = s.AppendStreams(ctx(t), tenant,
		eventstore.StreamAppend{Stream: "tenant", Expected: eventstore.NoStream, Events: evs("tenant.created", 1)},
		eventstore.StreamAppend{Stream: "membership", Expected: eventstore.NoStream, Events: evs("member.joined", 1)})
	var conflict *eventstore.ConcurrencyError
	require.True(t, errors.As(err, &conflict), "got %v", err)
	require.Equal(t, "membership", conflict.Stream)

	all, err := s.ReadTenant(ctx(t), tenant, 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 1, "the tenant stream part was rolled back")
}
