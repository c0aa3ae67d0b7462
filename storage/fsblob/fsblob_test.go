package fsblob

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/storage"
	"github.com/tldw-go/tldw/storage/storagetest"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storagetest.TestBlobs(t, func(t *testing.T) storage.Blobs { return open(t) })
}

func put(t *testing.T, s *Store, key, data string) storage.Info {
	t.Helper()
	info, err := s.Put(t.Context(), key, strings.NewReader(data), storage.PutOptions{})
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return info
}

func TestLayout(t *testing.T) {
	s := open(t)
	if !filepath.IsAbs(s.Root()) {
		t.Errorf("Root() = %q, want an absolute path", s.Root())
	}
	put(t, s, "42/2026/11/abc.mp4", "video")
	got, err := os.ReadFile(filepath.Join(s.Root(), "42", "2026", "11", "abc.mp4"))
	if err != nil || string(got) != "video" {
		t.Errorf("file at root/key = %q, %v; want \"video\"", got, err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(file); err == nil {
		t.Error("Open(a regular file) succeeded")
	}
	nested := filepath.Join(t.TempDir(), "a", "b")
	s, err := Open(nested)
	if err != nil {
		t.Fatalf("Open(missing nested dir): %v", err)
	}
	s.Close()
	if fi, err := os.Stat(nested); err != nil || fi.Mode().Perm() != dirMode {
		t.Errorf("created root: %v, %v; want mode %o", fi, err, dirMode)
	}
}

func TestSymlinkEscape(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"u1":       outside,                                                   // absolute, to a directory
		"link.txt": secret,                                                    // absolute, to a file
		"up":       "..",                                                      // relative, climbing out
		"rel.txt":  filepath.Join("..", filepath.Base(outside), "secret.txt"), // relative, to a file
	} {
		if err := os.Symlink(target, filepath.Join(s.Root(), name)); err != nil {
			t.Skipf("cannot create symlinks: %v", err)
		}
	}

	for _, key := range []string{"u1/secret.txt", "link.txt", "rel.txt", "up/" + filepath.Base(outside) + "/secret.txt"} {
		if rc, _, err := s.Get(ctx, key); err == nil {
			data, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("Get(%q) followed a symlink out of the root and read %q", key, data)
		}
		if _, err := s.Stat(ctx, key); err == nil {
			t.Errorf("Stat(%q) followed a symlink out of the root", key)
		}
	}
	for _, key := range []string{"u1/new.txt", "u1/sub/new.txt", "up/new.txt"} {
		if _, err := s.Put(ctx, key, strings.NewReader("x"), storage.PutOptions{}); err == nil {
			t.Errorf("Put(%q) wrote through a symlink out of the root", key)
		}
	}
	if err := s.Delete(ctx, "u1/secret.txt"); err == nil {
		t.Error("Delete through a symlink out of the root succeeded")
	}
	// Putting a key that is itself a symlink replaces the link, not its target.
	put(t, s, "link.txt", "replaced")
	if fi, err := os.Lstat(filepath.Join(s.Root(), "link.txt")); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("link.txt after Put: %v, %v; want a regular file", fi, err)
	}

	entries, err := os.ReadDir(outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("outside directory holds %d entries, want only secret.txt", len(entries))
	}
	if got, _ := os.ReadFile(secret); string(got) != "secret" {
		t.Errorf("outside file changed to %q", got)
	}
	var keys []string
	for info, err := range s.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if !slices.Equal(keys, []string{"link.txt"}) {
		t.Errorf("List = %q, want only the regular file link.txt (symlinks skipped)", keys)
	}
}

func TestCrashLeftovers(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	put(t, s, "u1/keep.txt", "keep")
	// A crash mid-Put leaves only a temporary file, never a half file under the key.
	dir := filepath.Join(s.Root(), "u1")
	stale := filepath.Join(dir, tmpPrefix+"STALE")
	fresh := filepath.Join(dir, tmpPrefix+"FRESH")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("half a vid"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	if _, err := s.Stat(ctx, "u1/video.mp4"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat of the interrupted key = %v, want ErrNotExist", err)
	}
	for _, key := range []string{"u1/" + tmpPrefix + "STALE", tmpPrefix + "x", "a/" + tmpPrefix + "d/b"} {
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidKey (reserved name)", key, err)
		}
		if _, err := s.Put(ctx, key, strings.NewReader("x"), storage.PutOptions{}); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey (reserved name)", key, err)
		}
	}
	var keys []string
	for info, err := range s.List(ctx, "u1/") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, info.Key)
	}
	if !slices.Equal(keys, []string{"u1/keep.txt"}) {
		t.Errorf("List = %q, want temporary files excluded", keys)
	}

	// Reopening sweeps the stale file and keeps the fresh one (a Put may be writing it).
	s2, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file after Open: %v, want removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file after Open: %v, want kept", err)
	}
	n, err := s2.Sweep(ctx, time.Now().Add(time.Minute))
	if err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v; want 1 removed", n, err)
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("temporary file after Sweep: %v, want removed", err)
	}
	if _, err := s2.Stat(ctx, "u1/keep.txt"); err != nil {
		t.Errorf("Sweep touched a real object: %v", err)
	}
}

func TestFailedPutLeavesNoTempFile(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	put(t, s, "u1/a.txt", "a")
	boom := errors.New("boom")
	if _, err := s.Put(ctx, "u1/b.txt", io.MultiReader(strings.NewReader("part"), errReader{boom}), storage.PutOptions{}); !errors.Is(err, boom) {
		t.Fatalf("Put = %v, want the reader's error", err)
	}
	if _, err := s.Put(ctx, "u1/c.txt", strings.NewReader("too large"), storage.PutOptions{MaxSize: 3}); !errors.Is(err, storage.ErrTooLarge) {
		t.Fatalf("Put = %v, want ErrTooLarge", err)
	}
	entries, err := os.ReadDir(filepath.Join(s.Root(), "u1"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "a.txt" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory after failed Puts holds %q, want only a.txt", names)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestModes(t *testing.T) {
	s := open(t)
	put(t, s, "u1/a/b.txt", "x")
	checkModes(t, s.Root())
}

func checkModes(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{"u1", "u1/a"} {
		fi, err := os.Stat(filepath.Join(root, d))
		if err != nil || fi.Mode().Perm() != dirMode {
			t.Errorf("dir %s: %v, %v; want mode %o", d, fi, err, dirMode)
		}
	}
	fi, err := os.Stat(filepath.Join(root, "u1", "a", "b.txt"))
	if err != nil || fi.Mode().Perm() != fileMode {
		t.Errorf("file: %v, %v; want mode %o", fi, err, fileMode)
	}
}

func TestDirSync(t *testing.T) {
	s := open(t)
	var synced []string
	s.syncDir = func(dir string) error {
		synced = append(synced, dir)
		return s.fsyncDir(dir) // the real one, on the real directory
	}
	put(t, s, "u1/x/y.txt", "y")
	put(t, s, "top.txt", "t")
	if !slices.Equal(synced, []string{"u1/x", "."}) {
		t.Errorf("synced directories %q, want the key's directory after each rename", synced)
	}

	broken := errors.New("sync failed")
	s.syncDir = func(string) error { return broken }
	if _, err := s.Put(t.Context(), "u1/z.txt", strings.NewReader("z"), storage.PutOptions{}); !errors.Is(err, broken) {
		t.Errorf("Put with a failing directory sync = %v, want that error", err)
	}
}

func TestContentTypeFromExtension(t *testing.T) {
	s := open(t)
	ctx := t.Context()
	for key, want := range map[string]string{
		"u1/a.png":   "image/png",
		"u1/a.json":  "application/json",
		"u1/noext":   "application/octet-stream",
		"u1/a.weird": "application/octet-stream",
	} {
		info, err := s.Put(ctx, key, bytes.NewReader(nil), storage.PutOptions{ContentType: "text/x-ignored"})
		if err != nil {
			t.Fatal(err)
		}
		st, err := s.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if info.ContentType != want || st.ContentType != want {
			t.Errorf("%s: Put type %q, Stat type %q; want %q", key, info.ContentType, st.ContentType, want)
		}
	}
}

func TestListBadPrefix(t *testing.T) {
	s := open(t)
	for _, p := range []string{"../", "a/../b", "/abs", "a\\b", "a\x00"} {
		var got error
		for _, err := range s.List(t.Context(), p) {
			got = err
		}
		if !errors.Is(got, storage.ErrInvalidKey) {
			t.Errorf("List(%q) error = %v, want ErrInvalidKey", p, got)
		}
	}
}

// TestPingMissingDir: Ping reports a root directory that has gone away.
func TestPingMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "media")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after the directory was removed = nil, want an error")
	}
}
