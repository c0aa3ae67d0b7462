package httpapi

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/tldw-go/tldw/auth"
)

// Cookie mode (Options.AuthCookies) for browser clients: login also sets the tokens as
// HttpOnly cookies, and the gate accepts the access cookie when no header credential is
// sent. Because browsers attach cookies to cross-site requests, an unsafe request
// authenticated by cookie must carry X-CSRF-Token equal to the (script-readable) CSRF cookie
// — the double-submit pattern — or an Origin (else Referer) header naming this origin, scheme
// included. Login and register refuse a foreign Origin or Referer (login CSRF).

// Base cookie names; with SecureCookies they get the __Host- prefix (Secure, Path=/, no
// Domain), which needs HTTPS, so plain-HTTP setups use the bare names.
const (
	accessCookie  = "tldw_access"
	refreshCookie = "tldw_refresh"
	csrfCookie    = "tldw_csrf"
	csrfHeader    = "X-CSRF-Token"
)

// errCSRF refuses an unsafe cookie-authenticated request without proof of same origin.
var errCSRF = &Error{Status: http.StatusForbidden, Code: "csrf_failed", Detail: "CSRF token missing or invalid"}

// cookieName returns the name a cookie is sent under.
func (s *core) cookieName(base string) string {
	if s.o.SecureCookies {
		return "__Host-" + base
	}
	return base
}

// sameSite maps Options.CookieSameSite ("strict", "lax", "none"; default lax). SameSite=None
// needs Secure, so without SecureCookies it falls back to lax.
func (s *core) sameSite() http.SameSite {
	switch strings.ToLower(s.o.CookieSameSite) {
	case "strict":
		return http.SameSiteStrictMode
	case "none":
		if s.o.SecureCookies {
			return http.SameSiteNoneMode
		}
	}
	return http.SameSiteLaxMode
}

// cookie returns a cookie with the mode's common attributes; maxAge < 0 deletes it.
func (s *core) cookie(base, value string, maxAge int, httpOnly bool) *http.Cookie {
	return &http.Cookie{Name: s.cookieName(base), Value: value, Path: "/", MaxAge: maxAge,
		Secure: s.o.SecureCookies, HttpOnly: httpOnly, SameSite: s.sameSite()}
}

// setAuthCookies sets the access, refresh and CSRF cookies for a new token pair. The access
// cookie lives as long as the token; the refresh cookie for the browser session. It returns
// an error only if the random source fails.
func (s *core) setAuthCookies(w http.ResponseWriter, pair *auth.TokenPair) error {
	csrf, err := auth.RandomToken(32)
	if err != nil {
		return err
	}
	http.SetCookie(w, s.cookie(accessCookie, pair.AccessToken, max(pair.ExpiresIn, 1), true))
	http.SetCookie(w, s.cookie(refreshCookie, pair.RefreshToken, 0, true))
	http.SetCookie(w, s.cookie(csrfCookie, csrf, 0, false))
	return nil
}

// clearAuthCookies deletes the three cookies (logout).
func (s *core) clearAuthCookies(w http.ResponseWriter) {
	for _, base := range []string{accessCookie, refreshCookie, csrfCookie} {
		http.SetCookie(w, s.cookie(base, "", -1, base != csrfCookie))
	}
}

// checkCSRF accepts an unsafe cookie-authenticated request when X-CSRF-Token equals the CSRF
// cookie (compared in constant time) or the request names a trusted origin (see
// originCheck). Otherwise errCSRF.
func (s *core) checkCSRF(r *http.Request) error {
	if h := r.Header.Get(csrfHeader); h != "" {
		if c, err := r.Cookie(s.cookieName(csrfCookie)); err == nil && c.Value != "" &&
			subtle.ConstantTimeCompare([]byte(h), []byte(c.Value)) == 1 {
			return nil
		}
		return errCSRF
	}
	if s.originCheck(r) == originTrusted {
		return nil
	}
	return errCSRF
}

// checkLoginOrigin guards login and register in cookie mode against login CSRF (a
// cross-site form that logs the victim in to the attacker's account): a request naming a
// foreign origin is errCSRF. One naming none passes — browsers name the origin of every
// cross-site POST, and non-browser clients need no cookies.
func (s *core) checkLoginOrigin(r *http.Request) error {
	if s.o.AuthCookies && s.originCheck(r) == originForeign {
		return errCSRF
	}
	return nil
}

// originResult is what a request's Origin (or, without it, Referer) header says.
type originResult int

const (
	originAbsent  originResult = iota // neither header
	originTrusted                     // this server's origin, or one in AllowedOrigins
	originForeign                     // anything else, including "null" and garbage
)

// originCheck compares the Origin header, or without it the Referer, with this server's
// origin — scheme and host, so http://host does not pass for https://host — and with the
// exact entries of AllowedOrigins (the CORS allowlist).
func (s *core) originCheck(r *http.Request) originResult {
	v := r.Header.Get("Origin")
	if v == "" {
		v = r.Header.Get("Referer")
		if v == "" {
			return originAbsent
		}
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return originForeign
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	if origin == strings.ToLower(s.requestScheme(r)+"://"+r.Host) {
		return originTrusted
	}
	for _, o := range s.o.AllowedOrigins {
		if o != "*" && strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return originTrusted
		}
	}
	return originForeign
}

// requestScheme is "https" when r came over TLS, or through a trusted proxy whose
// X-Forwarded-Proto says so; else "http".
func (s *core) requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if peer, ok := parseHop(r.RemoteAddr); ok && s.trustedProxy(peer) {
		proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
		if p := strings.ToLower(strings.TrimSpace(proto)); p == "https" || p == "http" {
			return p
		}
	}
	return "http"
}
