package media

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
)

// Limits of OpenZip, checked before and while inflating.
const (
	MaxZipEntries  = 10_000  // entries in one archive
	MaxZipInflated = 1 << 30 // bytes inflated from one archive in all
	MaxZipRatio    = 200     // inflated/compressed size of one entry over 1 MiB
)

// Zip is a zip container (DOCX, PPTX, EPUB, ...) opened for reading with zip-bomb checks:
// the entry count, each entry's declared size and compression ratio, and the real inflated
// bytes (declared sizes can lie). It is never unpacked recursively. Not safe for concurrent
// use.
type Zip struct {
	ctx    context.Context
	zr     *zip.Reader
	budget int64
}

// OpenZip opens raw as a zip. It returns an ErrInvalid-wrapped error when raw is not a zip
// or has too many entries.
func OpenZip(ctx context.Context, raw []byte) (*Zip, error) {
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, Detailf(ErrInvalid, "not a readable zip: %v", err)
	}
	if len(zr.File) > MaxZipEntries {
		return nil, Detailf(ErrInvalid, "%d zip entries, the limit is %d", len(zr.File), MaxZipEntries)
	}
	return &Zip{ctx: ctx, zr: zr, budget: MaxZipInflated}, nil
}

// Names lists the entries in archive order.
func (z *Zip) Names() []string {
	out := make([]string, len(z.zr.File))
	for i, f := range z.zr.File {
		out[i] = f.Name
	}
	return out
}

// Open returns the named entry. It returns ErrInvalid-wrapped errors for a missing entry, an
// entry that declares a bomb's size or ratio, or one that inflates past the archive's
// budget while being read; reads also stop with ctx's error.
func (z *Zip) Open(name string) (io.ReadCloser, error) {
	for _, f := range z.zr.File {
		if f.Name != name {
			continue
		}
		if f.UncompressedSize64 > uint64(z.budget) ||
			(f.UncompressedSize64 > 1<<20 && f.UncompressedSize64 > MaxZipRatio*f.CompressedSize64) {
			return nil, Detailf(ErrInvalid, "%s inflates to %d bytes from %d: refusing a zip bomb", name, f.UncompressedSize64, f.CompressedSize64)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, Detailf(ErrInvalid, "%s: %v", name, err)
		}
		return &zipEntry{rc: rc, z: z, name: name}, nil
	}
	return nil, Detailf(ErrInvalid, "%s missing from the archive", name)
}

// zipEntry fails once the archive's inflated-bytes budget is spent.
type zipEntry struct {
	rc   io.ReadCloser
	z    *Zip
	name string
}

func (e *zipEntry) Read(p []byte) (int, error) {
	if err := e.z.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := e.rc.Read(p)
	e.z.budget -= int64(n)
	if e.z.budget < 0 {
		return n, Detailf(ErrInvalid, "%s inflates past the limit: refusing a zip bomb", e.name)
	}
	return n, err
}

func (e *zipEntry) Close() error { return e.rc.Close() }
