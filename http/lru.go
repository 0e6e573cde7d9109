package httpapi

import "container/list"

// lru is a map of at most max entries that forgets the least recently used one to make
// room. Every map keyed by something a client chooses (its address, a presented secret) is
// one of these, so no sequence of requests can grow the process's memory without bound.
// It is not safe for concurrent use: its owner holds a lock.
type lru[K comparable, V any] struct {
	max   int
	order *list.List // of *lruEntry[K, V], most recently used first
	items map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	key K
	val V
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	return &lru[K, V]{max: max, order: list.New(), items: map[K]*list.Element{}}
}

// get returns the value of k and marks it used.
func (l *lru[K, V]) get(k K) (V, bool) {
	if e, ok := l.items[k]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).val, true
	}
	var zero V
	return zero, false
}

// put sets k to v, forgetting the least recently used entry when the map is full.
func (l *lru[K, V]) put(k K, v V) {
	if e, ok := l.items[k]; ok {
		e.Value.(*lruEntry[K, V]).val = v
		l.order.MoveToFront(e)
		return
	}
	if l.order.Len() >= l.max {
		if old := l.order.Back(); old != nil {
			delete(l.items, old.Value.(*lruEntry[K, V]).key)
			l.order.Remove(old)
		}
	}
	l.items[k] = l.order.PushFront(&lruEntry[K, V]{key: k, val: v})
}

// remove forgets k.
func (l *lru[K, V]) remove(k K) {
	if e, ok := l.items[k]; ok {
		delete(l.items, k)
		l.order.Remove(e)
	}
}

// removeIf forgets every entry for which drop returns true.
func (l *lru[K, V]) removeIf(drop func(K, V) bool) {
	for e := l.order.Front(); e != nil; {
		next := e.Next()
		if ent := e.Value.(*lruEntry[K, V]); drop(ent.key, ent.val) {
			delete(l.items, ent.key)
			l.order.Remove(e)
		}
		e = next
	}
}

func (l *lru[K, V]) len() int { return l.order.Len() }
