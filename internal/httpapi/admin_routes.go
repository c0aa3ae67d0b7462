package httpapi

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"github.com/tldw-go/tldw/auth"
)

// Bounds of the admin API's parameters (tldw_server's where it has them).
const (
	usersDefaultLimit = 20
	usersMaxLimit     = 100
	usersMaxPage      = 1_000_000
	maxSearchLen      = 200
	maxReasonLen      = 500
	codeMaxUses       = 100
	codeMaxExpiryDays = 365
)

// routes serve user, session, registration-code, registration-setting and statistics
// administration under /api/v1/admin. The gate checks each route's Perm; the auth.Service
// enforces the per-object rules (moderators never act on admins nor change roles, the last
// active admin stays), whose errors the error table maps.
func (s *adminAPI) routes() []route {
	const tag = "admin"
	userID := "/api/v1/admin/users/{id:[0-9]+}"
	return []route{
		{Method: http.MethodGet, Path: "/api/v1/admin/users", Tag: tag, Perm: auth.PermUsersRead, TrailingSlash: true,
			ID: "listUsers", Response: userList{},
			Summary: "List users",
			Query: []param{
				{Name: "page", Description: "Page number, from 1", Type: "integer", Range: []int64{1, usersMaxPage}},
				{Name: "limit", Description: "Page size, 1-100 (default 20)", Type: "integer", Range: []int64{1, usersMaxLimit}},
				{Name: "role", Description: "Only users with this role", Type: "string", Enum: []string{"admin", "moderator", "user", "service"}},
				{Name: "is_active", Description: "Only active (true) or inactive (false) users", Type: "boolean"},
				{Name: "search", Description: "Case-insensitive substring of username or email", Type: "string"},
			},
			Responses: map[int]string{200: "users, total, page, limit, pages", 400: "Invalid parameter",
				401: "Not authenticated", 403: "Not allowed"},
			Handler: s.handleListUsers},
		{Method: http.MethodPost, Path: "/api/v1/admin/users", Tag: tag, Perm: auth.PermUsersWrite, TrailingSlash: true,
			ID: "createUser", Request: createUserBody{}, Response: adminUserJSON{},
			Summary: "Create a user", Body: "application/json",
			Responses: map[int]string{201: "The new user", 400: "Invalid input or weak password (invalid_audio_tier: not a configured tier)",
				403: "Not allowed", 409: "Username or email taken", 413: "Body too large", 422: "Validation error"},
			Handler: s.handleCreateUser},
		{Method: http.MethodGet, Path: userID, Tag: tag, Perm: auth.PermUsersRead,
			ID: "getUser", Response: adminUserJSON{},
			Summary:   "Get a user",
			Responses: map[int]string{200: "The user", 403: "Not allowed", 404: "No such user"},
			Handler:   s.handleGetUser},
		// The gate asks for the least any field needs; handleUpdateUser checks each field's
		// permission before anything changes, and the Service the per-object rules.
		{Method: http.MethodPut, Path: userID, Tag: tag, Perm: auth.PermUsersDeactivate,
			ID: "updateUser", Request: updateUserBody{}, Response: updatedUser{},
			Summary: "Update a user (email, role, is_active, is_verified, is_locked=false, storage_quota_mb, audio_tier)",
			Body:    "application/json",
			Responses: map[int]string{200: "The updated user", 400: "No fields to update or invalid input (invalid_audio_tier: not a configured tier)",
				403: "Not allowed", 404: "No such user", 409: "Would remove the last active admin",
				413: "Body too large", 422: "Validation error"},
			Handler: s.handleUpdateUser},
		{Method: http.MethodDelete, Path: userID, Tag: tag, Perm: auth.PermUsersDeactivate,
			ID: "deactivateUser", Response: messageBody{},
			Summary: "Deactivate a user (soft delete)",
			Responses: map[int]string{200: "Deactivated", 400: "Cannot delete your own account",
				403: "Not allowed", 404: "No such user", 409: "Would remove the last active admin"},
			Handler: s.handleDeactivateUser},
		{Method: http.MethodPost, Path: userID + "/reset-password", Tag: tag, Perm: auth.PermUsersWrite, AuthLimited: true,
			ID: "resetUserPassword", Request: resetPasswordBody{}, Response: resetPasswordJSON{},
			Summary: "Set a user's password (must change at next login) and end their sessions",
			Body:    "application/json",
			Responses: map[int]string{200: "Password reset", 400: "Weak password", 403: "Not allowed",
				404: "No such user", 413: "Body too large", 422: "Validation error"},
			Handler: s.handleResetPassword},
		{Method: http.MethodPost, Path: userID + "/unlock", Tag: tag, Perm: auth.PermUsersDeactivate,
			ID: "unlockUser", Response: messageBody{},
			Summary:   "Clear a user's login lockout",
			Responses: map[int]string{200: "Unlocked", 403: "Not allowed", 404: "No such user"},
			Handler:   s.handleUnlockUser},
		{Method: http.MethodGet, Path: userID + "/sessions", Tag: tag, Perm: auth.PermSessionsRevoke,
			ID: "listUserSessionsAdmin", Response: []adminSessionJSON{},
			Summary:   "List a user's live sessions",
			Responses: map[int]string{200: "Sessions (no token material)", 403: "Not allowed", 404: "No such user"},
			Handler:   s.handleUserSessions},
		{Method: http.MethodDelete, Path: userID + "/sessions/{sid:[0-9]+}", Tag: tag, Perm: auth.PermSessionsRevoke,
			ID: "revokeUserSessionAdmin", Response: messageBody{},
			Summary:   "Revoke one of a user's sessions",
			Responses: map[int]string{200: "Revoked", 403: "Not allowed", 404: "No such user or session"},
			Handler:   s.handleRevokeUserSession},
		{Method: http.MethodPost, Path: userID + "/sessions/revoke-all", Tag: tag, Perm: auth.PermSessionsRevoke,
			ID: "revokeAllUserSessionsAdmin", Response: revokeAllJSON{},
			Summary:   "Revoke every session of a user",
			Responses: map[int]string{200: "Revoked, with the count", 403: "Not allowed", 404: "No such user"},
			Handler:   s.handleRevokeUserSessions},
		{Method: http.MethodPost, Path: "/api/v1/admin/registration-codes", Tag: tag, Perm: auth.PermCodesWrite, TrailingSlash: true,
			ID: "createRegistrationCode", Request: createCodesBody{}, Response: oneOf{codeJSON{}, codeList{}},
			Summary: "Create registration codes (one object, or {codes:[...]} when count is given)",
			Body:    "application/json",
			Responses: map[int]string{200: "The code(s)", 400: "Invalid input", 403: "Not allowed (e.g. an admin code by a moderator)",
				413: "Body too large", 422: "Validation error"},
			Handler: s.handleCreateCodes},
		{Method: http.MethodGet, Path: "/api/v1/admin/registration-codes", Tag: tag, Perm: auth.PermCodesRead, TrailingSlash: true,
			ID: "listRegistrationCodes", Response: codeList{},
			Summary: "List registration codes, newest first",
			Query: []param{{Name: "include_inactive", Type: "boolean",
				Description: "Also list revoked, expired and used-up codes (include_expired is an alias)"}},
			Responses: map[int]string{200: "codes", 400: "Invalid parameter", 403: "Not allowed"},
			Handler:   s.handleListCodes},
		{Method: http.MethodDelete, Path: "/api/v1/admin/registration-codes/{id:[0-9]+}", Tag: tag, Perm: auth.PermCodesWrite,
			ID: "revokeRegistrationCode", Response: codeRevoked{},
			Summary:   "Revoke a registration code",
			Responses: map[int]string{200: "Revoked", 403: "Not allowed", 404: "No such code"},
			Handler:   s.handleRevokeCode},
		{Method: http.MethodGet, Path: "/api/v1/admin/registration-settings", Tag: tag, Perm: auth.PermSettingsWrite,
			ID: "getRegistrationSettings", Response: registrationJSON{},
			Summary:   "Show the registration settings in effect",
			Responses: map[int]string{200: "The settings", 403: "Not allowed"},
			Handler:   s.handleGetRegistration},
		{Method: http.MethodPost, Path: "/api/v1/admin/registration-settings", Tag: tag, Perm: auth.PermSettingsWrite,
			ID: "updateRegistrationSettings", Request: registrationBody{}, Response: registrationJSON{},
			Summary: "Change the registration settings at run time", Body: "application/json",
			Responses: map[int]string{200: "The settings now in effect", 403: "Not allowed",
				413: "Body too large", 422: "Validation error"},
			Handler: s.handleSetRegistration},
		{Method: http.MethodGet, Path: "/api/v1/admin/stats", Tag: tag, Perm: auth.PermStatsRead,
			ID: "getAdminStats", Response: statsJSON{},
			Summary:   "Account statistics",
			Responses: map[int]string{200: "users, sessions and registration_codes counts", 403: "Not allowed"},
			Handler:   s.handleStats},
	}
}

// ---- helpers shared by the admin handlers -------------------------------------------------

// adminCtx returns the service and the authenticated principal of an admin request. The
// gate has already run; the checks here only guard against a misconfigured route.
func (s *adminAPI) adminCtx(r *http.Request) (*auth.Service, *auth.Principal, error) {
	if s.o.Auth == nil {
		return nil, nil, Errorf(http.StatusServiceUnavailable, "service_unavailable", "accounts are not configured")
	}
	p := principalFrom(r.Context())
	if p == nil {
		return nil, nil, ErrUnauthorized
	}
	return s.o.Auth, p, nil
}

// adminTarget is adminCtx plus the {id} path variable: the user an admin route acts on.
func (s *adminAPI) adminTarget(r *http.Request) (*auth.Service, *auth.Principal, int64, error) {
	svc, p, err := s.adminCtx(r)
	if err != nil {
		return nil, nil, 0, err
	}
	id, err := pathInt64(r, "id")
	return svc, p, id, err
}

// pathInt64 returns the numeric path variable name; a value that does not fit is 404.
func pathInt64(r *http.Request, name string) (int64, error) {
	v, err := strconv.ParseInt(mux.Vars(r)[name], 10, 64)
	if err != nil || v < 1 {
		return 0, ErrNotFound
	}
	return v, nil
}

// bodyField makes a validation problem located in the request body.
func bodyField(field, msg, typ string) FieldError {
	return FieldError{Loc: []string{"body", field}, Msg: msg, Type: typ}
}

// quotaField checks storage_quota_mb against auth.CheckQuota's range (nil = unlimited).
func quotaField(q *int64) *FieldError {
	switch {
	case q == nil:
		return nil
	case *q < 0:
		fe := bodyField("storage_quota_mb", "ensure this value is greater than or equal to 0", "value_error.number.not_ge")
		return &fe
	case *q > auth.MaxStorageQuotaMB:
		fe := bodyField("storage_quota_mb", fmt.Sprintf("ensure this value is less than or equal to %d", auth.MaxStorageQuotaMB), "value_error.number.not_le")
		return &fe
	}
	return nil
}

// invalidFields is the 422 for problems found after decoding (FastAPI-style detail list).
// It returns nil when there are none.
func invalidFields(problems []FieldError) error {
	if len(problems) == 0 {
		return nil
	}
	names := make([]string, 0, len(problems))
	for _, p := range problems {
		names = append(names, p.Loc[len(p.Loc)-1])
	}
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_error",
		Detail: "Invalid value for " + strings.Join(names, ", "), Fields: problems}
}

// nullableInt64 is an optional JSON integer that tells an absent field (Set false) from an
// explicit null (Set true, V nil).
type nullableInt64 struct {
	Set bool
	V   *int64
}

// UnmarshalJSON records that the field was present and decodes null or an integer.
func (n *nullableInt64) UnmarshalJSON(b []byte) error {
	n.Set, n.V = true, nil
	if string(b) == "null" {
		return nil
	}
	var v int64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	n.V = &v
	return nil
}

// schemaType describes the field in the OpenAPI document: a nullable integer.
func (n *nullableInt64) schemaType() (typ, format string, nullable bool) {
	return "integer", "int64", true
}

// nullableString is an optional JSON string that tells an absent field (Set false) from an
// explicit null (Set true, V "") or a string.
type nullableString struct {
	Set bool
	V   string
}

// UnmarshalJSON records that the field was present and decodes null (as "") or a string.
func (n *nullableString) UnmarshalJSON(b []byte) error {
	n.Set, n.V = true, ""
	if string(b) == "null" {
		return nil
	}
	return json.Unmarshal(b, &n.V)
}

// schemaType describes the field in the OpenAPI document: a nullable string.
func (n *nullableString) schemaType() (typ, format string, nullable bool) {
	return "string", "", true
}

// parseRoleField validates a role given in a body field.
func parseRoleField(field, v string) (auth.Role, *FieldError) {
	role, err := auth.ParseRole(v)
	if err != nil {
		fe := bodyField(field, "role must be one of admin, moderator, user, service", "value_error.enum")
		return "", &fe
	}
	return role, nil
}

// ---- users -----------------------------------------------------------------------------

// adminUserJSON is a user as the admin API renders it: tldw_server's UserSummary plus the
// detail fields. It never carries the password hash.
type adminUserJSON struct {
	ID                 int64   `json:"id"`
	UUID               string  `json:"uuid"`
	Username           string  `json:"username"`
	Email              string  `json:"email"`
	Role               string  `json:"role"`
	IsActive           bool    `json:"is_active"`
	IsVerified         bool    `json:"is_verified"`
	MustChangePassword bool    `json:"must_change_password"`
	CreatedAt          string  `json:"created_at"`
	UpdatedAt          string  `json:"updated_at"`
	LastLogin          *string `json:"last_login"`
	CreatedBy          *int64  `json:"created_by"`
	StorageQuotaMB     *int64  `json:"storage_quota_mb"`
	StorageUsedMB      float64 `json:"storage_used_mb"`
	AudioTier          *string `json:"audio_tier"` // null: the default tier (DEFAULT_AUDIO_TIER)
}

// audioTierView is a user's audio tier as the API shows it: null for the default tier.
func audioTierView(u *auth.User) *string {
	if u.AudioTier == "" {
		return nil
	}
	t := u.AudioTier
	return &t
}

// checkAudioTier refuses a tier that is not configured (AUDIO_TIER_LIMITS_JSON's names)
// with 400 invalid_audio_tier; "" (back to the default tier) is always valid.
func checkAudioTier(svc *auth.Service, tier string) error {
	if tier == "" || slices.Contains(svc.AudioTiers(), tier) {
		return nil
	}
	return Errorf(http.StatusBadRequest, "invalid_audio_tier", "Unknown audio tier; use one of %s, or \"\" for the default tier",
		strings.Join(svc.AudioTiers(), ", "))
}

func adminUserView(u *auth.User) adminUserJSON {
	v := adminUserJSON{
		ID: u.ID, UUID: u.UUID, Username: u.Username, Email: u.Email, Role: string(u.Role),
		IsActive: u.IsActive, IsVerified: u.IsVerified, MustChangePassword: u.MustChangePassword,
		CreatedAt: formatTime(u.CreatedAt), UpdatedAt: formatTime(u.UpdatedAt),
		CreatedBy: u.CreatedBy, StorageQuotaMB: u.StorageQuotaMB,
		StorageUsedMB: math.Round(float64(u.StorageUsedBytes)/(1<<20)*100) / 100,
		AudioTier:     audioTierView(u),
	}
	if u.LastLogin != nil {
		t := formatTime(*u.LastLogin)
		v.LastLogin = &t
	}
	return v
}

// userList is the response of GET /admin/users (tldw_server's shape).
type userList struct {
	Users []adminUserJSON `json:"users"`
	Total int             `json:"total"`
	Page  int             `json:"page"`
	Limit int             `json:"limit"`
	Pages int             `json:"pages"`
}

func (s *adminAPI) handleListUsers(w http.ResponseWriter, r *http.Request) error {
	svc, p, err := s.adminCtx(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := intParam(q, "page", 1, 1, usersMaxPage)
	if err != nil {
		return err
	}
	limit, err := intParam(q, "limit", usersDefaultLimit, 1, usersMaxLimit)
	if err != nil {
		return err
	}
	f := auth.UserFilter{Limit: limit, Offset: (page - 1) * limit}
	if v := q.Get("role"); v != "" {
		if f.Role, err = auth.ParseRole(v); err != nil {
			return badParam("role must be one of admin, moderator, user, service")
		}
	}
	if v := q.Get("is_active"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return badParam("is_active must be true or false")
		}
		f.IsActive = &b
	}
	if f.Search = strings.TrimSpace(q.Get("search")); len(f.Search) > maxSearchLen {
		return badParam("search must be at most %d bytes", maxSearchLen)
	}
	users, total, err := svc.ListUsers(r.Context(), p, f)
	if err != nil {
		return err
	}
	out := userList{Users: make([]adminUserJSON, 0, len(users)), Total: total, Page: page, Limit: limit,
		Pages: (total + limit - 1) / limit}
	for i := range users {
		out.Users = append(out.Users, adminUserView(&users[i]))
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

func (s *adminAPI) handleGetUser(w http.ResponseWriter, r *http.Request) error {
	svc, p, id, err := s.adminTarget(r)
	if err != nil {
		return err
	}
	u, err := svc.User(r.Context(), p, id)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, adminUserView(u))
	return nil
}

// createUserBody is POST /admin/users. is_active=false creates the account deactivated;
// audio_tier (quotas.write) is one of the configured tiers, absent or "" the default.
type createUserBody struct {
	Username           *string `json:"username" oapi:"required"`
	Email              *string `json:"email" oapi:"required"`
	Password           *string `json:"password" oapi:"required"`
	Role               *string `json:"role" oapi:"enum=admin|moderator|user|service"`
	IsActive           *bool   `json:"is_active"`
	IsVerified         *bool   `json:"is_verified"`
	MustChangePassword *bool   `json:"must_change_password"`
	StorageQuotaMB     *int64  `json:"storage_quota_mb"`
	AudioTier          *string `json:"audio_tier"`
}

func (s *adminAPI) handleCreateUser(w http.ResponseWriter, r *http.Request) error {
	svc, p, err := s.adminCtx(r)
	if err != nil {
		return err
	}
	var b createUserBody
	if err := s.readJSON(w, r, &b); err != nil {
		return err
	}
	var absent []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"username", b.Username}, {"email", b.Email}, {"password", b.Password}} {
		if f.v == nil {
			absent = append(absent, f.name)
		}
	}
	if err := missingFields(absent...); err != nil {
		return err
	}
	var problems []FieldError
	n := auth.NewUser{Role: auth.RoleUser, IsVerified: true, StorageQuotaMB: b.StorageQuotaMB}
	if b.Role != nil {
		role, fe := parseRoleField("role", *b.Role)
		if fe != nil {
			problems = append(problems, *fe)
		}
		n.Role = role
	}
	if fe := quotaField(b.StorageQuotaMB); fe != nil {
		problems = append(problems, *fe)
	}
	if err := invalidFields(problems); err != nil {
		return err
	}
	if b.AudioTier != nil && *b.AudioTier != "" {
		if !p.Can(auth.PermQuotasWrite) {
			s.auditDenied(r, p, r.Method+" /api/v1/admin/users", auth.PermQuotasWrite)
			return fmt.Errorf("%w: %s required", auth.ErrForbidden, auth.PermQuotasWrite)
		}
		if err := checkAudioTier(svc, *b.AudioTier); err != nil {
			return err
		}
		n.AudioTier = *b.AudioTier
	}
	n.Username, n.Email, n.Password = *b.Username, *b.Email, *b.Password
	if b.IsVerified != nil {
		n.IsVerified = *b.IsVerified
	}
	if b.MustChangePassword != nil {
		n.MustChangePassword = *b.MustChangePassword
	}
	m := s.meta(r)
	u, err := svc.CreateUser(r.Context(), p, n, m)
	if err != nil {
		return err
	}
	if b.IsActive != nil && !*b.IsActive {
		inactive := false
		if u, err = svc.UpdateUser(r.Context(), p, u.ID, auth.UserUpdate{IsActive: &inactive}, m); err != nil {
			return err
		}
	}
	s.writeJSON(w, r, http.StatusCreated, adminUserView(u))
	return nil
}

// updateUserBody is PUT /admin/users/{id}. Absent fields stay unchanged; storage_quota_mb
// null means unlimited; is_locked accepts only false (it clears the login lockout). Fields
// need: email, is_verified users.write; role users.roles; is_active, is_locked
// users.deactivate; storage_quota_mb and audio_tier quotas.write. audio_tier is one of the
// configured tiers (AUDIO_TIER_LIMITS_JSON's), or "" or null for the default tier
// (DEFAULT_AUDIO_TIER), which the responses show as null.
type updateUserBody struct {
	Email          *string        `json:"email"`
	Role           *string        `json:"role"`
	IsActive       *bool          `json:"is_active"`
	IsVerified     *bool          `json:"is_verified"`
	IsLocked       *bool          `json:"is_locked"`
	StorageQuotaMB nullableInt64  `json:"storage_quota_mb"`
	AudioTier      nullableString `json:"audio_tier"`
	Reason         *string        `json:"reason"`
}

// updatedUser is the response of PUT /admin/users/{id}.
type updatedUser struct {
	Message string        `json:"message"`
	User    adminUserJSON `json:"user"`
}

func (s *adminAPI) handleUpdateUser(w http.ResponseWriter, r *http.Request) error {
	svc, p, id, err := s.adminTarget(r)
	if err != nil {
		return err
	}
	var b updateUserBody
	if err := s.readJSON(w, r, &b); err != nil {
		return err
	}
	var problems []FieldError
	var up auth.UserUpdate
	var need []auth.Permission
	up.Email, up.IsActive, up.IsVerified = b.Email, b.IsActive, b.IsVerified
	if b.Email != nil || b.IsVerified != nil {
		need = append(need, auth.PermUsersWrite)
	}
	if b.IsActive != nil {
		need = append(need, auth.PermUsersDeactivate)
	}
	if b.Role != nil {
		role, fe := parseRoleField("role", *b.Role)
		if fe != nil {
			problems = append(problems, *fe)
		}
		up.Role = &role
		need = append(need, auth.PermUsersRoles)
	}
	if b.StorageQuotaMB.Set {
		if fe := quotaField(b.StorageQuotaMB.V); fe != nil {
			problems = append(problems, *fe)
		}
		q := b.StorageQuotaMB.V
		up.StorageQuotaMB = &q
		need = append(need, auth.PermQuotasWrite)
	}
	if b.AudioTier.Set {
		tier := b.AudioTier.V
		up.AudioTier = &tier
		need = append(need, auth.PermQuotasWrite)
	}
	unlock := false
	if b.IsLocked != nil {
		if *b.IsLocked {
			problems = append(problems, bodyField("is_locked", "accounts lock themselves after failed logins; only false (unlock) may be set", "value_error.const"))
		}
		unlock = true
		need = append(need, auth.PermUsersDeactivate)
	}
	if b.Reason != nil {
		if len(*b.Reason) > maxReasonLen {
			problems = append(problems, bodyField("reason", fmt.Sprintf("ensure this value has at most %d characters", maxReasonLen), "value_error.any_str.max_length"))
		}
		up.Reason = *b.Reason
	}
	if err := invalidFields(problems); err != nil {
		return err
	}
	if len(need) == 0 {
		return Errorf(http.StatusBadRequest, "no_fields", "No fields to update")
	}
	for _, perm := range need {
		if !p.Can(perm) {
			s.auditDenied(r, p, r.Method+" /api/v1/admin/users/{id}", perm)
			return fmt.Errorf("%w: %s required", auth.ErrForbidden, perm)
		}
	}
	if up.AudioTier != nil {
		if err := checkAudioTier(svc, *up.AudioTier); err != nil {
			return err
		}
	}
	m := s.meta(r)
	var u *auth.User
	if up.Email != nil || up.Role != nil || up.IsActive != nil || up.IsVerified != nil || up.StorageQuotaMB != nil || up.AudioTier != nil {
		if u, err = svc.UpdateUser(r.Context(), p, id, up, m); err != nil {
			return err
		}
	}
	if unlock {
		if err := svc.Unlock(r.Context(), p, id, m); err != nil {
			return err
		}
		if u, err = svc.User(r.Context(), p, id); err != nil {
			return err
		}
	}
	s.writeJSON(w, r, http.StatusOK, updatedUser{Message: "User updated successfully", User: adminUserView(u)})
	return nil
}

func (s *adminAPI) handleDeactivateUser(w http.ResponseWriter, r *http.Request) error {
	svc, p, id, err := s.adminTarget(r)
	if err != nil {
		return err
	}
	if id == p.UserID {
		return Errorf(http.StatusBadRequest, "cannot_delete_self", "Cannot delete your own account")
	}
	inactive := false
	if _, err := svc.UpdateUser(r.Context(), p, id, auth.UserUpdate{IsActive: &inactive}, s.meta(r)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, messageBody{Message: "User deactivated successfully", UserID: id})
	return nil
}

// resetPasswordBody is POST /admin/users/{id}/reset-password; temporary_password is the
// newer tldw_server name. The user must change the password at the next login either way.
type resetPasswordBody struct {
	NewPassword         *string `json:"new_password"`
	TemporaryPassword   *string `json:"temporary_password"`
	ForcePasswordChange *bool   `json:"force_password_change"`
	Reason              *string `json:"reason"`
}

// resetPasswordJSON is the response of a password reset.
type resetPasswordJSON struct {
	Message             string `json:"message"`
	UserID              int64  `json:"user_id"`
	ForcePasswordChange bool   `json:"force_password_change"`
	Temporary           bool   `json:"temporary"`
}

func (s *adminAPI) handleResetPassword(w http.ResponseWriter, r *http.Request) error {
	svc, p, id, err := s.adminTarget(r)
	if err != nil {
		return err
	}
	var b resetPasswordBody
	if err := s.readJSON(w, r, &b); err != nil {
		return err
	}
	pw := b.NewPassword
	if pw == nil {
		pw = b.TemporaryPassword
	}
	if pw == nil {
		return missingFields("new_password")
	}
	if err := svc.ResetPassword(r.Context(), p, id, *pw, s.meta(r)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, resetPasswordJSON{Message: "Password reset successfully", UserID: id,
		ForcePasswordChange: true, Temporary: true})
	return nil
}

func (s *adminAPI) handleUnlockUser(w http.ResponseWriter, r *http.Request) error {
	svc, p, id, err := s.adminTarget(r)
	if err != nil {
		return err
	}
	if err := svc.Unlock(r.Context(), p, id, s.meta(r)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, messageBody{Message: "User unlocked successfully", UserID: id})
	return nil
}

// ---- sessions --------------------------------------------------------------------------

// adminSessionJSON is one session of a user, without token material.
type adminSessionJSON struct {
	ID               int64  `json:"id"`
	UserID           int64  `json:"user_id"`
	IPAddress        string `json:"ip_address"`
	UserAgent        string `json:"user_agent"`
	CreatedAt        string `json:"created_at"`
	LastActivity     string `json:"last_activity"`
	ExpiresAt        string `json:"expires_at"`
	RefreshExpiresAt string `json:"refresh_expires_at"`
}

func (s *adminAPI) handleUserSessions(w http.ResponseWriter, r *http.Request) error {
	svc, p, id, err := s.adminTarget(r)
	if err != nil {
		return err
	}
	list, err := svc.Sessions(r.Context(), p, id)
	if err != nil {
		return err
	}
	out := make([]adminSessionJSON, 0, len(list))
	for _, se := range list {
		out = append(out, adminSessionJSON{ID: se.ID, UserID: se.UserID, IPAddress: se.IPAddress,
			UserAgent: se.UserAgent, CreatedAt: formatTime(se.CreatedAt), LastActivity: formatTime(se.LastActivity),
			ExpiresAt: formatTime(se.ExpiresAt), RefreshExpiresAt: formatTime(se.RefreshExpiresAt)})
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

func (s *adminAPI) handleRevokeUserSession(w http.ResponseWriter, r *http.Request) error {
	svc, p, id, err := s.adminTarget(r)
	if err != nil {
		return err
	}
	sid, err := pathInt64(r, "sid")
	if err != nil {
		return err
	}
	if err := svc.RevokeSession(r.Context(), p, id, sid, s.meta(r)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, messageBody{Message: "Session revoked successfully", UserID: id})
	return nil
}

// revokeAllJSON is tldw_server's revoke-all response.
type revokeAllJSON struct {
	Message string         `json:"message"`
	Details map[string]int `json:"details"`
}

func (s *adminAPI) handleRevokeUserSessions(w http.ResponseWriter, r *http.Request) error {
	svc, p, id, err := s.adminTarget(r)
	if err != nil {
		return err
	}
	// keepCurrent only matters for the caller's own account: an admin revoking their own
	// sessions here keeps the one making the request.
	n, err := svc.RevokeAllSessions(r.Context(), p, id, true, s.meta(r))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, revokeAllJSON{Message: fmt.Sprintf("Successfully revoked %d sessions", n),
		Details: map[string]int{"sessions_revoked": n}})
	return nil
}

// ---- registration codes ----------------------------------------------------------------

// codeJSON is a registration code as tldw_server renders it.
type codeJSON struct {
	ID                 int64   `json:"id"`
	Code               string  `json:"code"`
	MaxUses            int     `json:"max_uses"`
	TimesUsed          int     `json:"times_used"`
	ExpiresAt          string  `json:"expires_at"`
	CreatedAt          string  `json:"created_at"`
	CreatedBy          int64   `json:"created_by"`
	RoleToGrant        string  `json:"role_to_grant"`
	AllowedEmailDomain *string `json:"allowed_email_domain"`
	IsActive           bool    `json:"is_active"`
	IsValid            bool    `json:"is_valid"`
}

func codeView(c *auth.RegistrationCode, now time.Time) codeJSON {
	v := codeJSON{ID: c.ID, Code: c.Code, MaxUses: c.MaxUses, TimesUsed: c.TimesUsed,
		ExpiresAt: formatTime(c.ExpiresAt), CreatedAt: formatTime(c.CreatedAt), CreatedBy: c.CreatedBy,
		RoleToGrant: string(c.RoleToGrant), IsActive: c.IsActive,
		IsValid: c.IsActive && c.TimesUsed < c.MaxUses && now.Before(c.ExpiresAt)}
	if c.AllowedEmailDomain != "" {
		d := c.AllowedEmailDomain
		v.AllowedEmailDomain = &d
	}
	return v
}

// createCodesBody is POST /admin/registration-codes. Clients also send metadata, org_id,
// org_role and team_id (usually null); they are accepted and ignored.
type createCodesBody struct {
	MaxUses            *int    `json:"max_uses"`
	ExpiryDays         *int    `json:"expiry_days"`
	RoleToGrant        *string `json:"role_to_grant"`
	AllowedEmailDomain *string `json:"allowed_email_domain"`
	Count              *int    `json:"count"`
}

// codeList is the response of the code listing and of a batch creation.
type codeList struct {
	Codes []codeJSON `json:"codes"`
}

func (s *adminAPI) handleCreateCodes(w http.ResponseWriter, r *http.Request) error {
	svc, p, err := s.adminCtx(r)
	if err != nil {
		return err
	}
	var b createCodesBody
	if err := s.readJSON(w, r, &b); err != nil {
		return err
	}
	var problems []FieldError
	var req auth.CodeRequest
	inRange := func(field string, v *int, lo, hi int) int {
		if v == nil {
			return 0
		}
		if *v < lo || *v > hi {
			problems = append(problems, bodyField(field, fmt.Sprintf("ensure this value is from %d to %d", lo, hi), "value_error.number.range"))
		}
		return *v
	}
	req.MaxUses = inRange("max_uses", b.MaxUses, 1, codeMaxUses)
	req.Expiry = time.Duration(inRange("expiry_days", b.ExpiryDays, 1, codeMaxExpiryDays)) * 24 * time.Hour
	req.Count = inRange("count", b.Count, 1, auth.DefaultMaxBatchCodes)
	if b.RoleToGrant != nil {
		role, fe := parseRoleField("role_to_grant", *b.RoleToGrant)
		if fe != nil {
			problems = append(problems, *fe)
		}
		req.RoleToGrant = role
	}
	if b.AllowedEmailDomain != nil {
		req.AllowedEmailDomain = strings.TrimSpace(*b.AllowedEmailDomain)
	}
	if err := invalidFields(problems); err != nil {
		return err
	}
	codes, err := svc.CreateCodes(r.Context(), p, req, s.meta(r))
	if err != nil {
		return err
	}
	now := s.now()
	if b.Count == nil && len(codes) == 1 {
		s.writeJSON(w, r, http.StatusOK, codeView(&codes[0], now))
		return nil
	}
	out := codeList{Codes: make([]codeJSON, 0, len(codes))}
	for i := range codes {
		out.Codes = append(out.Codes, codeView(&codes[i], now))
	}
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

func (s *adminAPI) handleListCodes(w http.ResponseWriter, r *http.Request) error {
	svc, p, err := s.adminCtx(r)
	if err != nil {
		return err
	}
	include := false
	for _, name := range []string{"include_inactive", "include_expired"} {
		if v := r.URL.Query().Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return badParam("%s must be true or false", name)
			}
			include = include || b
		}
	}
	codes, err := svc.ListCodes(r.Context(), p, include)
	if err != nil {
		return err
	}
	now := s.now()
	out := codeList{Codes: make([]codeJSON, 0, len(codes))}
	for i := range codes {
		v := codeView(&codes[i], now)
		if !include && !v.IsValid {
			continue // expired or used up: hidden by default, as in tldw_server
		}
		out.Codes = append(out.Codes, v)
	}
	slices.SortStableFunc(out.Codes, func(a, b codeJSON) int {
		return strings.Compare(b.CreatedAt, a.CreatedAt) // RFC 3339 UTC sorts as text; newest first
	})
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}

func (s *adminAPI) handleRevokeCode(w http.ResponseWriter, r *http.Request) error {
	svc, p, id, err := s.adminTarget(r)
	if err != nil {
		return err
	}
	if err := svc.RevokeCode(r.Context(), p, id, s.meta(r)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, codeRevoked{ID: id, Message: "Registration code revoked successfully"})
	return nil
}

// ---- registration settings and statistics -------------------------------------------------

// codeRevoked is the response of DELETE /admin/registration-codes/{id}.
type codeRevoked struct {
	ID      int64  `json:"id"`
	Message string `json:"message"`
}

// registrationJSON is the registration settings response.
type registrationJSON struct {
	EnableRegistration      bool   `json:"enable_registration"`
	RequireRegistrationCode bool   `json:"require_registration_code"`
	SelfRegistrationAllowed bool   `json:"self_registration_allowed"`
	Mode                    string `json:"mode"` // closed, open or invite_only
	AuthMode                string `json:"auth_mode,omitempty"`
}

func (s *adminAPI) registrationView(rs auth.RegistrationSettings) registrationJSON {
	v := registrationJSON{EnableRegistration: rs.EnableRegistration, RequireRegistrationCode: rs.RequireRegistrationCode,
		SelfRegistrationAllowed: rs.EnableRegistration, Mode: "closed", AuthMode: s.o.AuthMode}
	switch {
	case rs.EnableRegistration && rs.RequireRegistrationCode:
		v.Mode = "invite_only"
	case rs.EnableRegistration:
		v.Mode = "open"
	}
	return v
}

func (s *adminAPI) handleGetRegistration(w http.ResponseWriter, r *http.Request) error {
	svc, _, err := s.adminCtx(r)
	if err != nil {
		return err
	}
	rs, err := svc.Registration(r.Context())
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, s.registrationView(rs))
	return nil
}

// registrationBody is POST /admin/registration-settings; absent fields keep their value.
type registrationBody struct {
	EnableRegistration      *bool `json:"enable_registration"`
	RequireRegistrationCode *bool `json:"require_registration_code"`
}

func (s *adminAPI) handleSetRegistration(w http.ResponseWriter, r *http.Request) error {
	svc, p, err := s.adminCtx(r)
	if err != nil {
		return err
	}
	var b registrationBody
	if err := s.readJSON(w, r, &b); err != nil {
		return err
	}
	rs, err := svc.Registration(r.Context())
	if err != nil {
		return err
	}
	if b.EnableRegistration != nil {
		rs.EnableRegistration = *b.EnableRegistration
	}
	if b.RequireRegistrationCode != nil {
		rs.RequireRegistrationCode = *b.RequireRegistrationCode
	}
	if err := svc.SetRegistration(r.Context(), p, rs, s.meta(r)); err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, s.registrationView(rs))
	return nil
}

// statsJSON is GET /admin/stats: tldw_server's grouping, with the counts we keep.
type statsJSON struct {
	Users struct {
		Total      int `json:"total"`
		Active     int `json:"active"`
		Admins     int `json:"admins"`
		Moderators int `json:"moderators"`
	} `json:"users"`
	Sessions struct {
		Active int `json:"active"`
	} `json:"sessions"`
	RegistrationCodes struct {
		Active int `json:"active"`
	} `json:"registration_codes"`
}

func (s *adminAPI) handleStats(w http.ResponseWriter, r *http.Request) error {
	svc, p, err := s.adminCtx(r)
	if err != nil {
		return err
	}
	st, err := svc.Stats(r.Context(), p)
	if err != nil {
		return err
	}
	var out statsJSON
	out.Users.Total, out.Users.Active, out.Users.Admins, out.Users.Moderators = st.TotalUsers, st.ActiveUsers, st.Admins, st.Moderators
	out.Sessions.Active = st.LiveSessions
	out.RegistrationCodes.Active = st.ActiveCodes
	s.writeJSON(w, r, http.StatusOK, out)
	return nil
}
