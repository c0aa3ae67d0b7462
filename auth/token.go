package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// TokenType is the kind of a JWT, carried both in the "type" claim and the
// "typ" header. Kinds never substitute for each other.
type TokenType string

// The token kinds.
const (
	AccessToken  TokenType = "access"
	RefreshToken TokenType = "refresh"
	ServiceToken TokenType = "service"
	ResetToken   TokenType = "reset"
	VerifyToken  TokenType = "verification"
)

// typHeader returns the JOSE "typ" header of a kind ("at+jwt" for access
// tokens as in RFC 9068), or "" for an unknown kind.
func (k TokenType) typHeader() string {
	switch k {
	case AccessToken:
		return "at+jwt"
	case RefreshToken, ServiceToken, ResetToken, VerifyToken:
		return string(k) + "+jwt"
	}
	return ""
}

// MaxTokenBytes bounds the size of a JWT Verify will look at.
const MaxTokenBytes = 8 << 10

// Defaults for KeyConfig.
const (
	DefaultIssuer   = "tldw"
	DefaultAudience = "tldw-api"
	DefaultLeeway   = 30 * time.Second
	maxLeeway       = 60 * time.Second
	minSecretLen    = 32 // 256 bits
)

// Claims are the claims of a tldw JWT. Wire names: sub, username, role,
// session_id and sid (both carry SessionID), jti, type, iat, nbf, exp, iss,
// aud. UserID is not a claim of its own: it is sub when sub is a decimal
// user id (service tokens use sub "service:<name>").
type Claims struct {
	Subject   string
	UserID    int64
	Username  string
	Role      string
	SessionID int64
	ID        string // jti
	Type      TokenType
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	Issuer    string
	Audience  []string
}

// KeyConfig configures Tokens. Fields unused by the chosen algorithm are
// ignored.
type KeyConfig struct {
	// Algorithm is HS256 (default), RS256, ES256 or EdDSA. The verifier
	// accepts only this algorithm, whatever a token's header says.
	Algorithm string
	// Secret is the HS256 key (JWT_SECRET_KEY), at least 32 bytes.
	Secret []byte
	// PrivateKeyPEM is the RS256/ES256/EdDSA signing key (PKCS#8, PKCS#1 or
	// SEC 1). RSA keys need ≥ 2048 bits, ES256 keys P-256.
	PrivateKeyPEM []byte
	// PublicKeyPEM, if set, must be the public half of PrivateKeyPEM.
	PublicKeyPEM []byte
	// Previous are keys still accepted for verification during rotation:
	// HS256 secrets (JWT_PREVIOUS_SECRET_KEYS, JWT_SECONDARY_SECRET), or PEM
	// public (or private) keys of the same algorithm.
	Previous [][]byte
	// Issuer and Audience are put in every token and required by Verify;
	// default DefaultIssuer and DefaultAudience.
	Issuer, Audience string
	// Leeway tolerates clock skew on exp, nbf and iat: 0 means 30 s, at most 60 s.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type verifyKey struct {
	kid string
	key any // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// Tokens issues and verifies tldw JWTs with one pinned algorithm and key set.
// It is immutable after NewTokens and safe for concurrent use.
type Tokens struct {
	alg      jose.SignatureAlgorithm
	signers  map[TokenType]jose.Signer
	keys     []verifyKey // current key first, then previous keys
	jwks     []byte      // nil for HS256
	issuer   string
	audience string
	leeway   time.Duration
	now      func() time.Time
}

// NewTokens validates k and returns Tokens. Errors wrap ErrInvalid: unknown
// algorithm, secret shorter than 32 bytes, unparsable PEM, a key of the
// wrong type or size, a public key that does not match the private key,
// leeway outside 0–60 s.
func NewTokens(k KeyConfig) (*Tokens, error) {
	t := &Tokens{issuer: k.Issuer, audience: k.Audience, leeway: k.Leeway, now: k.Now}
	if t.issuer == "" {
		t.issuer = DefaultIssuer
	}
	if t.audience == "" {
		t.audience = DefaultAudience
	}
	if t.leeway == 0 {
		t.leeway = DefaultLeeway
	}
	if t.leeway < 0 || t.leeway > maxLeeway {
		return nil, fmt.Errorf("%w: JWT leeway must be between 0 and 60s", ErrInvalid)
	}
	if t.now == nil {
		t.now = time.Now
	}
	if k.Algorithm == "" {
		k.Algorithm = string(jose.HS256)
	}
	t.alg = jose.SignatureAlgorithm(k.Algorithm)

	var signKey any
	switch t.alg {
	case jose.HS256:
		if len(k.Secret) < minSecretLen {
			return nil, fmt.Errorf("%w: JWT secret must be at least %d bytes", ErrInvalid, minSecretLen)
		}
		signKey = bytes.Clone(k.Secret)
		t.addKey(hsKid(k.Secret), signKey)
		for i, s := range k.Previous {
			if len(s) < minSecretLen {
				return nil, fmt.Errorf("%w: previous JWT secret %d is shorter than %d bytes", ErrInvalid, i+1, minSecretLen)
			}
			t.addKey(hsKid(s), bytes.Clone(s))
		}
	case jose.RS256, jose.ES256, jose.EdDSA:
		priv, err := parsePrivateKeyPEM(k.PrivateKeyPEM)
		if err != nil {
			return nil, err
		}
		pub := priv.Public()
		if err := checkKeyType(t.alg, pub); err != nil {
			return nil, err
		}
		if len(k.PublicKeyPEM) > 0 {
			given, err := parsePublicKeyPEM(k.PublicKeyPEM)
			if err != nil {
				return nil, err
			}
			if eq, ok := given.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
				return nil, fmt.Errorf("%w: JWT public key does not match the private key", ErrInvalid)
			}
		}
		signKey = priv
		kid, err := pubKid(pub)
		if err != nil {
			return nil, err
		}
		t.addKey(kid, pub)
		for i, p := range k.Previous {
			prev, err := parsePublicKeyPEM(p)
			if err != nil {
				return nil, fmt.Errorf("previous JWT key %d: %w", i+1, err)
			}
			if err := checkKeyType(t.alg, prev); err != nil {
				return nil, fmt.Errorf("previous JWT key %d: %w", i+1, err)
			}
			kid, err := pubKid(prev)
			if err != nil {
				return nil, err
			}
			t.addKey(kid, prev)
		}
		if t.jwks, err = t.buildJWKS(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: unsupported JWT algorithm %q (want HS256, RS256, ES256 or EdDSA)", ErrInvalid, k.Algorithm)
	}

	t.signers = make(map[TokenType]jose.Signer)
	for _, kind := range []TokenType{AccessToken, RefreshToken, ServiceToken, ResetToken, VerifyToken} {
		s, err := jose.NewSigner(
			jose.SigningKey{Algorithm: t.alg, Key: signKey},
			(&jose.SignerOptions{}).WithType(jose.ContentType(kind.typHeader())).WithHeader("kid", t.keys[0].kid),
		)
		if err != nil {
			return nil, fmt.Errorf("%w: JWT signing key: %v", ErrInvalid, err)
		}
		t.signers[kind] = s
	}
	return t, nil
}

// addKey appends a verification key unless one with the same kid exists.
func (t *Tokens) addKey(kid string, key any) {
	for _, k := range t.keys {
		if k.kid == kid {
			return
		}
	}
	t.keys = append(t.keys, verifyKey{kid: kid, key: key})
}

// hsKid derives a key id from an HMAC secret without exposing the secret's
// plain SHA-256.
func hsKid(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("tldw jwt kid\x00"))
	h.Write(secret)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// pubKid is the first 16 hex digits of the RFC 7638 JWK thumbprint.
func pubKid(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("%w: JWT key thumbprint: %v", ErrInvalid, err)
	}
	return hex.EncodeToString(tp)[:16], nil
}

func checkKeyType(alg jose.SignatureAlgorithm, pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if alg == jose.RS256 {
			if k.N.BitLen() < 2048 {
				return fmt.Errorf("%w: RSA JWT key must be at least 2048 bits", ErrInvalid)
			}
			return nil
		}
	case *ecdsa.PublicKey:
		if alg == jose.ES256 {
			if k.Curve != elliptic.P256() {
				return fmt.Errorf("%w: ES256 needs a P-256 key", ErrInvalid)
			}
			return nil
		}
	case ed25519.PublicKey:
		if alg == jose.EdDSA {
			return nil
		}
	}
	return fmt.Errorf("%w: JWT key type %T does not fit algorithm %s", ErrInvalid, pub, alg)
}

func parsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: JWT private key is not PEM", ErrInvalid)
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: unsupported PEM block %q for a JWT private key", ErrInvalid, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: JWT private key: %v", ErrInvalid, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: unsupported JWT private key type %T", ErrInvalid, key)
	}
	return s, nil
}

// parsePublicKeyPEM accepts a PKIX or PKCS#1 public key, or a private key
// whose public half is used.
func parsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: JWT public key is not PEM", ErrInvalid)
	}
	switch block.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: JWT public key: %v", ErrInvalid, err)
		}
		return k, nil
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: JWT public key: %v", ErrInvalid, err)
		}
		return k, nil
	}
	priv, err := parsePrivateKeyPEM(data)
	if err != nil {
		return nil, err
	}
	return priv.Public(), nil
}

func (t *Tokens) buildJWKS() ([]byte, error) {
	set := jose.JSONWebKeySet{}
	for _, k := range t.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key, KeyID: k.kid, Algorithm: string(t.alg), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("%w: JWKS: %v", ErrInvalid, err)
	}
	return b, nil
}

// JWKS returns the JSON Web Key Set of the public verification keys
// (current first, then previous) for /.well-known/jwks.json, and true. With
// HS256 there is nothing public to publish and it returns nil, false.
func (t *Tokens) JWKS() ([]byte, bool) {
	if t.jwks == nil {
		return nil, false
	}
	return bytes.Clone(t.jwks), true
}

// issueClaims is the wire form written by Issue.
type issueClaims struct {
	Subject   string   `json:"sub"`
	Username  string   `json:"username,omitempty"`
	Role      string   `json:"role,omitempty"`
	SessionID int64    `json:"session_id,omitempty"`
	SID       int64    `json:"sid,omitempty"`
	ID        string   `json:"jti"`
	Type      string   `json:"type"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	Expiry    int64    `json:"exp"`
	Issuer    string   `json:"iss"`
	Audience  []string `json:"aud"`
}

// Issue signs a token of kind c.Type valid for ttl and returns it with the
// claims as issued. It fills iat, nbf (now, whole seconds), exp, iss, aud,
// jti (a random UUID unless c.ID is set) and sub (from UserID when empty);
// the header carries kid and the kind's typ. Errors wrap ErrInvalid for an
// unknown type, ttl ≤ 0, no subject, or a Subject that contradicts UserID;
// other errors come from the random source or signing.
func (t *Tokens) Issue(c Claims, ttl time.Duration) (string, Claims, error) {
	signer, ok := t.signers[c.Type]
	if !ok {
		return "", Claims{}, fmt.Errorf("%w: unknown token type %q", ErrInvalid, c.Type)
	}
	if ttl <= 0 {
		return "", Claims{}, fmt.Errorf("%w: token lifetime must be positive", ErrInvalid)
	}
	if c.UserID != 0 {
		id := strconv.FormatInt(c.UserID, 10)
		if c.Subject == "" {
			c.Subject = id
		} else if c.Subject != id {
			return "", Claims{}, fmt.Errorf("%w: subject %q contradicts user id %d", ErrInvalid, c.Subject, c.UserID)
		}
	}
	if c.Subject == "" {
		return "", Claims{}, fmt.Errorf("%w: token needs a subject", ErrInvalid)
	}
	if c.ID == "" {
		c.ID = uuid.NewString()
	}
	now := t.now().UTC().Truncate(time.Second)
	c.IssuedAt, c.NotBefore = now, now
	c.Expiry = now.Add(ttl).Truncate(time.Second)
	if !c.Expiry.After(now) {
		c.Expiry = now.Add(time.Second)
	}
	c.Issuer, c.Audience = t.issuer, []string{t.audience}
	payload, err := json.Marshal(issueClaims{
		Subject: c.Subject, Username: c.Username, Role: c.Role,
		SessionID: c.SessionID, SID: c.SessionID, ID: c.ID, Type: string(c.Type),
		IssuedAt: now.Unix(), NotBefore: now.Unix(), Expiry: c.Expiry.Unix(),
		Issuer: c.Issuer, Audience: c.Audience,
	})
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: encoding claims: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: signing token: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: serialising token: %w", err)
	}
	if c.UserID == 0 {
		c.UserID = userIDFromSubject(c.Subject)
	}
	return tok, c, nil
}

// verifyClaims is the wire form read by Verify: the registered claims as go-jose's jwt
// package reads them (numeric dates as JSON numbers, aud a string or an array of strings),
// ours with strict types.
type verifyClaims struct {
	jwt.Claims
	Username  string `json:"username"`
	Role      string `json:"role"`
	SessionID *int64 `json:"session_id"`
	SID       *int64 `json:"sid"`
	Type      string `json:"type"`
}

func reject(reason string) error { return fmt.Errorf("%w: %s", ErrUnauthenticated, reason) }

// Verify checks token and returns its claims if it is a valid token of kind
// want. Every rejection wraps ErrUnauthenticated with a reason (expired ones
// also ErrExpired); an unknown want wraps ErrInvalid.
//
// The checks: at most MaxTokenBytes and exactly three parts (before any
// decoding); alg equal to the configured one (so "none" and HS/RS confusion
// fail); kid, when present, names one of our keys (it only selects among
// them; without kid every key is tried, current first); a valid signature;
// typ header and type claim both equal want; exp present; then go-jose's
// jwt.Claims.ValidateWithLeeway: iss equal ours, aud (a string or an array of
// strings) containing ours, exp not past, nbf and iat not in the future (all
// within the leeway); sub and jti present;
// session_id and sid, if both present, equal. The jku, x5u, jwk and x5c
// headers are never used to find keys.
func (t *Tokens) Verify(token string, want TokenType) (Claims, error) {
	if want.typHeader() == "" {
		return Claims{}, fmt.Errorf("%w: unknown token type %q", ErrInvalid, want)
	}
	if len(token) > MaxTokenBytes {
		return Claims{}, reject("token too large")
	}
	if strings.Count(token, ".") != 2 {
		return Claims{}, reject("malformed token")
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{t.alg})
	if err != nil {
		var alg *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &alg) {
			return Claims{}, reject("signature algorithm not allowed")
		}
		return Claims{}, reject("malformed token")
	}
	if len(jws.Signatures) != 1 {
		return Claims{}, reject("malformed token")
	}
	hdr := jws.Signatures[0].Header
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); !typMatches(typ, want) {
		return Claims{}, reject("wrong token kind")
	}
	var payload []byte
	found := false
	for _, k := range t.keys {
		if hdr.KeyID != "" && hdr.KeyID != k.kid {
			continue
		}
		found = true
		if p, err := jws.Verify(k.key); err == nil {
			payload = p
			break
		}
	}
	if !found {
		return Claims{}, reject("unknown key id")
	}
	if payload == nil {
		return Claims{}, reject("invalid signature")
	}

	var w verifyClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return Claims{}, reject("malformed claims")
	}
	if w.Expiry == nil {
		return Claims{}, reject("token has no expiry")
	}
	// The leeway is an open bound (exp is exclusive, RFC 7519 §4.1.4) where go-jose's is
	// closed: a nanosecond less refuses a token at exactly exp + leeway, and an nbf or iat
	// of exactly now + leeway.
	err = w.ValidateWithLeeway(jwt.Expected{Issuer: t.issuer, AnyAudience: jwt.Audience{t.audience}, Time: t.now()},
		t.leeway-time.Nanosecond)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return Claims{}, fmt.Errorf("%w: %w: token expired", ErrUnauthenticated, ErrExpired)
	case errors.Is(err, jwt.ErrNotValidYet):
		return Claims{}, reject("token not yet valid")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return Claims{}, reject("token issued in the future")
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return Claims{}, reject("wrong issuer")
	case errors.Is(err, jwt.ErrInvalidAudience):
		return Claims{}, reject("wrong audience")
	case err != nil:
		return Claims{}, reject("invalid claims")
	}
	if w.Type != string(want) {
		return Claims{}, reject("wrong token kind")
	}
	if w.Subject == "" || w.ID == "" {
		return Claims{}, reject("token lacks sub or jti")
	}
	var sid int64
	switch {
	case w.SessionID != nil && w.SID != nil && *w.SessionID != *w.SID:
		return Claims{}, reject("conflicting session ids")
	case w.SessionID != nil:
		sid = *w.SessionID
	case w.SID != nil:
		sid = *w.SID
	}
	return Claims{
		Subject: w.Subject, UserID: userIDFromSubject(w.Subject), Username: w.Username, Role: w.Role,
		SessionID: sid, ID: w.ID, Type: want,
		IssuedAt: w.IssuedAt.Time().UTC(), NotBefore: w.NotBefore.Time().UTC(), Expiry: w.Expiry.Time().UTC(),
		Issuer: w.Issuer, Audience: w.Audience,
	}, nil
}

// typMatches compares a typ header with a kind's, ignoring case and an
// "application/" prefix (RFC 7515 §4.1.9).
func typMatches(typ string, want TokenType) bool {
	if len(typ) > len("application/") && strings.EqualFold(typ[:len("application/")], "application/") {
		typ = typ[len("application/"):]
	}
	return strings.EqualFold(typ, want.typHeader())
}

// userIDFromSubject returns sub as a positive user id, or 0.
func userIDFromSubject(sub string) int64 {
	id, err := strconv.ParseInt(sub, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != sub {
		return 0
	}
	return id
}
