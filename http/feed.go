package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/tenantry/tenantry/domain"
	"github.com/tenantry/tenantry/eventstore"
	"github.com/tenantry/tenantry/http/api"
)

// The per-tenant event feed (GET /v1/events, issue 19): the tenant's events in seq order, a
// page at a time after a cursor (?cursor=, as every list of the API reads, or its alias
// ?after=, the feed's name for it), with long-polling: wait=N holds a request whose page
// would be empty until the tenant records an event or N seconds pass. A waiting request is
// woken by appends (eventstore.EventWatch: this process's appends directly, other
// processes' through LISTEN/NOTIFY), never by polling, gives up its tenant's fairness slot,
// and counts against bounds per tenant and per process (429 beyond).

const (
	// maxFeedWait bounds wait=, in seconds.
	maxFeedWait = 30
	// maxFeedWaitersPerTenant bounds the requests waiting on one tenant's events at once,
	// and maxFeedWaiters those waiting in this process.
	maxFeedWaitersPerTenant = 10
	maxFeedWaiters          = 1000
)

// feedWaiters counts waiting feed requests, per tenant and in all; the zero value is ready.
type feedWaiters struct {
	mu        sync.Mutex
	perTenant map[uuid.UUID]int
	total     int
}

// acquire takes a waiting place for the tenant, or reports false when a bound is reached.
func (w *feedWaiters) acquire(tenant uuid.UUID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.total >= maxFeedWaiters || w.perTenant[tenant] >= maxFeedWaitersPerTenant {
		return false
	}
	if w.perTenant == nil {
		w.perTenant = map[uuid.UUID]int{}
	}
	w.perTenant[tenant]++
	w.total++
	return true
}

func (w *feedWaiters) release(tenant uuid.UUID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total--
	if w.perTenant[tenant]--; w.perTenant[tenant] <= 0 {
		delete(w.perTenant, tenant)
	}
}

// parseFeedWait reads wait=: "" is 0, else whole seconds from 0 to maxFeedWait.
func parseFeedWait(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxFeedWait {
		return 0, domain.Invalid("wait", "wait must be an integer number of seconds from 0 to %d", maxFeedWait)
	}
	return time.Duration(n) * time.Second, nil
}

func (s *Server) eventFeed(c *gin.Context, cl *call) {
	var bad domain.Invalids
	cursor := c.Query("cursor")
	if a, ok := c.GetQuery("after"); ok {
		if _, both := c.GetQuery("cursor"); both {
			bad = append(bad, domain.Invalid("after", "after is another name for cursor: send one of them"))
		}
		cursor = a
	}
	after, err := domain.ParseSeqCursor(domain.ListEvents, cursor)
	if err != nil {
		bad = append(bad, err.(*domain.Error))
	}
	limit, err := domain.ParsePageLimit(c.Query("limit"), domain.DefaultPageLimit, domain.MaxPageLimit)
	if err != nil {
		bad = append(bad, err.(*domain.Error))
	}
	wait, err := parseFeedWait(c.Query("wait"))
	if err != nil {
		bad = append(bad, err.(*domain.Error))
	}
	if len(bad) > 0 {
		s.failErr(c, bad)
		return
	}
	var watch *eventstore.EventWatch
	if wait > 0 { // before the read: an event recorded after it still wakes the wait
		watch = s.d.Store.WatchTenant(cl.tenant, after)
		defer watch.Close()
	}
	events, head, err := s.d.Store.FeedPage(c, cl.tenant, after, limit+1)
	if err != nil {
		s.failErr(c, err)
		return
	}
	if len(events) == 0 && wait > 0 {
		if !s.feedWaits.acquire(cl.tenant) {
			retryAfter(c, time.Second)
			fail(c, http.StatusTooManyRequests, "rate-limited", "too many requests wait for events (at most "+
				strconv.Itoa(maxFeedWaitersPerTenant)+" per tenant at once); retry after the delay in Retry-After, or without wait")
			return
		}
		defer s.feedWaits.release(cl.tenant)
		cl.yield() // waiting holds no fairness slot of the tenant
		// The connection's deadlines cover the wait (the server's read deadline would
		// otherwise end the request's context as it passes).
		rc := http.NewResponseController(c.Writer)
		_ = rc.SetReadDeadline(time.Now().Add(wait + s.d.Timeouts.Read))
		_ = rc.SetWriteDeadline(time.Now().Add(wait + s.d.Timeouts.Write))
		ctx, cancel := context.WithTimeout(waitContext(c), wait)
		defer cancel()
		for len(events) == 0 && watch.Wait(ctx) {
			if events, head, err = s.d.Store.FeedPage(c, cl.tenant, after, limit+1); err != nil {
				s.failErr(c, err)
				return
			}
		}
	}
	reply(c, http.StatusOK, feedPage(events, head, after, limit))
}

// feedPage is the answer for up to limit+1 events read after after, the tenant's head
// being head when they were read.
func feedPage(events []eventstore.Event, head, after int64, limit int) api.EventList {
	more := len(events) > limit
	if more {
		events = events[:limit]
	}
	l := api.EventList{Items: make([]api.FeedEvent, len(events))}
	for i := range events {
		e := &events[i]
		l.Items[i] = api.FeedEvent{Seq: e.Seq, ID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion, StreamID: e.StreamID,
			StreamVersion: e.StreamVersion, RecordedAt: e.RecordedAt, Data: e.Data, Metadata: e.Metadata}
		after = e.Seq
	}
	// A page cut by size holds fewer than limit events: the head says more follow.
	l.HasMore = more || after < head
	if after > 0 {
		next := domain.SeqCursor(domain.ListEvents, after)
		l.NextCursor = &next
	}
	return l
}

var docEventFeed = op{id: "listEvents", tag: "Integration", summary: "Read the tenant's events (a feed)",
	query: []param{cursorP, {name: "after", desc: "another name for cursor (send one of them): the next_cursor of the previous page", schema: schema{"type": "string"}}, limitP(domain.MaxPageLimit),
		{name: "wait", desc: "seconds, 0 to 30 (default 0): when the page would be empty, wait up to this long for the tenant's next event", schema: integerS(0, maxFeedWait)}},
	result: api.EventList{},
	desc: "The tenant's events in seq order, a page at a time after cursor (a page also ends before 1 MiB of event documents). " +
		"Unlike other lists, next_cursor is set on the last page too: keep it, and pass it with wait=N to long-poll. With wait, " +
		"a page that would be empty is held until the tenant records an event (it then answers at once) or N seconds pass " +
		"(an empty page). Waiting requests are bounded: 10 per tenant at once, 429 with Retry-After beyond. A cursor of " +
		"another list answers 400."}
