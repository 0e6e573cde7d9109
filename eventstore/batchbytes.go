package eventstore

// The byte bound of the projector's and the relay's batches: a usage batch event is up to
// about 1 MiB, so a batch bounded in count only (500 events) could hold hundreds of MiB.

// MaxBatchBytes is the default byte bound of the projector's and the relay's batches (see
// BatchBudget): a few of the largest usage batch events (about 1 MiB each) at most.
const MaxBatchBytes = 4 << 20

// BatchBudget bounds one batch of reads in bytes: the documents (data and metadata, as
// they arrive) of the events it holds. The bound is kept in Go while the rows stream in,
// so the query keeps its LIMIT and its plan: before decoding a row, the reader looks at
// the row's raw size and stops, closing the rows, when it would take the batch past Max;
// the first event of a batch is always in, so a batch passes Max only when its one event
// alone does. Closing early still lets pgx read the rest of the result off the wire, one
// row at a time into its reused buffer, so memory stays at about Max plus one event
// whatever the LIMIT (and PageLimit keeps what is read past a cut small). A budget may
// span several queries (the projector's group transaction shares one among its tenants).
type BatchBudget struct {
	Max   int  // bytes; at most 0 means no bound
	Spent int  // the documents read so far
	Cut   bool // a read stopped at the bound: the events after it are still to read
}

// NewBatchBudget is a budget of max bytes (MaxBatchBytes when max is at most 0).
func NewBatchBudget(max int) *BatchBudget {
	if max <= 0 {
		max = MaxBatchBytes
	}
	return &BatchBudget{Max: max}
}

// take reports whether an event whose documents are n bytes fits the budget, and spends
// them if so; it records the cut if not.
func (b *BatchBudget) take(n int) bool {
	if b == nil || b.Max <= 0 {
		return true
	}
	if b.Spent > 0 && b.Spent+n > b.Max {
		b.Cut = true
		return false
	}
	b.Spent += n
	return true
}

// PageLimit is the LIMIT of a reader that reads page after page within a BatchBudget. A
// read cut at the budget leaves the rows after the cut for pgx to read off the wire and
// discard when the rows close; with a LIMIT of hundreds of large events, every cut page
// would so pull up to hundreds of MiB through the connection. So after a cut page of n
// events the next page asks for 2n, and each full page that is not cut doubles the limit
// back towards Max: the rows read past a cut stay about one budget's worth. The zero value
// (with Max set) asks for Max.
type PageLimit struct {
	Max int // the count bound
	n   int // the current limit; 0: Max
}

// Limit is the LIMIT of the next page.
func (l *PageLimit) Limit() int {
	if l.n <= 0 || l.n > l.Max {
		return l.Max
	}
	return l.n
}

// Saw records a page of n events read with Limit, and whether the budget cut it. A page
// that is neither cut nor full ends the backlog: the next one asks for Max again.
func (l *PageLimit) Saw(n int, cut bool) {
	switch {
	case cut:
		l.n = min(max(2*n, 1), l.Max)
	case n < l.Limit():
		l.n = 0
	default:
		l.n = min(2*l.Limit(), l.Max)
	}
}

// Full reports whether the limit is back at Max (a reader keeping one per tenant forgets it).
func (l *PageLimit) Full() bool { return l.Limit() == l.Max }
