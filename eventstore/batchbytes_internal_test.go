package eventstore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A budget always takes a batch's first event, however large, then stops before the event
// that would take the batch past it, and says so; several reads can share it.
func TestBatchBudget_TakesTheFirstEventThenStopsBeforeTheBound(t *testing.T) {
	b := NewBatchBudget(1000)
	require.True(t, b.take(1500), "the first event is always in")
	require.False(t, b.take(1), "nothing after a first event that passed the bound")
	require.True(t, b.Cut)

	b = NewBatchBudget(1000)
	require.True(t, b.take(400))
	require.True(t, b.take(600), "exactly at the bound")
	require.False(t, b.Cut)
	require.False(t, b.take(1))
	require.True(t, b.Cut)
	require.Equal(t, 1000, b.Spent)

	require.Equal(t, MaxBatchBytes, NewBatchBudget(0).Max)
	var unbounded *BatchBudget
	require.True(t, unbounded.take(1<<30))
}

// After a page cut at n events the next asks for 2n (at least one), full pages double the
// limit back up to Max, and a page that ends the backlog puts it back at Max.
func TestPageLimit_FollowsTheCuts(t *testing.T) {
	l := PageLimit{Max: 500}
	require.Equal(t, 500, l.Limit())
	l.Saw(3, true)
	require.Equal(t, 6, l.Limit())
	require.False(t, l.Full())
	l.Saw(0, true)
	require.Equal(t, 1, l.Limit(), "at least one")
	l.Saw(1, false)
	require.Equal(t, 2, l.Limit(), "a full page doubles it")
	for range 10 {
		l.Saw(l.Limit(), false)
	}
	require.Equal(t, 500, l.Limit(), "up to Max")
	require.True(t, l.Full())
	l.Saw(300, true)
	require.Equal(t, 500, l.Limit(), "never past Max")
	l.Saw(2, true)
	l.Saw(3, false)
	require.Equal(t, 500, l.Limit(), "the end of the backlog")
}
