package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/tldw-go/tldw/storage"
)

// chunk is the plaintext size sealed at a time; each sealed chunk carries a 16-byte tag.
const chunk = 64 << 10

// Encrypted is a storage.Blobs that seals objects with AES-256-GCM before handing them to
// the inner store. The stored form is a random 12-byte nonce prefix followed by sealed
// chunks; chunk i uses nonce prefix‖i and the last chunk is marked, so chunks cannot be
// reordered, dropped or truncated unnoticed. Sizes reported by Put and Stat are plaintext
// sizes. Safe for concurrent use.
type Encrypted struct {
	inner storage.Blobs
	aead  cipher.AEAD
}

var _ storage.Blobs = (*Encrypted)(nil)

// NewEncrypted wraps inner with a 32-byte key.
func NewEncrypted(inner storage.Blobs, key []byte) (*Encrypted, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Encrypted{inner: inner, aead: aead}, nil
}

func (e *Encrypted) nonce(prefix []byte, i uint32, last bool) []byte {
	n := make([]byte, 12)
	copy(n, prefix[:7])
	binary.BigEndian.PutUint32(n[7:11], i)
	if last {
		n[11] = 1
	}
	return n
}

// sealedSize is the stored size of n plaintext bytes.
func sealedSize(n int64) int64 {
	chunks := n/chunk + 1
	return 7 + n + chunks*16
}

// Put encrypts r into the inner store. MaxSize applies to the plaintext.
func (e *Encrypted) Put(ctx context.Context, key string, r io.Reader, o storage.PutOptions) (storage.Info, error) {
	if err := storage.ValidKey(key); err != nil {
		return storage.Info{}, err
	}
	prefix := make([]byte, 7)
	if _, err := rand.Read(prefix); err != nil {
		return storage.Info{}, err
	}
	var plain int64
	if o.MaxSize > 0 {
		r = io.LimitReader(r, o.MaxSize+1) // never read past what decides ErrTooLarge
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := pw.Write(prefix)
		buf, next := make([]byte, chunk), make([]byte, chunk)
		n, rerr := io.ReadFull(r, buf)
		for i := uint32(0); err == nil; i++ {
			if o.MaxSize > 0 && plain+int64(n) > o.MaxSize {
				err = storage.ErrTooLarge
				break
			}
			plain += int64(n)
			if rerr != nil && rerr != io.ErrUnexpectedEOF && rerr != io.EOF {
				err = rerr
				break
			}
			last := rerr != nil
			var m int
			if !last {
				m, rerr = io.ReadFull(r, next)
				if rerr == io.EOF {
					last, rerr = true, io.EOF
				}
			}
			if _, err = pw.Write(e.aead.Seal(nil, e.nonce(prefix, i, last), buf[:n], nil)); err != nil || last {
				break
			}
			buf, next, n = next, buf, m
		}
		pw.CloseWithError(err)
	}()
	opts := o
	if o.MaxSize > 0 {
		opts.MaxSize = sealedSize(o.MaxSize)
	}
	info, err := e.inner.Put(ctx, key, pr, opts)
	pr.CloseWithError(err)
	<-done // the sealing goroutine has stopped reading r
	if err != nil {
		return storage.Info{}, err
	}
	info.Size = plain
	return info, nil
}

// Get decrypts the object as it is read.
func (e *Encrypted) Get(ctx context.Context, key string) (io.ReadCloser, storage.Info, error) {
	rc, info, err := e.inner.Get(ctx, key)
	if err != nil {
		return nil, info, err
	}
	prefix := make([]byte, 7)
	if _, err := io.ReadFull(rc, prefix); err != nil {
		rc.Close()
		return nil, info, fmt.Errorf("encryptblob: %s: short object", key)
	}
	info.Size = plainSize(info.Size)
	return &decrypter{e: e, src: rc, prefix: prefix}, info, nil
}

// plainSize inverts sealedSize.
func plainSize(stored int64) int64 {
	body := stored - 7
	chunks := (body + chunk + 16 - 1) / (chunk + 16)
	return body - chunks*16
}

// Stat reports the plaintext size.
func (e *Encrypted) Stat(ctx context.Context, key string) (storage.Info, error) {
	info, err := e.inner.Stat(ctx, key)
	info.Size = plainSize(info.Size)
	return info, err
}

// Delete removes the object.
func (e *Encrypted) Delete(ctx context.Context, key string) error { return e.inner.Delete(ctx, key) }

// decrypter opens sealed chunks one at a time.
type decrypter struct {
	e      *Encrypted
	src    io.ReadCloser
	prefix []byte
	i      uint32
	buf    []byte
	done   bool
	next   []byte
}

func (d *decrypter) Read(p []byte) (int, error) {
	for len(d.buf) == 0 {
		if d.done {
			return 0, io.EOF
		}
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, d.buf)
	d.buf = d.buf[n:]
	return n, nil
}

// fill reads the next sealed chunk; it looks one chunk ahead to know which one is last.
func (d *decrypter) fill() error {
	if d.next == nil {
		d.next = make([]byte, chunk+16)
		n, err := io.ReadFull(d.src, d.next)
		if err != nil && err != io.ErrUnexpectedEOF {
			return errors.New("encryptblob: truncated object")
		}
		d.next = d.next[:n]
	}
	cur := d.next
	ahead := make([]byte, chunk+16)
	n, err := io.ReadFull(d.src, ahead)
	last := err == io.EOF
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return err
	}
	plain, oerr := d.e.aead.Open(nil, d.e.nonce(d.prefix, d.i, last), cur, nil)
	if oerr != nil {
		return errors.New("encryptblob: object corrupted or tampered with")
	}
	d.i++
	d.buf, d.done, d.next = plain, last, ahead[:n]
	return nil
}

func (d *decrypter) Close() error { return d.src.Close() }
