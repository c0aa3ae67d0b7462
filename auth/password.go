package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// MaxPasswordBytes caps password input before any hashing work (1 KiB).
const MaxPasswordBytes = 1024

// Argon2Params are the argon2id cost parameters (ARGON2_MEMORY_COST,
// ARGON2_TIME_COST, ARGON2_PARALLELISM). A zero field means the default.
type Argon2Params struct {
	MemoryKiB uint32 // memory in KiB; default 32768 (32 MiB)
	Time      uint32 // passes; default 2
	Threads   uint8  // parallelism; default 1
	KeyLen    uint32 // hash length in bytes; default 32
	SaltLen   uint32 // salt length in bytes; default 16
}

// DefaultArgon2Params returns tldw_server's parameters: 32768 KiB, 2 passes,
// 1 thread, 32-byte hash, 16-byte salt.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{MemoryKiB: 32768, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}
}

// Bounds accepted for argon2id parameters, both in configuration and in
// stored hashes (a tampered hash must not be able to demand 100 GiB).
const (
	minArgonMemoryKiB = 8
	maxArgonMemoryKiB = 4 << 20 // 4 GiB
	maxArgonTime      = 64
	minArgonKeyLen    = 16
	maxArgonKeyLen    = 128
	minArgonSaltLen   = 8
	maxArgonSaltLen   = 64
	maxBcryptCost     = 16
	bcryptMaxPassword = 72
)

// withDefaults fills zero fields with the defaults.
func (p Argon2Params) withDefaults() Argon2Params {
	d := DefaultArgon2Params()
	if p.MemoryKiB == 0 {
		p.MemoryKiB = d.MemoryKiB
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	return p
}

// Validate checks the parameters (after filling defaults) against sane
// bounds: memory 8 KiB–4 GiB and at least 8 KiB per thread, 1–64 passes,
// key 16–128 bytes, salt 16–64 bytes. It returns an error wrapping ErrInvalid
// that lists every problem. Configuration loading should call it.
func (p Argon2Params) Validate() error {
	p = p.withDefaults()
	var problems []string
	if p.MemoryKiB < minArgonMemoryKiB || p.MemoryKiB > maxArgonMemoryKiB {
		problems = append(problems, "ARGON2_MEMORY_COST must be between 8 and 4194304 KiB")
	}
	if p.MemoryKiB < 8*uint32(p.Threads) {
		problems = append(problems, "ARGON2_MEMORY_COST must be at least 8 KiB per thread")
	}
	if p.Time > maxArgonTime {
		problems = append(problems, "ARGON2_TIME_COST must be between 1 and 64")
	}
	if p.KeyLen < minArgonKeyLen || p.KeyLen > maxArgonKeyLen {
		problems = append(problems, "argon2 key length must be between 16 and 128 bytes")
	}
	if p.SaltLen < 16 || p.SaltLen > maxArgonSaltLen {
		problems = append(problems, "argon2 salt length must be between 16 and 64 bytes")
	}
	if len(problems) > 0 {
		return Detailf(ErrInvalid, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// Hasher hashes and verifies passwords with argon2id (and verifies imported
// bcrypt hashes). Every hash or verification takes one of a fixed number of
// slots, so a login flood queues briefly and then fails with ErrBusy instead
// of exhausting memory (each argon2 run allocates MemoryKiB).
//
// A Hasher is safe for concurrent use.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
	wait   time.Duration
}

// NewHasher returns a Hasher for p (zero fields take the defaults; call
// p.Validate first for operator input). maxConcurrent ≤ 0 means
// runtime.GOMAXPROCS(0) slots; wait ≤ 0 means 2 s, the longest a call waits
// for a slot before failing with ErrBusy.
func NewHasher(p Argon2Params, maxConcurrent int, wait time.Duration) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.GOMAXPROCS(0)
	}
	if wait <= 0 {
		wait = 2 * time.Second
	}
	return &Hasher{params: p.withDefaults(), slots: make(chan struct{}, maxConcurrent), wait: wait}
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Argon2Params { return h.params }

// acquire takes a slot, waiting at most h.wait. It returns ErrBusy on
// timeout and ctx.Err() when ctx ends first.
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-h.slots }
	select {
	case h.slots <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Hash returns the argon2id hash of password in PHC string form:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<hash>, with salt and
// hash in unpadded standard base64. The password is used exactly as given
// (no trimming, folding or truncation).
//
// Errors: ErrInvalid (wrapped) for an empty password or one longer than
// MaxPasswordBytes; ErrBusy when no slot frees up in time; ctx.Err(); an
// error from the random source.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if password == "" {
		return "", Detailf(ErrInvalid, "password is empty")
	}
	if len(password) > MaxPasswordBytes {
		return "", Detailf(ErrInvalid, "password is longer than %d bytes", MaxPasswordBytes)
	}
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: reading random salt: %w", err)
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

// Verify reports whether password matches encoded, an argon2id PHC string
// or a bcrypt hash ($2a$, $2b$, $2y$, cost ≤ 16). needsRehash is true when
// ok and the hash should be replaced by Hash(password): it is bcrypt, or its
// argon2id parameters differ from the Hasher's.
//
// An empty password or encoded hash, or a password longer than
// MaxPasswordBytes (72 bytes for bcrypt, which would otherwise truncate),
// is never ok and returns no error. A wrong password is (false, false, nil).
// Errors are reserved for a broken backend: an unrecognised or out-of-bounds
// stored hash, ErrBusy, ctx.Err().
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	if password == "" || encoded == "" || len(password) > MaxPasswordBytes {
		return false, false, nil
	}
	if isBcrypt(encoded) {
		return h.verifyBcrypt(ctx, password, encoded)
	}
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	cur := h.params
	stale := p.MemoryKiB != cur.MemoryKiB || p.Time != cur.Time || p.Threads != cur.Threads ||
		p.KeyLen != cur.KeyLen || uint32(len(salt)) != cur.SaltLen
	return true, stale, nil
}

// VerifyDummy does the work of one verification with the current parameters
// and discards the result. Call it when the user does not exist, so that a
// failed login takes as long for unknown users as for known ones. It takes a
// slot like Verify and fails the same way when none is free (ErrBusy,
// ctx.Err()), so a busy server answers unknown and known users alike.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	if len(password) > MaxPasswordBytes {
		return nil
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	p := h.params
	salt := make([]byte, p.SaltLen) // fixed all-zero salt: the result is never compared
	_ = argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
	return nil
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

func (h *Hasher) verifyBcrypt(ctx context.Context, password, encoded string) (bool, bool, error) {
	cost, err := bcrypt.Cost([]byte(encoded))
	if err != nil {
		return false, false, fmt.Errorf("auth: malformed bcrypt hash: %w", err)
	}
	if cost > maxBcryptCost {
		return false, false, fmt.Errorf("auth: bcrypt cost %d exceeds %d", cost, maxBcryptCost)
	}
	if len(password) > bcryptMaxPassword {
		return false, false, nil // bcrypt would silently truncate; refuse instead
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	err = bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
	if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("auth: malformed bcrypt hash: %w", err)
	}
	return true, true, nil
}

var b64 = base64.RawStdEncoding

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// errMalformedHash marks a stored hash we cannot parse: a backend problem,
// deliberately not ErrInvalid or ErrUnauthenticated.
var errMalformedHash = errors.New("auth: malformed argon2id hash")

// decodePHC parses $argon2id$v=19$m=M,t=T,p=P$salt$hash strictly and checks
// the parameters against the bounds above.
func decodePHC(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("%w: not an argon2id PHC string", errMalformedHash)
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", errMalformedHash, parts[2])
	}
	var m, t, th uint64
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return p, nil, nil, fmt.Errorf("%w: bad parameter %q", errMalformedHash, kv)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return p, nil, nil, fmt.Errorf("%w: bad parameter %q", errMalformedHash, kv)
		}
		switch {
		case k == "m" && seen == 0:
			m = n
		case k == "t" && seen == 1:
			t = n
		case k == "p" && seen == 2:
			th = n
		default:
			return p, nil, nil, fmt.Errorf("%w: unexpected parameter %q", errMalformedHash, kv)
		}
		seen++
	}
	if seen != 3 {
		return p, nil, nil, fmt.Errorf("%w: want m, t and p", errMalformedHash)
	}
	if th < 1 || th > 255 || t < 1 || t > maxArgonTime || m < minArgonMemoryKiB || m > maxArgonMemoryKiB || m < 8*th {
		return p, nil, nil, fmt.Errorf("%w: parameters out of bounds", errMalformedHash)
	}
	salt, err = b64.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < minArgonSaltLen || len(salt) > maxArgonSaltLen {
		return p, nil, nil, fmt.Errorf("%w: bad salt", errMalformedHash)
	}
	key, err = b64.Strict().DecodeString(parts[5])
	if err != nil || len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return p, nil, nil, fmt.Errorf("%w: bad hash", errMalformedHash)
	}
	p = Argon2Params{MemoryKiB: uint32(m), Time: uint32(t), Threads: uint8(th), KeyLen: uint32(len(key)), SaltLen: uint32(len(salt))}
	return p, salt, key, nil
}
