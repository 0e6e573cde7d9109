package httpapi

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A tenant's requests beyond its slots wait for one of them; another tenant's do not wait
// at all; a waiting request whose client leaves gives up; nothing is kept for idle tenants.
func TestFairness_OneTenantQueuesBehindItselfOnly(t *testing.T) {
	f := newFairness()
	ctx := context.Background()
	busy, quiet := uuid.New(), uuid.New()
	// A request's slot is given back by its call's yield, as the pipeline does.
	holding := func(g *gate) func() {
		cl := &call{}
		cl.slot.Store(g)
		return cl.yield
	}
	var releases []func()
	for i := 0; i < f.slots; i++ {
		g, ok := f.acquire(ctx, busy)
		require.True(t, ok)
		releases = append(releases, holding(g))
	}
	got := make(chan func(), 1)
	go func() {
		g, ok := f.acquire(ctx, busy)
		assert.True(t, ok) // not require: this is not the test's goroutine
		got <- holding(g)
	}()
	select {
	case <-got:
		t.Fatal("a request beyond the tenant's slots was let in")
	case <-time.After(50 * time.Millisecond):
	}

	g, ok := f.acquire(ctx, quiet) // another tenant is not held up
	require.True(t, ok)
	holding(g)()

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, ok = f.acquire(short, busy)
	require.False(t, ok, "a request whose client left stops waiting")

	releases[0]()
	releases[0]() // releasing twice frees one slot only
	select {
	case r := <-got:
		releases = append(releases[1:], r)
	case <-time.After(time.Second):
		t.Fatal("a freed slot was not handed to the waiting request")
	}
	for _, r := range releases {
		r()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Empty(t, f.gates, "idle tenants keep no gate")
}

// A gate kept for reuse serves the next tenant as a fresh one: its slots are all free, and
// the tenant it served before gets a gate of its own again, not a share of the reused one.
func TestFairness_AReusedGateIsAnotherTenantsOwn(t *testing.T) {
	f := newFairness()
	ctx := context.Background()
	first, second := uuid.New(), uuid.New()
	g, ok := f.acquire(ctx, first)
	require.True(t, ok)
	g.release()
	var held []*gate
	for i := 0; i < f.slots; i++ { // the second tenant takes every slot of the reused gate
		h, ok := f.acquire(ctx, second)
		require.True(t, ok, "every slot of a reused gate is free")
		held = append(held, h)
	}
	require.Same(t, g, held[0], "the idle gate was reused")
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	h, ok := f.acquire(short, first)
	require.True(t, ok, "the first tenant is not held up by the second's use of its old gate")
	require.NotSame(t, g, h)
	h.release()
	for _, h := range held {
		h.release()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Empty(t, f.gates)
	require.LessOrEqual(t, len(f.idle), maxIdleGates)
}
