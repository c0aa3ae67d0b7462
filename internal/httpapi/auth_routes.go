package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/tldw-go/tldw/auth"
)

// Account routes: login, tokens, registration and the caller's own profile, sessions and
// API keys (tldw_server /api/v1/auth and /api/v1/users, facts §1.2–1.3), the nginx
// auth_request endpoint and the JWKS. Every handler calls Options.Auth; the Service
// enforces the finer rules (scopes, ownership) and the error table maps its errors.

const (
	formType = "application/x-www-form-urlencoded"
	jsonType = "application/json"
)

// routes lists the routes of this file; none when Options.Auth is nil.
func (s *accountsAPI) routes() []route {
	if s.o.Auth == nil {
		return nil
	}
	const authTag, usersTag = "auth", "users"
	read, write := auth.PermAccountRead, auth.PermAccountWrite
	unauth := "Not authenticated"
	return []route{
		{Method: http.MethodPost, Path: "/api/v1/auth/login", Tag: authTag, Public: true, AuthLimited: true,
			ID: "loginForAccessToken", Body: formType + ", multipart/form-data, " + jsonType, Request: loginRequest{}, Response: tokenBody{},
			Summary: "Log in with username (or email) and password; returns access and refresh tokens",
			Responses: map[int]string{200: "Token object", 401: "Incorrect username or password",
				403: "Account is inactive, or (cookie mode) a cross-site Origin/Referer", 415: "Unsupported body type", 422: "Missing field",
				429: "Locked after too many failed attempts (Retry-After)", 503: "Busy, retry"},
			Handler: s.handleLogin},
		{Method: http.MethodPost, Path: "/api/v1/auth/refresh", Tag: authTag, Public: true, AuthLimited: true, Body: jsonType,
			ID: "refreshAccessToken", BodyOptional: true, Request: refreshRequest{}, Response: tokenBody{},
			Summary:   "Exchange a refresh token for a new token pair (the refresh token rotates)",
			Responses: map[int]string{200: "Token object", 401: "Invalid or expired refresh token", 422: "Missing field"},
			Handler:   s.handleRefresh},
		{Method: http.MethodPost, Path: "/api/v1/auth/logout", Tag: authTag, PendingOK: true, Perm: read,
			ID: "logout", Body: jsonType, BodyOptional: true, Request: logoutRequest{}, Response: messageBody{},
			Summary:   "End this session, or every session with an optional JSON body {\"all_devices\": true}",
			Responses: map[int]string{200: "Logged out", 401: unauth},
			Handler:   s.handleLogout},
		{Method: http.MethodPost, Path: "/api/v1/auth/register", Tag: authTag, Public: true, AuthLimited: true, Body: jsonType,
			ID: "registerUser", Request: registerRequestBody{}, Response: registeredBody{},
			Summary: "Register an account (when registration is enabled; invite-only needs a registration code)",
			Responses: map[int]string{200: "Registered", 400: "Registration disabled, invalid code or weak password",
				403: "Not available in single-user mode, or (cookie mode) a cross-site Origin/Referer", 409: "Username or email taken", 422: "Missing field"},
			Handler: s.handleRegister},
		{Method: http.MethodGet, Path: "/api/v1/auth/me", Tag: authTag, PendingOK: true, Perm: read,
			ID: "getCurrentUser", Response: userBody{},
			Summary:   "The caller's account",
			Responses: map[int]string{200: "User", 401: unauth},
			Handler:   s.handleMe},
		{Method: http.MethodGet, Path: "/api/v1/auth/sessions", Tag: authTag, Perm: read,
			ID: "listSessions", Response: []sessionBody{},
			Summary:   "The caller's active sessions",
			Responses: map[int]string{200: "Sessions", 401: unauth},
			Handler:   s.handleListSessions},
		{Method: http.MethodDelete, Path: "/api/v1/auth/sessions/{session_id:[0-9]+}", Tag: authTag, Perm: write,
			ID: "revokeSession", Response: messageBody{},
			Summary:   "Revoke one of the caller's sessions",
			Responses: map[int]string{200: "Revoked", 401: unauth, 404: "No such session"},
			Handler:   s.handleRevokeSession},
		{Method: http.MethodPost, Path: "/api/v1/auth/sessions/revoke-all", Tag: authTag, Perm: write,
			ID: "revokeAllSessions", Response: messageBody{},
			Summary:   "Revoke every session of the caller except the current one",
			Responses: map[int]string{200: "Revoked", 401: unauth},
			Handler:   s.handleRevokeAllSessions},
		{Method: http.MethodGet, Path: "/api/v1/auth/verify", Tag: authTag, Public: true,
			ID: "verifyAuth", Headers: map[int][]string{200: {"X-User-Id", "X-User-Name", "X-User-Role"}},
			ByStatus: map[int]any{200: noBody{}, 401: noBody{}, 403: noBody{}},
			Summary: "nginx auth_request check: 200 with X-User-Id/X-User-Name/X-User-Role for a valid " +
				"Bearer token or X-API-KEY (and X-Original-URI it may read), else 401/403; empty body",
			Responses: map[int]string{200: "Allowed", 401: "No valid credential", 403: "Not allowed to read X-Original-URI"},
			Handler:   s.handleVerify},
		{Method: http.MethodHead, Path: "/api/v1/auth/verify", Tag: authTag, Public: true,
			ID: "verifyAuthHead", Headers: map[int][]string{200: {"X-User-Id", "X-User-Name", "X-User-Role"}},
			ByStatus:  map[int]any{200: noBody{}, 401: noBody{}, 403: noBody{}},
			Summary:   "nginx auth_request check (HEAD)",
			Responses: map[int]string{200: "Allowed", 401: "No valid credential", 403: "Not allowed to read X-Original-URI"},
			Handler:   s.handleVerify},
		{Method: http.MethodGet, Path: "/.well-known/jwks.json", Tag: authTag, Public: true,
			ID: "getJWKS", Response: map[string]any{},
			Summary:   "Public keys that verify access tokens (RS256, ES256, EdDSA); 404 with HS256",
			Responses: map[int]string{200: "JSON Web Key Set", 404: "No public keys (HS256)"},
			Handler:   s.handleJWKS},

		{Method: http.MethodGet, Path: "/api/v1/users/me", Tag: usersTag, PendingOK: true, Perm: read,
			ID: "getMyProfile", Response: userBody{},
			Summary:   "The caller's account",
			Responses: map[int]string{200: "User", 401: unauth},
			Handler:   s.handleMe},
		{Method: http.MethodPut, Path: "/api/v1/users/me", Tag: usersTag, Perm: write, Body: jsonType,
			ID: "updateMyProfile", Request: updateMeRequest{}, Response: userBody{},
			Summary:   "Change the caller's email ({\"email\", \"current_password\"}; other fields are ignored)",
			Responses: map[int]string{200: "User", 400: "Invalid email or current_password missing", 401: "Not authenticated or current password incorrect", 409: "Email taken", 429: "Locked after too many wrong passwords"},
			Handler:   s.handleUpdateMe},
		{Method: http.MethodPost, Path: "/api/v1/users/change-password", Tag: usersTag, PendingOK: true, Perm: write, AuthLimited: true, Body: jsonType,
			ID: "changePassword", Request: changePasswordRequest{}, Response: messageBody{},
			Summary: "Change the caller's password; every other session is revoked",
			Responses: map[int]string{200: "Changed", 400: "Weak or reused password (errors lists each problem)",
				401: "Current password is incorrect", 422: "Missing field"},
			Handler: s.handleChangePassword},
		{Method: http.MethodGet, Path: "/api/v1/users/sessions", Tag: usersTag, Perm: read,
			ID: "listUserSessions", Response: []sessionBody{},
			Summary:   "The caller's active sessions",
			Responses: map[int]string{200: "Sessions", 401: unauth},
			Handler:   s.handleListSessions},
		{Method: http.MethodDelete, Path: "/api/v1/users/sessions/{session_id:[0-9]+}", Tag: usersTag, Perm: write,
			ID: "revokeUserSession", Response: messageBody{},
			Summary:   "Revoke one of the caller's sessions",
			Responses: map[int]string{200: "Revoked", 401: unauth, 404: "No such session"},
			Handler:   s.handleRevokeSession},
		{Method: http.MethodPost, Path: "/api/v1/users/sessions/revoke-all", Tag: usersTag, Perm: write,
			ID: "revokeAllUserSessions", Response: messageBody{},
			Summary:   "Revoke every session of the caller except the current one",
			Responses: map[int]string{200: "Revoked", 401: unauth},
			Handler:   s.handleRevokeAllSessions},
		{Method: http.MethodGet, Path: "/api/v1/users/api-keys", Tag: usersTag, Perm: read,
			ID: "listAPIKeys", Response: []apiKeyBody{},
			Summary:   "The caller's API keys (no secrets)",
			Responses: map[int]string{200: "API keys", 401: unauth},
			Handler:   s.handleListAPIKeys},
		{Method: http.MethodPost, Path: "/api/v1/users/api-keys", Tag: usersTag, Perm: write, Body: jsonType,
			ID: "createAPIKey", Request: createKeyRequest{}, Response: newKeyBody{},
			Summary: "Create an API key {name, scopes: [\"read\"|\"write\"|\"admin\"], expires_in_days}; the key is shown once",
			Responses: map[int]string{200: "The key with its secret (key)", 400: "Invalid scope or expiry",
				401: unauth, 403: "Scope broader than the caller's"},
			Handler: s.handleCreateAPIKey},
		{Method: http.MethodPost, Path: "/api/v1/users/api-keys/{key_id:[0-9]+}/rotate", Tag: usersTag, Perm: write,
			ID: "rotateAPIKey", Response: newKeyBody{},
			Summary:   "Replace an API key's secret; the old one stops working; the new key is shown once",
			Responses: map[int]string{200: "The key with its new secret (key)", 401: unauth, 404: "No such key"},
			Handler:   s.handleRotateAPIKey},
		{Method: http.MethodDelete, Path: "/api/v1/users/api-keys/{key_id:[0-9]+}", Tag: usersTag, Perm: write,
			ID: "revokeAPIKey", Response: keyRevoked{},
			Summary:   "Revoke an API key",
			Responses: map[int]string{200: "Revoked", 401: unauth, 404: "No such key"},
			Handler:   s.handleRevokeAPIKey},
	}
}

// Response bodies.

// tokenBody is tldw's TokenResponse.
type tokenBody struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

func newTokenBody(p *auth.TokenPair) tokenBody {
	typ := p.TokenType
	if typ == "" {
		typ = "bearer"
	}
	return tokenBody{AccessToken: p.AccessToken, RefreshToken: p.RefreshToken, TokenType: typ, ExpiresIn: p.ExpiresIn}
}

// userBody is tldw's UserResponse (never the password hash). storage_quota_mb is null for
// unlimited.
type userBody struct {
	ID                 int64   `json:"id"`
	UUID               string  `json:"uuid"`
	Username           string  `json:"username"`
	Email              string  `json:"email"`
	Role               string  `json:"role"`
	IsActive           bool    `json:"is_active"`
	IsVerified         bool    `json:"is_verified"`
	MustChangePassword bool    `json:"must_change_password"`
	CreatedAt          string  `json:"created_at"`
	LastLogin          *string `json:"last_login"`
	StorageQuotaMB     *int64  `json:"storage_quota_mb"`
	StorageUsedMB      float64 `json:"storage_used_mb"`
	AudioTier          *string `json:"audio_tier"` // null: the default tier (DEFAULT_AUDIO_TIER)
}

func newUserBody(u *auth.User) userBody {
	return userBody{ID: u.ID, UUID: u.UUID, Username: u.Username, Email: u.Email, Role: string(u.Role),
		IsActive: u.IsActive, IsVerified: u.IsVerified, MustChangePassword: u.MustChangePassword,
		CreatedAt: formatTime(u.CreatedAt), LastLogin: formatTimePtr(u.LastLogin), StorageQuotaMB: u.StorageQuotaMB,
		StorageUsedMB: float64(u.StorageUsedBytes) / (1 << 20), AudioTier: audioTierView(u)}
}

// sessionBody is tldw's SessionResponse plus is_current; it never carries token material.
// expires_at is when the session's current access token expires, refresh_expires_at when
// the session itself does.
type sessionBody struct {
	ID               int64  `json:"id"`
	CreatedAt        string `json:"created_at"`
	LastActivity     string `json:"last_activity"`
	ExpiresAt        string `json:"expires_at"`
	RefreshExpiresAt string `json:"refresh_expires_at"`
	IPAddress        string `json:"ip_address"`
	UserAgent        string `json:"user_agent"`
	IsCurrent        bool   `json:"is_current"`
}

// apiKeyBody describes an API key without its secret or hash. scope is the broadest of
// scopes (HEAD's single-scope field); status is "active", "expired" or "revoked".
type apiKeyBody struct {
	ID         int64    `json:"id"`
	Name       string   `json:"name"`
	KeyPrefix  string   `json:"key_prefix"`
	Scopes     []string `json:"scopes"`
	Scope      string   `json:"scope"`
	Status     string   `json:"status"`
	CreatedAt  string   `json:"created_at"`
	ExpiresAt  *string  `json:"expires_at"`
	LastUsedAt *string  `json:"last_used_at"`
	Revoked    bool     `json:"revoked"`
	RateLimit  int      `json:"rate_limit_per_minute"` // 0: only the user's budget
}

func newAPIKeyBody(k *auth.APIKey, now time.Time) apiKeyBody {
	b := apiKeyBody{ID: k.ID, Name: k.Name, KeyPrefix: k.Prefix, Scopes: []string{}, Status: "active",
		CreatedAt: formatTime(k.CreatedAt), ExpiresAt: formatTimePtr(k.ExpiresAt), LastUsedAt: formatTimePtr(k.LastUsedAt),
		Revoked: k.RevokedAt != nil, RateLimit: k.RateLimitPerMinute}
	rank := map[auth.Scope]int{auth.ScopeRead: 1, auth.ScopeWrite: 2, auth.ScopeAdmin: 3}
	best := 0
	for _, sc := range k.Scopes {
		b.Scopes = append(b.Scopes, string(sc))
		if rank[sc] > best {
			best, b.Scope = rank[sc], string(sc)
		}
	}
	switch {
	case k.RevokedAt != nil:
		b.Status = "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		b.Status = "expired"
	}
	return b
}

// newKeyBody is the answer to creating or rotating a key: the only time the secret is shown.
type newKeyBody struct {
	apiKeyBody
	Key     string `json:"key"`
	APIKey  string `json:"api_key"`
	Message string `json:"message"`
}

// keyRevoked is the response of DELETE /users/api-keys/{key_id}.
type keyRevoked struct {
	KeyID   int64  `json:"key_id"`
	Message string `json:"message"`
	UserID  int64  `json:"user_id"`
}

// messageBody is tldw's MessageResponse: a plain confirmation, with the user acted on or
// details when there are any.
type messageBody struct {
	Message string          `json:"message"`
	UserID  int64           `json:"user_id,omitempty"`
	Details *messageDetails `json:"details,omitempty"`
}

// messageDetails are the details of a messageBody; each answer sets the fields it reports.
type messageDetails struct {
	UserID          *int64 `json:"user_id,omitempty"`
	SessionsRevoked *int   `json:"sessions_revoked,omitempty"`
}

// formatTimePtr is formatTime of *t, or nil.
func formatTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	v := formatTime(*t)
	return &v
}

// Handlers.

// handleLogin accepts the OAuth2 password form (form-encoded or multipart; grant_type, scope,
// client_id and client_secret are ignored) or a JSON object with username and password.
// A wrong password and an unknown user get the same 401. In cookie mode a foreign Origin or
// Referer is 403 csrf_failed (checkLoginOrigin), as for register.
func (s *accountsAPI) handleLogin(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkLoginOrigin(r); err != nil {
		return err
	}
	username, password, err := s.loginForm(w, r)
	if err != nil {
		return err
	}
	pair, err := s.o.Auth.Login(r.Context(), username, password, s.meta(r))
	if errors.Is(err, auth.ErrUnauthenticated) {
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_credentials",
			Detail: "Incorrect username or password", Err: err}
	}
	if err != nil {
		return err
	}
	return s.writeTokens(w, r, pair)
}

// loginRequest is the login body: the OAuth2 password form (form-encoded or multipart) or
// JSON with the same names. Only username and password are read.
type loginRequest struct {
	Username     *string `json:"username" oapi:"required" doc:"Username or email"`
	Password     *string `json:"password" oapi:"required"`
	GrantType    *string `json:"grant_type,omitempty" doc:"Ignored (OAuth2: password)"`
	Scope        *string `json:"scope,omitempty" doc:"Ignored"`
	ClientID     *string `json:"client_id,omitempty" doc:"Ignored"`
	ClientSecret *string `json:"client_secret,omitempty" doc:"Ignored"`
}

// loginForm reads username and password from a form or JSON body (never from the query
// string). Absent fields are a 422 list.
func (s *accountsAPI) loginForm(w http.ResponseWriter, r *http.Request) (username, password string, err error) {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	var user, pass *string
	switch {
	case isJSON(ct):
		var body loginRequest
		if err := s.readJSON(w, r, &body); err != nil {
			return "", "", err
		}
		user, pass = body.Username, body.Password
	case ct == "" || mt == formType || mt == "multipart/form-data":
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody())
		if mt == "multipart/form-data" {
			err = r.ParseMultipartForm(s.maxBody())
		} else {
			err = r.ParseForm()
		}
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return "", "", err
			}
			return "", "", &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: "Malformed form body"}
		}
		if r.MultipartForm != nil {
			defer func() { _ = r.MultipartForm.RemoveAll() }()
		}
		if err := checkValues(r.PostForm); err != nil {
			return "", "", err
		}
		if v, ok := r.PostForm["username"]; ok && len(v) > 0 {
			user = &v[0]
		}
		if v, ok := r.PostForm["password"]; ok && len(v) > 0 {
			pass = &v[0]
		}
	default:
		return "", "", &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Detail: "Content-Type must be application/x-www-form-urlencoded or application/json"}
	}
	var absent []string
	if user == nil {
		absent = append(absent, "username")
	}
	if pass == nil {
		absent = append(absent, "password")
	}
	if err := missingFields(absent...); err != nil {
		return "", "", err
	}
	return *user, *pass, nil
}

// writeTokens answers a login or refresh with the token object (and, in cookie mode, the
// cookies).
func (s *accountsAPI) writeTokens(w http.ResponseWriter, r *http.Request, pair *auth.TokenPair) error {
	if s.o.AuthCookies {
		if err := s.setAuthCookies(w, pair); err != nil {
			return err
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, r, http.StatusOK, newTokenBody(pair))
	return nil
}

// refreshRequest is POST /auth/refresh; in cookie mode the cookie may stand in for the field.
type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

// handleRefresh rotates a refresh token given as JSON {"refresh_token"} or, in cookie mode, as the
// handleRefresh cookie (which then needs CSRF proof like any cookie-authenticated request).
func (s *accountsAPI) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var body refreshRequest
	if err := s.readJSON(w, r, &body); err != nil {
		return err
	}
	var token string
	switch {
	case body.RefreshToken != nil:
		token = *body.RefreshToken
	case s.o.AuthCookies:
		c, err := r.Cookie(s.cookieName(refreshCookie))
		if err != nil || c.Value == "" {
			return missingFields("refresh_token")
		}
		if err := s.checkCSRF(r); err != nil {
			return err
		}
		token = c.Value
	default:
		return missingFields("refresh_token")
	}
	pair, err := s.o.Auth.Refresh(r.Context(), token, s.meta(r))
	if errors.Is(err, auth.ErrUnauthenticated) {
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_credentials",
			Detail: "Invalid or expired refresh token", Err: err}
	}
	if err != nil {
		return err
	}
	return s.writeTokens(w, r, pair)
}

// logoutRequest is the optional body of POST /auth/logout.
type logoutRequest struct {
	AllDevices *bool `json:"all_devices" doc:"End every session of the account"`
}

// handleLogout ends the caller's session (or all its sessions); the body is optional.
func (s *accountsAPI) handleLogout(w http.ResponseWriter, r *http.Request) error {
	var body logoutRequest
	if err := s.readJSON(w, r, &body); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	all := body.AllDevices != nil && *body.AllDevices
	if err := s.o.Auth.Logout(r.Context(), p, all, s.meta(r)); err != nil {
		return err
	}
	if s.o.AuthCookies {
		s.clearAuthCookies(w)
	}
	s.writeJSON(w, r, http.StatusOK, messageBody{Message: "Successfully logged out",
		Details: &messageDetails{UserID: &p.UserID}})
	return nil
}

// registerRequestBody is POST /auth/register. Only these fields are read: role, is_active, quota
// and the like cannot be set by registering.
type registerRequestBody struct {
	Username         *string `json:"username" oapi:"required"`
	Email            *string `json:"email" oapi:"required"`
	Password         *string `json:"password" oapi:"required"`
	RegistrationCode *string `json:"registration_code"`
}

// registeredBody is tldw's RegistrationResponse.
type registeredBody struct {
	Message              string `json:"message"`
	UserID               int64  `json:"user_id"`
	Username             string `json:"username"`
	Email                string `json:"email"`
	Role                 string `json:"role"`
	RequiresVerification bool   `json:"requires_verification"`
}

func (s *accountsAPI) handleRegister(w http.ResponseWriter, r *http.Request) error {
	if err := s.checkLoginOrigin(r); err != nil {
		return err
	}
	var body registerRequestBody
	if err := s.readJSON(w, r, &body); err != nil {
		return err
	}
	var absent []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"username", body.Username}, {"email", body.Email}, {"password", body.Password}} {
		if f.v == nil {
			absent = append(absent, f.name)
		}
	}
	if err := missingFields(absent...); err != nil {
		return err
	}
	req := auth.RegisterRequest{Username: *body.Username, Email: *body.Email, Password: *body.Password}
	if body.RegistrationCode != nil {
		req.Code = *body.RegistrationCode
	}
	u, err := s.o.Auth.Register(r.Context(), req, s.meta(r))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, registeredBody{Message: "Registration successful", UserID: u.ID,
		Username: u.Username, Email: u.Email, Role: string(u.Role), RequiresVerification: !u.IsVerified})
	return nil
}

func (s *accountsAPI) handleMe(w http.ResponseWriter, r *http.Request) error {
	u, err := s.o.Auth.Me(r.Context(), principalFrom(r.Context()))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, newUserBody(u))
	return nil
}

// updateMeRequest is PUT /users/me; other fields are ignored.
type updateMeRequest struct {
	Email           *string `json:"email"`
	CurrentPassword string  `json:"current_password" doc:"Required to change the email"`
}

// handleUpdateMe changes the caller's email, which needs current_password (400
// current_password_required when absent, 401 invalid_credentials when wrong); every other
// field of the body is ignored.
func (s *accountsAPI) handleUpdateMe(w http.ResponseWriter, r *http.Request) error {
	var body updateMeRequest
	if err := s.readJSON(w, r, &body); err != nil {
		return err
	}
	u, err := s.o.Auth.UpdateMe(r.Context(), principalFrom(r.Context()), body.Email, body.CurrentPassword, s.meta(r))
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_credentials",
			Detail: "Current password is incorrect", Err: err}
	case errors.Is(err, auth.ErrCurrentPasswordRequired):
		return &Error{Status: http.StatusBadRequest, Code: "current_password_required",
			Detail: "current_password is required to change the email", Err: err}
	case err != nil:
		return err
	}
	s.writeJSON(w, r, http.StatusOK, newUserBody(u))
	return nil
}

// changePasswordRequest is POST /users/change-password.
type changePasswordRequest struct {
	CurrentPassword *string `json:"current_password" oapi:"required"`
	NewPassword     *string `json:"new_password" oapi:"required"`
	RevokeAPIKeys   *bool   `json:"revoke_api_keys" doc:"Also revoke the user's other API keys (default true)"`
}

func (s *accountsAPI) handleChangePassword(w http.ResponseWriter, r *http.Request) error {
	var body changePasswordRequest
	if err := s.readJSON(w, r, &body); err != nil {
		return err
	}
	var absent []string
	if body.CurrentPassword == nil {
		absent = append(absent, "current_password")
	}
	if body.NewPassword == nil {
		absent = append(absent, "new_password")
	}
	if err := missingFields(absent...); err != nil {
		return err
	}
	o := auth.PasswordChangeOptions{KeepAPIKeys: body.RevokeAPIKeys != nil && !*body.RevokeAPIKeys}
	err := s.o.Auth.ChangePasswordWith(r.Context(), principalFrom(r.Context()), *body.CurrentPassword, *body.NewPassword, o, s.meta(r))
	if errors.Is(err, auth.ErrUnauthenticated) {
		return &Error{Status: http.StatusUnauthorized, Code: "invalid_credentials",
			Detail: "Current password is incorrect", Err: err}
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, messageBody{Message: "Password changed successfully"})
	return nil
}

func (s *accountsAPI) handleListSessions(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	list, err := s.o.Auth.Sessions(r.Context(), p, p.UserID)
	if err != nil {
		return err
	}
	out := make([]sessionBody, 0, len(list))
	for _, se := range list {
		out = append(out, sessionBody{ID: se.ID, CreatedAt: formatTime(se.CreatedAt), LastActivity: formatTime(se.LastActivity),
			ExpiresAt: formatTime(se.ExpiresAt), RefreshExpiresAt: formatTime(se.RefreshExpiresAt),
			IPAddress: se.IPAddress, UserAgent: se.UserAgent, IsCurrent: p.SessionID != 0 && se.ID == p.SessionID})
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

func (s *accountsAPI) handleRevokeSession(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt64(r, "session_id")
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if err := s.o.Auth.RevokeSession(r.Context(), p, p.UserID, id, s.meta(r)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, messageBody{Message: "Session revoked successfully"})
	return nil
}

// handleRevokeAllSessions revokes the caller's other sessions; the one making the request stays.
func (s *accountsAPI) handleRevokeAllSessions(w http.ResponseWriter, r *http.Request) error {
	p := principalFrom(r.Context())
	n, err := s.o.Auth.RevokeAllSessions(r.Context(), p, p.UserID, true, s.meta(r))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, messageBody{Message: fmt.Sprintf("Successfully revoked %d sessions", n),
		Details: &messageDetails{SessionsRevoked: &n}})
	return nil
}

func (s *accountsAPI) handleListAPIKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.o.Auth.ListAPIKeys(r.Context(), principalFrom(r.Context()))
	if err != nil {
		return err
	}
	now := s.now()
	out := make([]apiKeyBody, 0, len(keys))
	for i := range keys {
		out = append(out, newAPIKeyBody(&keys[i], now))
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

// maxAPIKeyDays bounds expires_in_days.
const maxAPIKeyDays = 3650

// createKeyRequest is POST /users/api-keys.
type createKeyRequest struct {
	Name          *string         `json:"name"`
	Scopes        []string        `json:"scopes" oapi:"enum=read|write|admin"`
	Scope         json.RawMessage `json:"scope" doc:"HEAD's scope: a string or a list of strings"`
	ExpiresInDays *int            `json:"expires_in_days"`
	RateLimit     int             `json:"rate_limit_per_minute" doc:"Requests per minute for this key (0: only the user's budget)"`
}

// handleCreateAPIKey accepts {name, scopes: [...], expires_in_days} and HEAD's "scope" (a string
// or a list) as well; the scopes of both are merged, default read.
func (s *accountsAPI) handleCreateAPIKey(w http.ResponseWriter, r *http.Request) error {
	var body createKeyRequest
	if err := s.readJSON(w, r, &body); err != nil {
		return err
	}
	scopes := body.Scopes
	if len(body.Scope) > 0 && string(body.Scope) != "null" {
		var one string
		var many []string
		switch {
		case json.Unmarshal(body.Scope, &one) == nil:
			scopes = append(scopes, one)
		case json.Unmarshal(body.Scope, &many) == nil:
			scopes = append(scopes, many...)
		default:
			return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_error", Detail: "Invalid value for body.scope",
				Fields: []FieldError{{Loc: []string{"body", "scope"}, Msg: "value is not a valid str or list", Type: "type_error"}}}
		}
	}
	var expiry time.Duration
	if body.ExpiresInDays != nil {
		d := *body.ExpiresInDays
		if d < 1 || d > maxAPIKeyDays {
			return Errorf(http.StatusBadRequest, "invalid_request", "expires_in_days must be between 1 and %d", maxAPIKeyDays)
		}
		expiry = time.Duration(d) * 24 * time.Hour
	}
	name := ""
	if body.Name != nil {
		name = *body.Name
	}
	sc := make([]auth.Scope, len(scopes))
	for i, v := range scopes {
		sc[i] = auth.Scope(v)
	}
	k, full, err := s.o.Auth.CreateAPIKeyWith(r.Context(), principalFrom(r.Context()), name, sc, expiry,
		auth.KeyOptions{RateLimitPerMinute: body.RateLimit}, s.meta(r))
	if err != nil {
		return err
	}
	s.writeNewKey(w, r, k, full, "API key created; store it now, it will not be shown again")
	return nil
}

// handleRotateAPIKey replaces a key's secret (a body, if any, is ignored).
func (s *accountsAPI) handleRotateAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt64(r, "key_id")
	if err != nil {
		return err
	}
	k, full, err := s.o.Auth.RotateAPIKey(r.Context(), principalFrom(r.Context()), id, s.meta(r))
	if err != nil {
		return err
	}
	s.writeNewKey(w, r, k, full, "API key rotated; store it now, it will not be shown again")
	return nil
}

func (s *accountsAPI) writeNewKey(w http.ResponseWriter, r *http.Request, k *auth.APIKey, full, msg string) {
	w.Header().Set("Cache-Control", "no-store")
	s.writeJSON(w, r, http.StatusOK, newKeyBody{apiKeyBody: newAPIKeyBody(k, s.now()), Key: full, APIKey: full, Message: msg})
}

func (s *accountsAPI) handleRevokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	id, err := pathInt64(r, "key_id")
	if err != nil {
		return err
	}
	p := principalFrom(r.Context())
	if err := s.o.Auth.RevokeAPIKey(r.Context(), p, id, s.meta(r)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, keyRevoked{KeyID: id, Message: "API key revoked", UserID: p.UserID})
	return nil
}

// handleVerify answers nginx auth_request: 200 with the caller's identity in X-User-Id,
// X-User-Name and X-User-Role, 401 without a valid credential, 403 when X-Original-URI names
// a path the caller may not read (Service.MayAccessPath normalises it once, as nginx
// routes). The body is always empty, and nothing becomes a 3xx or 5xx: a backend failure or
// a panic is a 401 (nginx would turn anything else into a 500 for the user).
func (s *accountsAPI) handleVerify(w http.ResponseWriter, r *http.Request) error {
	p, status := s.verifyDecision(r)
	h := w.Header()
	if status == http.StatusOK {
		h.Set("X-User-Id", strconv.FormatInt(p.UserID, 10))
		if headerSafe(p.Username) {
			h.Set("X-User-Name", p.Username)
		}
		h.Set("X-User-Role", string(p.Role))
	}
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", "Bearer")
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}

// verifyDecision authenticates r and applies the path rule; see handleVerify.
func (s *accountsAPI) verifyDecision(r *http.Request) (p *auth.Principal, status int) {
	defer func() {
		if v := recover(); v != nil {
			s.logger(r).ErrorContext(r.Context(), "panic in auth verify", "panic", v)
			p, status = nil, http.StatusUnauthorized
		}
	}()
	p, _, err := s.authenticate(r)
	if errors.Is(err, auth.ErrForbidden) {
		return nil, http.StatusForbidden // e.g. a client outside SINGLE_USER_ALLOWED_IPS
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			s.logger(r).ErrorContext(r.Context(), "auth verify failed", "error", err)
		}
		return nil, http.StatusUnauthorized
	}
	if p.MustChangePassword {
		return nil, http.StatusForbidden
	}
	uris := r.Header.Values("X-Original-URI")
	if len(uris) == 0 {
		return p, http.StatusOK
	}
	if len(uris) > 1 {
		return nil, http.StatusForbidden
	}
	switch err := s.o.Auth.MayAccessPath(p, uris[0]); {
	case err == nil:
		return p, http.StatusOK
	case errors.Is(err, auth.ErrUnauthenticated):
		return nil, http.StatusUnauthorized
	default:
		return nil, http.StatusForbidden
	}
}

// headerSafe reports whether v can be sent as a header value verbatim (printable ASCII).
func headerSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return v != ""
}

// jwksSource is implemented by an auth.Service that publishes its token keys.
type jwksSource interface {
	JWKS() ([]byte, bool)
}

// handleJWKS serves the public verification keys; 404 with HS256 (nothing public to publish).
func (s *accountsAPI) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	src, ok := any(s.o.Auth).(jwksSource)
	if !ok {
		return ErrNotFound
	}
	set, ok := src.JWKS()
	if !ok {
		return ErrNotFound
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(set)
	return nil
}
