package sqlstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage/sqlstore"
	"github.com/tldw-go/tldw/storage/storagetest"
)

// hookStore calls after (when set) once a Create or Delete has succeeded, still inside the
// caller's step.
type hookStore struct {
	media.Store
	after func()
}

func (h *hookStore) Create(ctx context.Context, it *media.Item) error {
	err := h.Store.Create(ctx, it)
	if err == nil && h.after != nil {
		h.after()
	}
	return err
}

func (h *hookStore) Delete(ctx context.Context, userID, id int64) error {
	err := h.Store.Delete(ctx, userID, id)
	if err == nil && h.after != nil {
		h.after()
	}
	return err
}

// lockSpy reports on entered each time Locked is called.
type lockSpy struct {
	quota.Ledger
	entered chan struct{}
}

func (l *lockSpy) Locked(ctx context.Context, subject string, r quota.Resource, fn func(ctx context.Context) error) error {
	select {
	case l.entered <- struct{}{}:
	default:
	}
	return l.Ledger.Locked(ctx, subject, r, fn)
}

// raceEnv is a media.Service on db (svc, whose store has the hook) and a second Service
// on the same database for recalculations (recalc, whose ledger has the spy).
type raceEnv struct {
	svc, recalc *media.Service
	hook        *hookStore
	spy         *lockSpy
	user        int64
}

func newRaceEnv(t *testing.T, db *sqlstore.DB, quotaMB int64) *raceEnv {
	l := db.Ledger(sqlstore.LedgerOptions{})
	e := &raceEnv{hook: &hookStore{Store: db.Media()}, spy: &lockSpy{Ledger: l, entered: make(chan struct{}, 1)}}
	blobs := storagetest.Memory()
	e.svc = &media.Service{Store: e.hook, Blobs: blobs, Ledger: l}
	e.recalc = &media.Service{Store: db.Media(), Blobs: blobs, Ledger: e.spy}
	e.user = mediaUser(t, db, "racer")
	if err := l.SetLimit(context.Background(), fmt.Sprint(e.user), quota.ResourceStorage, quotaMB<<20); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *raceEnv) upload(t *testing.T, size int, seed byte, declared bool) (*media.Result, error) {
	t.Helper()
	body := bytes.Repeat([]byte{seed}, size)
	d := int64(-1)
	if declared {
		d = int64(size)
	}
	return e.svc.Upload(context.Background(), media.Upload{Actor: media.Actor{UserID: e.user},
		Filename: fmt.Sprintf("f%d.bin", seed), MediaType: media.TypeDocument, Body: bytes.NewReader(body), DeclaredSize: d})
}

// recalcDuring makes the next hooked Create or Delete run a recalculation (with fix) in the
// middle of its step: it waits until the recalculation has finished (it ran in the gap) or
// is waiting for the lock, and returns a wait for its result.
func (e *raceEnv) recalcDuring() (wait func() error) {
	done := make(chan error, 1)
	var result chan error
	e.hook.after = func() {
		e.hook.after = nil
		go func() {
			_, err := e.recalc.Reconcile(context.Background(), e.user, true)
			done <- err
		}()
		select {
		case err := <-done:
			done <- err
		case <-e.spy.entered:
		}
		result = done
	}
	return func() error { return <-result }
}

// wantConsistent checks that recorded usage equals the sum of the user's item sizes and
// that nothing stays reserved.
func (e *raceEnv) wantConsistent(t *testing.T, wantUsed int64) {
	t.Helper()
	ctx := context.Background()
	u, err := e.svc.Usage(ctx, e.user)
	if err != nil {
		t.Fatal(err)
	}
	sizes, err := e.svc.Store.Sizes(ctx, e.user)
	if err != nil {
		t.Fatal(err)
	}
	var actual int64
	for _, n := range sizes {
		actual += n
	}
	if u.Used != actual || u.Used != wantUsed || u.Reserved != 0 {
		t.Errorf("recorded %d (reserved %d), stored %d; want %d recorded and stored, 0 reserved", u.Used, u.Reserved, actual, wantUsed)
	}
}

// TestRecalculateRacesDeleteAndUpload: a recalculation that lands between a permanent
// delete's row removal and its usage change, or between an upload's item row and its
// commit, leaves usage equal to what is stored (it used to leave 0 recorded with 256 KiB
// stored, or charge an upload twice).
func TestRecalculateRacesDeleteAndUpload(t *testing.T) {
	quotaDialects(t, func(t *testing.T, db *sqlstore.DB) {
		e := newRaceEnv(t, db, 10)
		const kib256 = 256 << 10
		a, err := e.upload(t, kib256, 'a', true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.upload(t, kib256, 'b', true); err != nil {
			t.Fatal(err)
		}
		wait := e.recalcDuring()
		if err := e.svc.DeletePermanent(context.Background(), media.Actor{UserID: e.user}, a.Item.ID); err != nil {
			t.Fatal(err)
		}
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		e.wantConsistent(t, kib256)

		wait = e.recalcDuring()
		if _, err := e.upload(t, kib256, 'c', false); err != nil {
			t.Fatal(err)
		}
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		e.wantConsistent(t, 2*kib256)
	})
}

// gatedBody holds its first Read until release is closed, after marking arrival.
type gatedBody struct {
	r       io.Reader
	once    *sync.Once
	arrived *sync.WaitGroup
	release chan struct{}
}

func (g gatedBody) Read(p []byte) (int, error) {
	g.once.Do(func() { g.arrived.Done(); <-g.release })
	return g.r.Read(p)
}

// TestChunkedUploadsReserveInSteps: 12 parallel uploads of unknown size, 3 MiB in all,
// under a 16 MiB quota all succeed (each used to reserve the whole remaining allowance, so
// all but one failed); one that grows past its first step succeeds, and one that does not
// fit fails with the quota error and leaves nothing reserved.
func TestChunkedUploadsReserveInSteps(t *testing.T) {
	quotaDialects(t, func(t *testing.T, db *sqlstore.DB) {
		e := newRaceEnv(t, db, 16)
		const n, size = 12, 256 << 10
		var (
			wg      sync.WaitGroup
			arrived sync.WaitGroup
			release = make(chan struct{})
			errs    = make(chan error, n)
		)
		arrived.Add(n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				once := new(sync.Once)
				body := gatedBody{r: bytes.NewReader(bytes.Repeat([]byte{byte(i)}, size)), once: once, arrived: &arrived, release: release}
				_, err := e.svc.Upload(context.Background(), media.Upload{Actor: media.Actor{UserID: e.user},
					Filename: fmt.Sprintf("c%d.bin", i), MediaType: media.TypeDocument, Body: body, DeclaredSize: -1})
				once.Do(arrived.Done) // refused before reading
				errs <- err
			}()
		}
		arrived.Wait() // every upload holds its reservation (or was refused) at once
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("parallel chunked upload: %v", err)
			}
		}
		e.wantConsistent(t, n*size)

		if _, err := e.upload(t, 5<<20, 'g', false); err != nil {
			t.Fatalf("chunked upload growing to 5 MiB: %v", err)
		}
		e.wantConsistent(t, n*size+5<<20)
		_, err := e.upload(t, 9<<20, 'h', false)
		if !errors.Is(err, media.ErrQuotaExceeded) {
			t.Fatalf("chunked upload past the quota: %v, want ErrQuotaExceeded", err)
		}
		e.wantConsistent(t, n*size+5<<20)
	})
}
