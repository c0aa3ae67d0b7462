package fsblob

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"mime"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tldw-go/tldw/storage"
)

const (
	fileMode  = 0o640
	dirMode   = 0o750
	tmpPrefix = ".tmp-"
	// staleAfter is how old a temporary file must be for Open to sweep it.
	staleAfter = time.Hour
)

// Store is a storage.Blobs (and storage.Lister) on a local directory. It is safe for
// concurrent use, also by several processes sharing the directory.
type Store struct {
	root    *os.Root
	dir     string
	syncDir func(dir string) error // replaced in tests
}

var (
	_ storage.Blobs  = (*Store)(nil)
	_ storage.Lister = (*Store)(nil)
	_ storage.Pinger = (*Store)(nil)
)

// Open opens the store at root, creating the directory (0750) when missing, and sweeps
// temporary files older than an hour left by crashed writes (best effort). It returns an
// error when root is empty or cannot be created or opened. Close releases the directory.
func Open(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("fsblob: root directory is required")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("fsblob: %w", err)
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, fmt.Errorf("fsblob: create root: %w", err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("fsblob: open root: %w", err)
	}
	s := &Store{root: r, dir: abs}
	s.syncDir = s.fsyncDir
	_, _ = s.Sweep(context.Background(), time.Now().Add(-staleAfter))
	return s, nil
}

// Root returns the absolute path of the store's directory.
func (s *Store) Root() string { return s.dir }

// Close releases the root directory; the Store must not be used afterwards.
func (s *Store) Close() error { return s.root.Close() }

// Put streams r into a temporary file next to the key and renames it over the key once it
// is complete and synced. It returns ErrInvalidKey, ErrTooLarge (after reading at most
// MaxSize+1 bytes), the reader's or ctx's error, or an I/O error. On any error nothing new is
// stored under the key, except when syncing the directory fails after the rename: then the
// new object is in place but may not survive a crash.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.Info, error) {
	if err := checkKey(key); err != nil {
		return storage.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	dir := path.Dir(key)
	tmp := path.Join(dir, tmpPrefix+rand.Text())
	f, err := s.createTemp(dir, tmp)
	if err != nil {
		return storage.Info{}, fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	fi, err := s.fill(ctx, f, tmp, r, o.MaxSize)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = s.root.Rename(tmp, key)
	}
	if err != nil {
		_ = s.root.Remove(tmp)
		if errors.Is(err, storage.ErrTooLarge) {
			return storage.Info{}, fmt.Errorf("%w: %s is over %d bytes", storage.ErrTooLarge, key, o.MaxSize)
		}
		return storage.Info{}, fmt.Errorf("fsblob: put %s: %w", key, err)
	}
	if err := s.syncDir(dir); err != nil {
		return storage.Info{}, fmt.Errorf("fsblob: put %s: sync directory: %w", key, err)
	}
	return info(key, fi), nil
}

// createTemp creates the temporary file, making the key's directories when missing.
func (s *Store) createTemp(dir, tmp string) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	f, err := s.root.OpenFile(tmp, flags, fileMode)
	if errors.Is(err, fs.ErrNotExist) && dir != "." {
		if err = s.mkdirAll(dir); err == nil {
			f, err = s.root.OpenFile(tmp, flags, fileMode)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(fileMode); err != nil { // the umask must not narrow it
		f.Close()
		_ = s.root.Remove(tmp)
		return nil, err
	}
	return f, nil
}

// fill copies at most maxSize bytes (unlimited when 0) into f, stamps its modification time
// and syncs it.
func (s *Store) fill(ctx context.Context, f *os.File, tmp string, r io.Reader, maxSize int64) (fs.FileInfo, error) {
	src := io.Reader(storage.ContextReader(ctx, r))
	if maxSize > 0 {
		src = io.LimitReader(src, maxSize+1)
	}
	n, err := copyChunked(f, src)
	if err != nil {
		return nil, err
	}
	if maxSize > 0 && n > maxSize {
		return nil, storage.ErrTooLarge
	}
	// A nanosecond mtime makes ETags of quick same-size rewrites differ; best effort, as
	// some file systems refuse it.
	now := time.Now()
	_ = s.root.Chtimes(tmp, now, now)
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return f.Stat()
}

// mkdirAll creates dir and its missing parents with dirMode, whatever the umask.
func (s *Store) mkdirAll(dir string) error {
	for i := 0; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		p := dir[:i]
		err := s.root.Mkdir(p, dirMode)
		if err == nil {
			err = s.root.Chmod(p, dirMode)
		}
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// fsyncDir makes a rename in dir durable. Windows cannot sync directories (and does not need
// to).
func (s *Store) fsyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := s.root.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get opens the object's file; the caller closes it. It returns ErrInvalidKey, ErrNotExist
// (also for directories) or an I/O error, including when the path leaves the root through
// a symbolic link.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	if err := checkKey(key); err != nil {
		return nil, storage.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, storage.Info{}, err
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, storage.Info{}, mapErr("get", key, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		f.Close()
		return nil, storage.Info{}, mapErr("get", key, err)
	}
	return f, info(key, fi), nil
}

// Ping checks that a file can be created in the root directory (a temporary file, removed
// at once; a crash leaves it to the sweep like any other).
func (s *Store) Ping(ctx context.Context) error {
	name := tmpPrefix + "ping-" + rand.Text()
	f, err := s.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return fmt.Errorf("fsblob: %s not writable: %w", s.dir, err)
	}
	f.Close()
	return s.root.Remove(name)
}

// Stat describes the object. It returns ErrInvalidKey, ErrNotExist (also for directories) or
// an I/O error.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := checkKey(key); err != nil {
		return storage.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	fi, err := s.root.Stat(key)
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return storage.Info{}, mapErr("stat", key, err)
	}
	return info(key, fi), nil
}

// Delete removes the object's file; nil when it is absent or the key names a directory. It
// returns ErrInvalidKey or an I/O error. Emptied directories are kept: removing them would
// race with a concurrent Put into them.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := s.root.Lstat(key)
	if err == nil && fi.IsDir() {
		return nil
	}
	if err == nil {
		err = s.root.Remove(key)
	}
	if err != nil && !isNotExist(err) {
		return fmt.Errorf("fsblob: delete %s: %w", key, err)
	}
	return nil
}

// List yields the regular files whose key starts with prefix, in key order, streaming
// directory by directory. Temporary files, symbolic links and names that are not valid keys
// are skipped. It yields ErrInvalidKey for a prefix whose complete segments are not a valid
// key, ctx's error, or an I/O error, and then stops.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[storage.Info, error] {
	return func(yield func(storage.Info, error) bool) {
		dir := "."
		if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
			dir = prefix[:i]
			if err := checkKey(dir); err != nil {
				yield(storage.Info{}, err)
				return
			}
		}
		if strings.ContainsAny(prefix, "\x00\\") {
			yield(storage.Info{}, fmt.Errorf("%w: list prefix %q", storage.ErrInvalidKey, prefix))
			return
		}
		s.walk(ctx, dir, prefix, yield)
	}
}

// walk lists dir, visiting entries in key order: a directory "d" sorts as "d/", since every
// key below it starts with that.
func (s *Store) walk(ctx context.Context, dir, prefix string, yield func(storage.Info, error) bool) bool {
	if err := ctx.Err(); err != nil {
		return yield(storage.Info{}, err)
	}
	entries, err := s.readDir(dir)
	if isNotExist(err) {
		return true
	}
	if err != nil {
		return yield(storage.Info{}, fmt.Errorf("fsblob: list %s: %w", dir, err))
	}
	sortName := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(sortName(a), sortName(b)) })
	for _, e := range entries {
		key := e.Name()
		if dir != "." {
			key = dir + "/" + key
		}
		switch {
		case strings.HasPrefix(e.Name(), tmpPrefix) || checkKey(key) != nil:
		case e.IsDir():
			if sub := key + "/"; strings.HasPrefix(sub, prefix) || strings.HasPrefix(prefix, sub) {
				if !s.walk(ctx, key, prefix, yield) {
					return false
				}
			}
		case e.Type().IsRegular() && strings.HasPrefix(key, prefix):
			fi, err := e.Info()
			if isNotExist(err) {
				continue // deleted meanwhile
			}
			if err != nil {
				return yield(storage.Info{}, fmt.Errorf("fsblob: list %s: %w", key, err))
			}
			if !yield(info(key, fi), nil) {
				return false
			}
		}
	}
	return true
}

func (s *Store) readDir(dir string) ([]fs.DirEntry, error) {
	d, err := s.root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadDir(-1)
}

// Sweep removes temporary files last modified before the cutoff: the leftovers of writes
// interrupted by a crash. Files of Puts in progress are younger and stay. It returns how many
// it removed and the first error met (it continues past errors).
func (s *Store) Sweep(ctx context.Context, before time.Time) (int, error) {
	removed := 0
	var first error
	note := func(err error) {
		if first == nil {
			first = fmt.Errorf("fsblob: sweep: %w", err)
		}
	}
	err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			note(err)
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tmpPrefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(before) {
			return nil
		}
		if err := s.root.Remove(p); err != nil && !isNotExist(err) {
			note(err)
			return nil
		}
		removed++
		return nil
	})
	if err != nil {
		note(err)
	}
	return removed, first
}

// checkKey is storage.ValidKey plus the reserved temporary-file names.
func checkKey(key string) error {
	if err := storage.ValidKey(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, tmpPrefix) || strings.Contains(key, "/"+tmpPrefix) {
		return fmt.Errorf("%w: %q: segments starting with %q are reserved", storage.ErrInvalidKey, key, tmpPrefix)
	}
	return nil
}

func info(key string, fi fs.FileInfo) storage.Info {
	mt := fi.ModTime()
	return storage.Info{
		Key:         key,
		Size:        fi.Size(),
		ModTime:     mt.UTC(),
		ContentType: contentType(key),
		ETag:        strconv.FormatInt(mt.UnixNano(), 16) + "-" + strconv.FormatInt(fi.Size(), 16),
	}
}

func contentType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// isNotExist also treats "a path segment is a file" (ENOTDIR) as absence.
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func mapErr(op, key string, err error) error {
	if isNotExist(err) {
		return fmt.Errorf("%w: %s", storage.ErrNotExist, key)
	}
	return fmt.Errorf("fsblob: %s %s: %w", op, key, err)
}

// copyBufSize is how much copyChunked writes at a time: large enough that a body arriving in
// 4 KiB multipart pieces costs one write system call per 128 KiB, small enough that 100
// parallel uploads hold 12.5 MiB.
const copyBufSize = 128 << 10

// copyChunked copies r to f in copyBufSize writes. (io.Copy would hand f.ReadFrom the reader
// and write each small read separately.)
func copyChunked(f *os.File, r io.Reader) (int64, error) {
	buf := make([]byte, copyBufSize)
	var n int64
	for {
		k, err := io.ReadFull(r, buf)
		if k > 0 {
			if _, werr := f.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return n, nil
		default:
			return n, err
		}
	}
}
