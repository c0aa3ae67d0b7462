package auth

import (
	"context"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// testParams keep argon2 cheap in tests.
var testParams = Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}

func newTestHasher() *Hasher { return NewHasher(testParams, 2, time.Second) }

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashRoundTrip(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher()
	for _, pw := range []string{"correct horse battery staple", "Ünïcødé-pässwörd€", " spaces around ", strings.Repeat("x", MaxPasswordBytes)} {
		enc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		if !phcRE.MatchString(enc) {
			t.Fatalf("Hash(%q) = %q, not PHC form", pw, enc)
		}
		ok, rehash, err := h.Verify(ctx, pw, enc)
		if err != nil || !ok || rehash {
			t.Fatalf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
		}
		// No trimming, folding or truncation.
		for _, wrong := range []string{strings.TrimSpace(pw) + "x", strings.ToUpper(pw), pw[:len(pw)-1], pw + " "} {
			if wrong == pw {
				continue
			}
			ok, rehash, err := h.Verify(ctx, wrong, enc)
			if err != nil || ok || rehash {
				t.Fatalf("Verify(%q against hash of %q) = %v, %v, %v; want false, false, nil", wrong, pw, ok, rehash, err)
			}
		}
	}
}

func TestHashIsSaltedAndPHCDecodable(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher()
	a, _ := h.Hash(ctx, "same password")
	b, _ := h.Hash(ctx, "same password")
	if a == b {
		t.Fatal("two hashes of one password are identical: salt not random")
	}
	// Recompute independently from the PHC fields.
	p, salt, key, err := decodePHC(a)
	if err != nil {
		t.Fatal(err)
	}
	if p.MemoryKiB != 1024 || p.Time != 1 || p.Threads != 1 || p.KeyLen != 32 || p.SaltLen != 16 {
		t.Fatalf("decoded params %+v", p)
	}
	if got := argon2.IDKey([]byte("same password"), salt, 1, 1024, 1, 32); string(got) != string(key) {
		t.Fatal("PHC hash does not equal argon2id of its own parameters")
	}
}

func TestVerifyRehashOnParamChange(t *testing.T) {
	ctx := context.Background()
	old := NewHasher(testParams, 1, time.Second)
	enc, err := old.Hash(ctx, "pw-to-upgrade")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		p    Argon2Params
		want bool
	}{
		{"same", testParams, false},
		{"memory", Argon2Params{MemoryKiB: 2048, Time: 1, Threads: 1}, true},
		{"time", Argon2Params{MemoryKiB: 1024, Time: 2, Threads: 1}, true},
		{"threads", Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 2}, true},
		{"keylen", Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1, KeyLen: 64}, true},
		{"saltlen", Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 32}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, rehash, err := NewHasher(c.p, 1, time.Second).Verify(ctx, "pw-to-upgrade", enc)
			if err != nil || !ok || rehash != c.want {
				t.Fatalf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, c.want)
			}
			ok, rehash, _ = NewHasher(c.p, 1, time.Second).Verify(ctx, "wrong", enc)
			if ok || rehash {
				t.Fatal("wrong password: ok or needsRehash set")
			}
		})
	}
}

func TestVerifyBcrypt(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher()
	raw, err := bcrypt.GenerateFromPassword([]byte("imported-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	base := string(raw) // $2a$
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		enc := prefix + base[4:]
		ok, rehash, err := h.Verify(ctx, "imported-pass", enc)
		if err != nil || !ok || !rehash {
			t.Fatalf("%s: Verify(right) = %v, %v, %v; want true, true, nil", prefix, ok, rehash, err)
		}
		ok, rehash, err = h.Verify(ctx, "imported-pasS", enc)
		if err != nil || ok || rehash {
			t.Fatalf("%s: Verify(wrong) = %v, %v, %v; want false, false, nil", prefix, ok, rehash, err)
		}
	}
	// bcrypt truncates at 72 bytes; we refuse longer passwords instead.
	long := strings.Repeat("a", 72)
	raw, _ = bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	if ok, _, _ := h.Verify(ctx, long, string(raw)); !ok {
		t.Fatal("72-byte password should verify")
	}
	if ok, _, _ := h.Verify(ctx, long+"tail", string(raw)); ok {
		t.Fatal("password longer than 72 bytes verified against bcrypt (truncation)")
	}
	// Absurd cost from a tampered row is an error, not hours of work.
	if _, _, err := h.Verify(ctx, "x", "$2a$31$"+base[7:]); err == nil {
		t.Fatal("bcrypt cost 31 accepted")
	}
}

func TestVerifyEmptyNeverOK(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher()
	emptyBcrypt, _ := bcrypt.GenerateFromPassword([]byte(""), bcrypt.MinCost)
	// An argon2id hash of the empty password, made directly (Hash refuses it).
	salt := make([]byte, 16)
	emptyArgon := encodePHC(testParams.withDefaults(), salt, argon2.IDKey(nil, salt, 1, 1024, 1, 32))
	good, _ := h.Hash(ctx, "something")
	cases := []struct{ pw, enc string }{
		{"", ""},
		{"something", ""},
		{"", good},
		{"", string(emptyBcrypt)},
		{"", emptyArgon},
	}
	for _, c := range cases {
		ok, rehash, err := h.Verify(ctx, c.pw, c.enc)
		if ok || rehash || err != nil {
			t.Errorf("Verify(%q, %q) = %v, %v, %v; want false, false, nil", c.pw, c.enc, ok, rehash, err)
		}
	}
	if _, err := h.Hash(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Hash(\"\") err = %v, want ErrInvalid", err)
	}
}

func TestPasswordSizeCap(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher()
	big := strings.Repeat("a", MaxPasswordBytes+1)
	if _, err := h.Hash(ctx, big); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Hash(1025 bytes) err = %v, want ErrInvalid", err)
	}
	enc, _ := h.Hash(ctx, big[:MaxPasswordBytes])
	if ok, _, err := h.Verify(ctx, big, enc); ok || err != nil {
		t.Fatalf("Verify(1025 bytes) = %v, %v; want false, nil", ok, err)
	}
}

func TestVerifyMalformedHash(t *testing.T) {
	ctx := context.Background()
	h := newTestHasher()
	good, _ := h.Hash(ctx, "pw")
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, hash
	join := func(p ...string) string { return strings.Join(p, "$") }
	cases := map[string]string{
		"plain text":     "pw",
		"argon2i":        join("", "argon2i", parts[2], parts[3], parts[4], parts[5]),
		"argon2d":        join("", "argon2d", parts[2], parts[3], parts[4], parts[5]),
		"version 16":     join("", "argon2id", "v=16", parts[3], parts[4], parts[5]),
		"no version":     join("", "argon2id", parts[3], parts[4], parts[5]),
		"extra field":    good + "$x",
		"param order":    join("", "argon2id", parts[2], "t=1,m=1024,p=1", parts[4], parts[5]),
		"missing p":      join("", "argon2id", parts[2], "m=1024,t=1", parts[4], parts[5]),
		"extra param":    join("", "argon2id", parts[2], "m=1024,t=1,p=1,k=2", parts[4], parts[5]),
		"t=0":            join("", "argon2id", parts[2], "m=1024,t=0,p=1", parts[4], parts[5]),
		"p=0":            join("", "argon2id", parts[2], "m=1024,t=1,p=0", parts[4], parts[5]),
		"huge memory":    join("", "argon2id", parts[2], "m=4294967295,t=1,p=1", parts[4], parts[5]),
		"huge time":      join("", "argon2id", parts[2], "m=1024,t=100000,p=1", parts[4], parts[5]),
		"negative":       join("", "argon2id", parts[2], "m=-1,t=1,p=1", parts[4], parts[5]),
		"padded salt":    join("", "argon2id", parts[2], parts[3], parts[4]+"==", parts[5]),
		"bad b64":        join("", "argon2id", parts[2], parts[3], "!!!!", parts[5]),
		"short salt":     join("", "argon2id", parts[2], parts[3], "AAAA", parts[5]),
		"short hash":     join("", "argon2id", parts[2], parts[3], parts[4], "AAAA"),
		"bcrypt garbage": "$2a$10$short",
	}
	for name, enc := range cases {
		ok, rehash, err := h.Verify(ctx, "pw", enc)
		if ok || rehash || err == nil {
			t.Errorf("%s: Verify = %v, %v, %v; want false, false, error", name, ok, rehash, err)
		}
		if errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrInvalid) {
			t.Errorf("%s: malformed stored hash must be a backend error, got %v", name, err)
		}
	}
}

func TestHasherBusy(t *testing.T) {
	h := NewHasher(testParams, 1, time.Millisecond)
	h.slots <- struct{}{} // a hash that never finishes holds the only slot
	ctx := context.Background()
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash with no free slot: err = %v, want ErrBusy", err)
	}
	if _, _, err := h.Verify(ctx, "pw", "$argon2id$v=19$m=1024,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, ErrBusy) {
		t.Fatalf("Verify with no free slot: err = %v, want ErrBusy", err)
	}
	if err := h.VerifyDummy(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Fatalf("VerifyDummy with no free slot: err = %v, want ErrBusy", err)
	}
	// A cancelled context ends the wait early with ctx's error.
	hw := NewHasher(testParams, 1, time.Hour)
	hw.slots <- struct{}{}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := hw.Hash(cctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with cancelled ctx: err = %v, want context.Canceled", err)
	}
	// Once the slot frees up, work proceeds and slots are returned.
	<-h.slots
	if _, err := h.Hash(ctx, "pw"); err != nil {
		t.Fatal(err)
	}
	if err := h.VerifyDummy(ctx, "pw"); err != nil {
		t.Fatal(err)
	}
	if n := len(h.slots); n != 0 {
		t.Fatalf("%d slots still held after calls returned", n)
	}
}

func TestNewHasherDefaults(t *testing.T) {
	h := NewHasher(Argon2Params{}, 0, 0)
	if h.Params() != DefaultArgon2Params() {
		t.Fatalf("Params() = %+v, want defaults", h.Params())
	}
	if cap(h.slots) != runtime.GOMAXPROCS(0) || h.wait != 2*time.Second {
		t.Fatalf("slots %d wait %v; want GOMAXPROCS and 2s", cap(h.slots), h.wait)
	}
	enc, err := h.Hash(context.Background(), "default-params")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=32768,t=2,p=1$") {
		t.Fatalf("default hash %q lacks m=32768,t=2,p=1", enc)
	}
}

func TestArgon2ParamsValidate(t *testing.T) {
	good := []Argon2Params{{}, DefaultArgon2Params(), testParams, {MemoryKiB: 65536, Time: 3, Threads: 4}}
	for _, p := range good {
		if err := p.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", p, err)
		}
	}
	bad := []Argon2Params{
		{MemoryKiB: 4},
		{MemoryKiB: 5 << 20},
		{MemoryKiB: 8, Threads: 4},
		{Time: 65},
		{KeyLen: 8},
		{SaltLen: 8},
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want ErrInvalid", p, err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultArgon2Params(), 0, time.Minute)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "benchmark-Password-1!"); err != nil {
			b.Fatal(err)
		}
	}
}
