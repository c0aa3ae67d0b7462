package media

import "sync"

// itemWaiters lets WaitProcessed in this process hear at once that a processing run of
// an item ended here, instead of finding out at its next poll of the database. The zero
// value is ready; safe for concurrent use.
type itemWaiters struct {
	mu sync.Mutex
	m  map[int64]*itemWait
}

type itemWait struct {
	ch chan struct{} // closed by wake
	n  int           // registered waiters
}

// wait registers interest in item id: the channel is closed when a run of it ends (wake).
// Call the returned func when no longer waiting.
func (w *itemWaiters) wait(id int64) (<-chan struct{}, func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[int64]*itemWait{}
	}
	e := w.m[id]
	if e == nil {
		e = &itemWait{ch: make(chan struct{})}
		w.m[id] = e
	}
	e.n++
	return e.ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if e.n--; e.n == 0 && w.m[id] == e {
			delete(w.m, id)
		}
	}
}

// wake tells the waiters of item id that a run ended (its state is in the database).
func (w *itemWaiters) wake(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e := w.m[id]; e != nil {
		close(e.ch)
		delete(w.m, id)
	}
}
