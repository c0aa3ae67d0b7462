package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/quota"
)

// RateLimits are the request rate policies, enforced through Options.Limiter.
//
//   - Auth (AUTH_RATE_LIMIT) applies per client (key "ip:<addr>", an IPv6 address by its
//     /64: auth.ClientBucket, as the lockout counts) to the routes marked
//     AuthLimited — login, register, refresh, change-password, reset-password — before
//     the credential is looked at.
//   - API (API_RATE_LIMIT) applies to every other authenticated route, after the gate, per
//     user ("user:<id>"): all of a user's sessions and API keys share one budget, so minting
//     keys buys no extra requests. A key with a rate limit of its own
//     (rate_limit_per_minute) is checked against it first ("key:<id>"). Principals whose role is in ExemptRoles skip it. Public API routes other than the probes (health, metrics,
//     auth/verify) would be limited per IP ("anon:ip:<addr>"); documentation and probes
//     never are.
//
// A refused request gets 429 rate_limited with Retry-After; every limited response carries
// X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset (seconds until the full
// allowance is back).
type RateLimits struct {
	Enabled     bool
	Auth, API   quota.Limit
	ExemptRoles []auth.Role
}

// Rate-limit audit throttling: at most one rate_limit_exceeded event per key and window,
// remembered for at most maxAuditedKeys keys at a time.
const maxAuditedKeys = 10_000

// rateLimitedDetail is the detail of a 429 from a rate limit.
const rateLimitedDetail = "Too many requests"

// limited returns rt's handler behind the rate limits and the authentication gate (see
// RateLimits). Without a Limiter, or with RateLimits.Enabled false, it is the gate alone.
func (s *core) limited(rt route, label string) handlerFunc {
	rl := s.o.RateLimits
	if s.o.Limiter == nil || !rl.Enabled {
		return s.gate(rt, label)
	}
	switch {
	case rt.AuthLimited:
		next := s.gate(rt, label)
		return func(w http.ResponseWriter, r *http.Request) error {
			ip := s.clientIP(r)
			if ip == "" { // no peer address (not TCP): nothing to key on, as for lockout
				return next(w, r)
			}
			if err := s.rateLimit(w, r, "auth", "ip:"+auth.ClientBucket(ip), rl.Auth, label, nil); err != nil {
				return err
			}
			return next(w, r)
		}
	case !rt.Public:
		h := rt.Handler
		rt.Handler = func(w http.ResponseWriter, r *http.Request) error {
			p := principalFrom(r.Context())
			if p == nil || slices.Contains(rl.ExemptRoles, p.Role) {
				return h(w, r)
			}
			// A key's own limit first: a request it refuses costs the user's budget nothing.
			if p.KeyRateLimit > 0 {
				key := "key:" + strconv.FormatInt(p.APIKeyID, 10)
				if err := s.rateLimit(w, r, "api", key, quota.Limit{N: p.KeyRateLimit, Per: time.Minute}, label, p); err != nil {
					return err
				}
			}
			key := "user:" + strconv.FormatInt(p.UserID, 10)
			if err := s.rateLimit(w, r, "api", key, rl.API, label, p); err != nil {
				return err
			}
			return h(w, r)
		}
		return s.gate(rt, label)
	case anonymousAPI(rt.Path):
		h := rt.Handler
		return func(w http.ResponseWriter, r *http.Request) error {
			if ip := s.clientIP(r); ip != "" {
				if err := s.rateLimit(w, r, "api", "anon:ip:"+auth.ClientBucket(ip), rl.API, label, nil); err != nil {
					return err
				}
			}
			return h(w, r)
		}
	}
	return s.gate(rt, label)
}

// anonymousAPI reports whether a public route is an API route that is rate limited per IP:
// anything under /api/v1/ except the probes (health, readiness, metrics) and nginx's
// auth_request target, which a proxy calls for every request it serves.
func anonymousAPI(path string) bool {
	return strings.HasPrefix(path, "/api/v1/") &&
		!strings.HasPrefix(path, "/api/v1/health") &&
		path != "/api/v1/auth/verify"
}

// rateLimit asks the Limiter about one request under key. When it is admitted the
// X-RateLimit headers are set and nil returned; when it is refused the 429 error is
// returned, and the refusal is audited at most once per key and window. A Limiter failure
// admits the request (logged): availability wins over limiting.
func (s *core) rateLimit(w http.ResponseWriter, r *http.Request, scope, key string, l quota.Limit, label string, p *auth.Principal) error {
	d, err := s.o.Limiter.Allow(r.Context(), key, l)
	if err != nil {
		s.logger(r).WarnContext(r.Context(), "rate limiter failed; request admitted",
			"scope", scope, "key", key, "error", err)
		return nil
	}
	h := rateHeaders(d)
	if d.Allowed {
		for k, v := range h {
			w.Header()[k] = v
		}
		return nil
	}
	h.Set("Retry-After", strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10))
	s.auditRateLimited(r, scope, key, l, label, p)
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Detail: rateLimitedDetail, Header: h}
}

// rateHeaders returns the X-RateLimit headers of d.
func rateHeaders(d quota.Decision) http.Header {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, d.Remaining)))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.ResetAfter), 10))
	return h
}

// ceilSeconds rounds d up to whole seconds (0 for d ≤ 0).
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// auditRateLimited writes rate_limit_exceeded for key unless one was written within the
// limit's period. A failing sink is logged.
func (s *core) auditRateLimited(r *http.Request, scope, key string, l quota.Limit, label string, p *auth.Principal) {
	if s.o.Audit == nil {
		return
	}
	now := s.now()
	if !s.rateAudit.first(key, now, l.Per) {
		return
	}
	m := s.meta(r)
	e := audit.Event{Time: now.UTC(), Action: audit.RateLimitExceeded, TargetType: "route", TargetID: label,
		Success: false, Error: "rate limit exceeded",
		IP: m.IP, UserAgent: m.UserAgent, RequestID: m.RequestID, Method: m.Method, Path: m.Path,
		Details: map[string]any{"scope": scope, "key": key, "limit": l.N, "period_seconds": l.Per.Seconds()}}
	if p != nil {
		e.UserID, e.Username = p.UserID, p.Username
	}
	if err := s.o.Audit.Write(context.WithoutCancel(r.Context()), e); err != nil {
		s.logger(r).ErrorContext(r.Context(), "audit write failed", "action", e.Action, "error", err)
	}
}

// rateAudit remembers, per limit key, until when a rate_limit_exceeded event has been
// written. The zero value is ready; safe for concurrent use.
type rateAudit struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// first reports whether key has no event in its current window, and if so opens one of
// length per at now. When maxAuditedKeys keys are remembered, expired ones are dropped; if
// none has expired, new keys are not audited until some do (the point is to bound the
// audit log under a flood).
func (a *rateAudit) first(key string, now time.Time, per time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.until == nil {
		a.until = make(map[string]time.Time)
	}
	if end, ok := a.until[key]; ok && now.Before(end) {
		return false
	}
	if len(a.until) >= maxAuditedKeys {
		for k, end := range a.until {
			if !now.Before(end) {
				delete(a.until, k)
			}
		}
		if len(a.until) >= maxAuditedKeys {
			return false
		}
	}
	a.until[key] = now.Add(per)
	return true
}
