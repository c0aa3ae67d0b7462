package mediatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tldw-go/tldw/media"
)

// Fixture is what TestStore needs from an implementation: a store and two distinct users
// who own nothing in it yet and may own items (for SQL stores, existing rows in users). The
// store may be shared between subtests as long as the users are fresh: the suite looks only
// at its own users' items and never assumes particular ids.
type Fixture struct {
	Store      media.Store
	Alice, Bob int64
}

// TestStore is the media.Store conformance suite: creation and its validation, per-user
// uniqueness of content, user isolation on every method, ordering and paging of lists, the
// trash, updates, deletion, keywords and sizes. open is called once per subtest and must
// return a fixture with fresh users.
func TestStore(t *testing.T, open func(t *testing.T) Fixture) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f Fixture)
	}{
		{"CreateAndRead", testCreateAndRead},
		{"CreateValidation", testCreateValidation},
		{"Uniqueness", testUniqueness},
		{"Isolation", testIsolation},
		{"ListOrderAndPaging", testList},
		{"Trash", testTrash},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"KeywordsPerUser", testKeywordsPerUser},
		{"Sizes", testSizes},
		{"ConcurrentSameContent", testConcurrentSameContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
	}
}

// base is a fixed instant with microsecond precision, as stores keep.
var base = time.Date(2026, 11, 28, 10, 0, 0, 123456000, time.UTC)

// item returns a valid new item of user u; n makes hash and key unique.
func item(u int64, n int) *media.Item {
	return &media.Item{
		UserID: u, Title: fmt.Sprintf("Item %d", n), Author: "Ann Author", MediaType: media.TypeVideo,
		Filename: fmt.Sprintf("clip-%d.mp4", n), ContentType: "video/mp4", Size: int64(100 + n),
		ContentHash: fmt.Sprintf("%064x", int64(n)+u*1_000_000), BlobKey: fmt.Sprintf("%d/2026/11/key-%d.mp4", u, n),
		Status: media.StatusStored, Keywords: []string{"lecture", "physics"},
		CreatedAt: base.Add(time.Duration(n) * time.Minute),
	}
}

func create(t *testing.T, s media.Store, it *media.Item) *media.Item {
	t.Helper()
	if err := s.Create(context.Background(), it); err != nil {
		t.Fatalf("Create(%q): %v", it.Title, err)
	}
	return it
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: err = %v, want %v", what, err, want)
	}
}

// equal compares the stored fields of two items.
func equal(t *testing.T, what string, got, want *media.Item) {
	t.Helper()
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) || !g.UpdatedAt.Equal(w.UpdatedAt) {
		t.Errorf("%s: times = %v/%v, want %v/%v", what, g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt)
	}
	if (g.TrashedAt == nil) != (w.TrashedAt == nil) || g.TrashedAt != nil && !g.TrashedAt.Equal(*w.TrashedAt) {
		t.Errorf("%s: TrashedAt = %v, want %v", what, g.TrashedAt, w.TrashedAt)
	}
	g.CreatedAt, g.UpdatedAt, g.TrashedAt = time.Time{}, time.Time{}, nil
	w.CreatedAt, w.UpdatedAt, w.TrashedAt = time.Time{}, time.Time{}, nil
	if len(g.Keywords) == 0 {
		g.Keywords = nil
	}
	if len(w.Keywords) == 0 {
		w.Keywords = nil
	}
	if fmt.Sprintf("%+v", g) != fmt.Sprintf("%+v", w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func testCreateAndRead(t *testing.T, f Fixture) {
	ctx := context.Background()
	in := item(f.Alice, 1)
	in.Keywords = []string{"physics", "lecture"}
	create(t, f.Store, in)
	if in.ID <= 0 || len(in.UUID) != 36 {
		t.Fatalf("Create set ID %d, UUID %q", in.ID, in.UUID)
	}
	if !in.CreatedAt.Equal(base.Add(time.Minute)) || !in.UpdatedAt.Equal(in.CreatedAt) {
		t.Errorf("Create times = %v/%v, want %v twice", in.CreatedAt, in.UpdatedAt, base.Add(time.Minute))
	}
	want := *in
	want.Keywords = []string{"lecture", "physics"}
	got, err := f.Store.ByID(ctx, f.Alice, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "ByID", got, &want)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt location = %v, want UTC", got.CreatedAt.Location())
	}
	if got, err = f.Store.ByIDAny(ctx, in.ID); err != nil {
		t.Fatal(err)
	}
	equal(t, "ByIDAny", got, &want)
	if got, err = f.Store.ByHash(ctx, f.Alice, in.ContentHash); err != nil {
		t.Fatal(err)
	}
	equal(t, "ByHash", got, &want)
	got.Keywords[0] = "mutated"
	if again, _ := f.Store.ByID(ctx, f.Alice, in.ID); again.Keywords[0] != "lecture" {
		t.Error("a returned item shares its keywords with the store")
	}

	// A given UUID is kept; a zero CreatedAt becomes now.
	in2 := item(f.Alice, 2)
	given := uuid.NewString()
	in2.UUID, in2.CreatedAt = given, time.Time{}
	before := time.Now().Add(-time.Minute)
	create(t, f.Store, in2)
	if in2.UUID != given || in2.CreatedAt.Before(before) {
		t.Errorf("Create kept UUID %q, CreatedAt %v", in2.UUID, in2.CreatedAt)
	}

	for _, id := range []int64{1 << 40, -1, 0} {
		_, err := f.Store.ByID(ctx, f.Alice, id)
		wantErr(t, "ByID(missing)", err, media.ErrNotFound)
		_, err = f.Store.ByIDAny(ctx, id)
		wantErr(t, "ByIDAny(missing)", err, media.ErrNotFound)
	}
	_, err = f.Store.ByHash(ctx, f.Alice, fmt.Sprintf("%064x", 999))
	wantErr(t, "ByHash(missing)", err, media.ErrNotFound)
}

func testCreateValidation(t *testing.T, f Fixture) {
	for name, mut := range map[string]func(*media.Item){
		"no user":   func(it *media.Item) { it.UserID = 0 },
		"no title":  func(it *media.Item) { it.Title = "" },
		"no type":   func(it *media.Item) { it.MediaType = "" },
		"no hash":   func(it *media.Item) { it.ContentHash = "" },
		"no key":    func(it *media.Item) { it.BlobKey = "" },
		"no status": func(it *media.Item) { it.Status = "" },
		"neg size":  func(it *media.Item) { it.Size = -1 },
	} {
		it := item(f.Alice, 1)
		mut(it)
		wantErr(t, "Create("+name+")", f.Store.Create(context.Background(), it), media.ErrInvalid)
	}
	page, total, err := f.Store.List(context.Background(), f.Alice, media.ListOptions{Page: 1, PerPage: 10})
	if err != nil || total != 0 || len(page) != 0 {
		t.Errorf("after rejected creates: %d items (total %d), %v", len(page), total, err)
	}
}

func testUniqueness(t *testing.T, f Fixture) {
	ctx := context.Background()
	a := create(t, f.Store, item(f.Alice, 1))

	dup := item(f.Alice, 2)
	dup.ContentHash = a.ContentHash
	wantErr(t, "same user, same content", f.Store.Create(ctx, dup), media.ErrConflict)

	key := item(f.Alice, 3)
	key.BlobKey = a.BlobKey
	wantErr(t, "same blob key", f.Store.Create(ctx, key), media.ErrConflict)

	uid := item(f.Alice, 4)
	uid.UUID = a.UUID
	wantErr(t, "same uuid", f.Store.Create(ctx, uid), media.ErrConflict)

	other := item(f.Bob, 1)
	other.ContentHash = a.ContentHash
	create(t, f.Store, other) // another user may hold the same content

	// Trashed items still count for duplicates.
	if err := f.Store.SetTrashed(ctx, f.Alice, a.ID, true, base); err != nil {
		t.Fatal(err)
	}
	dup2 := item(f.Alice, 5)
	dup2.ContentHash = a.ContentHash
	wantErr(t, "same content as a trashed item", f.Store.Create(ctx, dup2), media.ErrConflict)
}

func testIsolation(t *testing.T, f Fixture) {
	ctx := context.Background()
	a := create(t, f.Store, item(f.Alice, 1))
	b := create(t, f.Store, item(f.Bob, 2))

	_, err := f.Store.ByID(ctx, f.Bob, a.ID)
	wantErr(t, "ByID(other's)", err, media.ErrNotFound)
	_, err = f.Store.ByHash(ctx, f.Bob, a.ContentHash)
	wantErr(t, "ByHash(other's)", err, media.ErrNotFound)
	wantErr(t, "SetTrashed(other's)", f.Store.SetTrashed(ctx, f.Bob, a.ID, true, base), media.ErrNotFound)
	wantErr(t, "Delete(other's)", f.Store.Delete(ctx, f.Bob, a.ID), media.ErrNotFound)
	upd := *a
	upd.UserID, upd.Title = f.Bob, "stolen"
	wantErr(t, "Update(other's)", f.Store.Update(ctx, &upd, base), media.ErrNotFound)

	list, total, err := f.Store.List(ctx, f.Bob, media.ListOptions{Page: 1, PerPage: 100})
	if err != nil || total != 1 || len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("List(Bob) = %d items (total %d), %v; want only Bob's", len(list), total, err)
	}
	sizes, err := f.Store.Sizes(ctx, f.Bob)
	if err != nil || len(sizes) != 1 || sizes[b.BlobKey] != b.Size {
		t.Errorf("Sizes(Bob) = %v, %v", sizes, err)
	}

	// Alice's item is untouched.
	got, err := f.Store.ByID(ctx, f.Alice, a.ID)
	if err != nil || got.Title != a.Title || got.Trashed {
		t.Errorf("Alice's item after Bob's attempts: %+v, %v", got, err)
	}
	if err := f.Store.SetTrashed(ctx, f.Alice, a.ID, true, base); err != nil {
		t.Fatal(err)
	}
	trash, total, err := f.Store.ListTrash(ctx, f.Bob, media.ListOptions{Page: 1, PerPage: 100})
	if err != nil || total != 0 || len(trash) != 0 {
		t.Errorf("ListTrash(Bob) = %d items (total %d), %v; want none", len(trash), total, err)
	}
}

func testList(t *testing.T, f Fixture) {
	ctx := context.Background()
	var ids []int64
	for n := range 7 {
		it := item(f.Alice, n)
		if n == 6 {
			it.CreatedAt = base.Add(5 * time.Minute) // same time as n=5: ties by id
		}
		ids = append(ids, create(t, f.Store, it).ID)
	}
	create(t, f.Store, item(f.Bob, 100))
	if err := f.Store.SetTrashed(ctx, f.Alice, ids[3], true, base); err != nil {
		t.Fatal(err)
	}
	// Newest first: 6 (tie with 5, higher id), 5, 4, 2, 1, 0.
	want := []int64{ids[6], ids[5], ids[4], ids[2], ids[1], ids[0]}
	var got []int64
	for page := 1; page <= 3; page++ {
		items, total, err := f.Store.List(ctx, f.Alice, media.ListOptions{Page: page, PerPage: 2})
		if err != nil || total != 6 {
			t.Fatalf("List page %d: total %d, %v", page, total, err)
		}
		for _, it := range items {
			if len(it.Keywords) != 2 {
				t.Errorf("List item %d keywords = %v", it.ID, it.Keywords)
			}
			got = append(got, it.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("List order = %v, want %v", got, want)
	}
	items, total, err := f.Store.List(ctx, f.Alice, media.ListOptions{Page: 9, PerPage: 2})
	if err != nil || total != 6 || len(items) != 0 {
		t.Errorf("List past the end = %d items (total %d), %v", len(items), total, err)
	}
	trash, total, err := f.Store.ListTrash(ctx, f.Alice, media.ListOptions{Page: 1, PerPage: 10})
	if err != nil || total != 1 || len(trash) != 1 || trash[0].ID != ids[3] || !trash[0].Trashed {
		t.Errorf("ListTrash = %+v (total %d), %v", trash, total, err)
	}
	for _, o := range []media.ListOptions{{Page: 0, PerPage: 10}, {Page: 1, PerPage: 0}, {Page: 1, PerPage: media.MaxPerPage + 1}} {
		_, _, err := f.Store.List(ctx, f.Alice, o)
		wantErr(t, fmt.Sprintf("List(%+v)", o), err, media.ErrInvalid)
	}
}

func testTrash(t *testing.T, f Fixture) {
	ctx := context.Background()
	a := create(t, f.Store, item(f.Alice, 1))
	at := base.Add(time.Hour)
	for range 2 { // idempotent
		if err := f.Store.SetTrashed(ctx, f.Alice, a.ID, true, at); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.Store.ByID(ctx, f.Alice, a.ID)
	if err != nil || !got.Trashed || got.TrashedAt == nil || !got.TrashedAt.Equal(at) {
		t.Fatalf("after trash: %+v, %v", got, err)
	}
	if items, _, _ := f.Store.List(ctx, f.Alice, media.ListOptions{Page: 1, PerPage: 10}); len(items) != 0 {
		t.Errorf("List shows a trashed item")
	}
	if err := f.Store.SetTrashed(ctx, f.Alice, a.ID, false, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err = f.Store.ByID(ctx, f.Alice, a.ID)
	if err != nil || got.Trashed || got.TrashedAt != nil {
		t.Fatalf("after restore: %+v, %v", got, err)
	}
	if items, _, _ := f.Store.List(ctx, f.Alice, media.ListOptions{Page: 1, PerPage: 10}); len(items) != 1 {
		t.Errorf("List after restore has %d items, want 1", len(items))
	}
	wantErr(t, "SetTrashed(missing)", f.Store.SetTrashed(ctx, f.Alice, 1<<40, true, at), media.ErrNotFound)
}

func testUpdate(t *testing.T, f Fixture) {
	ctx := context.Background()
	a := create(t, f.Store, item(f.Alice, 1))
	upd := *a
	upd.Title, upd.Author, upd.MediaType, upd.Filename = "New title", "", media.TypeAudio, "new.m4a"
	upd.Keywords = []string{"alpha", "zeta"}
	upd.ContentHash, upd.Size, upd.BlobKey = "ignored", 1, "ignored" // not updatable
	at := base.Add(2 * time.Hour)
	if err := f.Store.Update(ctx, &upd, at); err != nil {
		t.Fatal(err)
	}
	want := *a
	want.Title, want.Author, want.MediaType, want.Filename = "New title", "", media.TypeAudio, "new.m4a"
	want.Keywords, want.UpdatedAt = []string{"alpha", "zeta"}, at
	got, err := f.Store.ByID(ctx, f.Alice, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "after Update", got, &want)

	upd.Keywords = nil
	if err := f.Store.Update(ctx, &upd, at); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Store.ByID(ctx, f.Alice, a.ID); len(got.Keywords) != 0 {
		t.Errorf("keywords after clearing = %v", got.Keywords)
	}
	missing := *a
	missing.ID = 1 << 40
	wantErr(t, "Update(missing)", f.Store.Update(ctx, &missing, at), media.ErrNotFound)
}

func testDelete(t *testing.T, f Fixture) {
	ctx := context.Background()
	a := create(t, f.Store, item(f.Alice, 1))
	b := create(t, f.Store, item(f.Alice, 2))
	if err := f.Store.Delete(ctx, f.Alice, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.Store.ByID(ctx, f.Alice, a.ID)
	wantErr(t, "ByID(deleted)", err, media.ErrNotFound)
	wantErr(t, "Delete twice", f.Store.Delete(ctx, f.Alice, a.ID), media.ErrNotFound)
	if got, err := f.Store.ByID(ctx, f.Alice, b.ID); err != nil || len(got.Keywords) != 2 {
		t.Errorf("the other item after Delete: %+v, %v", got, err)
	}
	// The content may be uploaded again.
	again := item(f.Alice, 3)
	again.ContentHash = a.ContentHash
	create(t, f.Store, again)
}

func testKeywordsPerUser(t *testing.T, f Fixture) {
	ctx := context.Background()
	a := item(f.Alice, 1)
	a.Keywords = []string{"shared", "alice-only"}
	create(t, f.Store, a)
	b := item(f.Bob, 2)
	b.Keywords = []string{"shared"}
	create(t, f.Store, b)
	none := item(f.Alice, 3)
	none.Keywords = nil
	create(t, f.Store, none)

	if got, _ := f.Store.ByID(ctx, f.Bob, b.ID); !slices.Equal(got.Keywords, []string{"shared"}) {
		t.Errorf("Bob's keywords = %v", got.Keywords)
	}
	if got, _ := f.Store.ByID(ctx, f.Alice, a.ID); !slices.Equal(got.Keywords, []string{"alice-only", "shared"}) {
		t.Errorf("Alice's keywords = %v", got.Keywords)
	}
	if got, _ := f.Store.ByID(ctx, f.Alice, none.ID); len(got.Keywords) != 0 {
		t.Errorf("keywords of an item without any = %v", got.Keywords)
	}
	// Deleting Alice's item leaves Bob's keyword alone.
	if err := f.Store.Delete(ctx, f.Alice, a.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Store.ByID(ctx, f.Bob, b.ID); !slices.Equal(got.Keywords, []string{"shared"}) {
		t.Errorf("Bob's keywords after Alice's delete = %v", got.Keywords)
	}
}

func testSizes(t *testing.T, f Fixture) {
	ctx := context.Background()
	if sizes, err := f.Store.Sizes(ctx, f.Alice); err != nil || len(sizes) != 0 {
		t.Errorf("Sizes(empty) = %v, %v", sizes, err)
	}
	a := create(t, f.Store, item(f.Alice, 1))
	b := create(t, f.Store, item(f.Alice, 2))
	if err := f.Store.SetTrashed(ctx, f.Alice, b.ID, true, base); err != nil {
		t.Fatal(err)
	}
	create(t, f.Store, item(f.Bob, 3))
	sizes, err := f.Store.Sizes(ctx, f.Alice)
	want := map[string]int64{a.BlobKey: a.Size, b.BlobKey: b.Size}
	if err != nil || fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("Sizes = %v, %v; want %v (trash included)", sizes, err, want)
	}
}

func testConcurrentSameContent(t *testing.T, f Fixture) {
	const n = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok, clash int
		other     []error
	)
	for i := range n {
		wg.Go(func() {
			it := item(f.Alice, 10+i)
			it.ContentHash = fmt.Sprintf("%064x", 4242)
			err := f.Store.Create(context.Background(), it)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, media.ErrConflict):
				clash++
			default:
				other = append(other, err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || clash != n-1 || len(other) > 0 {
		t.Errorf("concurrent creates of one content: %d ok, %d conflicts, other errors %v; want 1 and %d", ok, clash, other, n-1)
	}
}
