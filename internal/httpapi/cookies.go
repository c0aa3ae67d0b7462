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
// — the double-submit pattern — or an Origin header naming this host.

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
func (s *Server) cookieName(base string) string {
	if s.o.SecureCookies {
		return "__Host-" + base
	}
	return base
}

// sameSite maps Options.CookieSameSite ("strict", "lax", "none"; default lax). SameSite=None
// needs Secure, so without SecureCookies it falls back to lax.
func (s *Server) sameSite() http.SameSite {
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
func (s *Server) cookie(base, value string, maxAge int, httpOnly bool) *http.Cookie {
	return &http.Cookie{Name: s.cookieName(base), Value: value, Path: "/", MaxAge: maxAge,
		Secure: s.o.SecureCookies, HttpOnly: httpOnly, SameSite: s.sameSite()}
}

// setAuthCookies sets the access, refresh and CSRF cookies for a new token pair. The access
// cookie lives as long as the token; the refresh cookie for the browser session. It returns
// an error only if the random source fails.
func (s *Server) setAuthCookies(w http.ResponseWriter, pair *auth.TokenPair) error {
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
func (s *Server) clearAuthCookies(w http.ResponseWriter) {
	for _, base := range []string{accessCookie, refreshCookie, csrfCookie} {
		http.SetCookie(w, s.cookie(base, "", -1, base != csrfCookie))
	}
}

// checkCSRF accepts an unsafe cookie-authenticated request when X-CSRF-Token equals the CSRF
// cookie (compared in constant time) or the Origin header names the request's host.
// Otherwise errCSRF.
func (s *Server) checkCSRF(r *http.Request) error {
	if h := r.Header.Get(csrfHeader); h != "" {
		if c, err := r.Cookie(s.cookieName(csrfCookie)); err == nil && c.Value != "" &&
			subtle.ConstantTimeCompare([]byte(h), []byte(c.Value)) == 1 {
			return nil
		}
		return errCSRF
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) {
			return nil
		}
	}
	return errCSRF
}
