package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
)

const (
	quotaMiB           = 1 << 20
	quotaMaxMB         = auth.MaxStorageQuotaMB
	quotaSoftLimitPct  = 80 // tldw_server's defaults for the at_*_limit flags
	quotaHardLimitPct  = 100
	quotaDefaultLimit  = 20
	quotaMaxPageLimit  = 100
	quotaUnavailable   = "No media storage configured"
	quotaNotConfigured = "media storage is not configured"
)

// quotaRoutes are the storage quota routes: the caller's usage and its recalculation, and the
// admin view and setting of any user's quota.
func (s *mediaAPI) quotaRoutes() []route {
	return []route{
		{Method: http.MethodGet, Path: "/api/v1/users/storage", Tag: "users", Perm: auth.PermAccountRead,
			ID: "getStorageUsage", Response: storageJSON{},
			Summary: "Your storage usage and quota",
			Responses: map[int]string{200: "Usage (storage_used_mb, storage_quota_mb, available_mb, usage_percentage)",
				401: "Not authenticated", 403: "Not allowed", 503: quotaUnavailable},
			Handler: s.handleStorageUsage},
		{Method: http.MethodPost, Path: "/api/v1/users/storage/recalculate", Tag: "users", Perm: auth.PermAccountWrite,
			ID: "recalculateStorage", Response: storageRecalculated{},
			Summary: "Recompute your storage usage from your stored items and correct the quota ledger",
			Responses: map[int]string{200: "Usage after the correction, with the drift found",
				401: "Not authenticated", 403: "Not allowed", 503: quotaUnavailable},
			Handler: s.handleStorageRecalculate},
		{Method: http.MethodGet, Path: "/api/v1/admin/storage-quotas/summary", Tag: "admin", Perm: auth.PermQuotasRead,
			ID: "getStorageQuotaSummary", Response: quotaSummaryJSON{},
			Summary: "Storage quotas and usage of every user, paged",
			Query: []param{{Name: "page", Description: "Page number, from 1 (default 1)", Type: "integer", Range: []int64{1, 1 << 30}},
				{Name: "limit", Description: "Users per page, 1-100 (default 20)", Type: "integer", Range: []int64{1, quotaMaxPageLimit}}},
			Responses: map[int]string{200: "Quotas with pagination", 400: "Invalid page parameters",
				401: "Not authenticated", 403: "Not allowed", 503: quotaUnavailable},
			Handler: s.handleQuotaSummary},
		{Method: http.MethodGet, Path: "/api/v1/admin/storage-quotas/users/{id:[0-9]+}", Tag: "admin", Perm: auth.PermQuotasRead,
			ID: "getUserStorageQuota", Response: adminQuotaJSON{},
			Summary: "A user's storage quota and usage",
			Responses: map[int]string{200: "The quota", 401: "Not authenticated", 403: "Not allowed",
				404: "No such user", 503: quotaUnavailable},
			Handler: s.handleQuotaGet},
		{Method: http.MethodPut, Path: "/api/v1/admin/storage-quotas/users/{id:[0-9]+}", Tag: "admin", Perm: auth.PermQuotasWrite,
			ID: "setUserStorageQuota", Request: quotaPutBody{}, Response: adminQuotaJSON{},
			Summary: "Set (quota_mb ≥ 0) or remove (quota_mb null = unlimited) a user's storage quota; audited",
			Body:    "application/json",
			Responses: map[int]string{200: "The new quota", 401: "Not authenticated", 403: "Not allowed",
				404: "No such user", 422: "Invalid quota", 503: quotaUnavailable},
			Handler: s.handleQuotaPut},
	}
}

// quotaService returns Options.Media or a 503.
func (s *mediaAPI) quotaService() (*media.Service, error) {
	if s.o.Media == nil {
		return nil, Errorf(http.StatusServiceUnavailable, "service_unavailable", quotaNotConfigured)
	}
	return s.o.Media, nil
}

// quotaMB converts bytes to MiB rounded to two decimals.
func quotaMB(b int64) float64 { return math.Round(float64(b)/quotaMiB*100) / 100 }

// quotaPct is used/limit in percent, two decimals; 100 for a zero limit.
func quotaPct(used, limit int64) float64 {
	if limit <= 0 {
		return 100
	}
	return math.Round(float64(used)/float64(limit)*10000) / 100
}

// storageJSON is tldw_server's StorageQuotaResponse plus byte counts. The quota fields are
// null for an unlimited user.
type storageJSON struct {
	UserID          int64    `json:"user_id"`
	StorageUsedMB   float64  `json:"storage_used_mb"`
	StorageQuotaMB  *int64   `json:"storage_quota_mb"`
	AvailableMB     *float64 `json:"available_mb"`
	UsagePercentage *float64 `json:"usage_percentage"`
	UsedBytes       int64    `json:"storage_used_bytes"`
	ReservedBytes   int64    `json:"storage_reserved_bytes"`
	QuotaBytes      *int64   `json:"storage_quota_bytes"`
}

func newStorageJSON(userID int64, u quota.Usage) storageJSON {
	j := storageJSON{UserID: userID, StorageUsedMB: quotaMB(u.Used), UsedBytes: u.Used, ReservedBytes: u.Reserved}
	if u.Limit >= 0 {
		limit, mb, avail, p := u.Limit, u.Limit/quotaMiB, quotaMB(max(0, u.Limit-u.Used)), quotaPct(u.Used, u.Limit)
		j.QuotaBytes, j.StorageQuotaMB, j.AvailableMB, j.UsagePercentage = &limit, &mb, &avail, &p
	}
	return j
}

// handleStorageUsage serves GET /api/v1/users/storage.
func (s *mediaAPI) handleStorageUsage(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.quotaService()
	if err != nil {
		return err
	}
	uid := principalFrom(r.Context()).UserID
	u, err := svc.Usage(r.Context(), uid)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, newStorageJSON(uid, u))
	return nil
}

// handleStorageRecalculate serves POST /api/v1/users/storage/recalculate: media.Service's
// Reconcile with fix for the caller.
func (s *mediaAPI) handleStorageRecalculate(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.quotaService()
	if err != nil {
		return err
	}
	uid := principalFrom(r.Context()).UserID
	d, err := svc.Reconcile(r.Context(), uid, true)
	if err != nil {
		return err
	}
	u, err := svc.Usage(r.Context(), uid)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, storageRecalculated{newStorageJSON(uid, u), recalculationJSON{
		PreviousUsedBytes: d.Recorded, ActualBytes: d.Actual, DeltaBytes: d.Delta, Items: d.Items,
		ObjectsChecked: d.Listed, OrphanedObjects: d.Orphans, OrphanedBytes: d.OrphanBytes,
		MissingObjects: d.Missing, Fixed: d.Fixed,
	}})
	return nil
}

// storageRecalculated is the response of POST /users/storage/recalculate: the usage after
// the correction and what was found.
type storageRecalculated struct {
	storageJSON
	Recalculation recalculationJSON `json:"recalculation"`
}

// recalculationJSON is media.Drift as the API shows it (keys in alphabetical order).
type recalculationJSON struct {
	ActualBytes       int64 `json:"actual_bytes"`
	DeltaBytes        int64 `json:"delta_bytes"`
	Fixed             bool  `json:"fixed"`
	Items             int   `json:"items"`
	MissingObjects    int   `json:"missing_objects"`
	ObjectsChecked    bool  `json:"objects_checked"`
	OrphanedBytes     int64 `json:"orphaned_bytes"`
	OrphanedObjects   int   `json:"orphaned_objects"`
	PreviousUsedBytes int64 `json:"previous_used_bytes"`
}

// adminQuotaJSON is a user's quota as tldw_server's admin storage-quota routes show it, plus
// byte counts.
type adminQuotaJSON struct {
	UserID        int64    `json:"user_id"`
	Username      string   `json:"username"`
	QuotaMB       *int64   `json:"quota_mb"`
	UsedMB        float64  `json:"used_mb"`
	RemainingMB   *float64 `json:"remaining_mb"`
	UsagePct      float64  `json:"usage_pct"`
	SoftLimitPct  int      `json:"soft_limit_pct"`
	HardLimitPct  int      `json:"hard_limit_pct"`
	AtSoftLimit   bool     `json:"at_soft_limit"`
	AtHardLimit   bool     `json:"at_hard_limit"`
	HasQuota      bool     `json:"has_quota"`
	UsedBytes     int64    `json:"used_bytes"`
	ReservedBytes int64    `json:"reserved_bytes"`
	QuotaBytes    *int64   `json:"quota_bytes"`
}

func newAdminQuotaJSON(u *auth.User, use quota.Usage, soft, hard int) adminQuotaJSON {
	j := adminQuotaJSON{UserID: u.ID, Username: u.Username, UsedMB: quotaMB(use.Used), SoftLimitPct: soft,
		HardLimitPct: hard, UsedBytes: use.Used, ReservedBytes: use.Reserved}
	if use.Limit >= 0 {
		limit, mb, rem := use.Limit, use.Limit/quotaMiB, quotaMB(max(0, use.Limit-use.Used))
		j.QuotaBytes, j.QuotaMB, j.RemainingMB, j.HasQuota = &limit, &mb, &rem, true
		j.UsagePct = quotaPct(use.Used, use.Limit)
		j.AtSoftLimit = j.UsagePct >= float64(soft)
		j.AtHardLimit = j.UsagePct >= float64(hard)
	}
	return j
}

// handleQuotaGet serves GET /api/v1/admin/storage-quotas/users/{id}.
func (s *mediaAPI) handleQuotaGet(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.quotaService()
	if err != nil {
		return err
	}
	id, err := pathInt64(r, "id")
	if err != nil {
		return err
	}
	u, err := s.o.Auth.User(r.Context(), principalFrom(r.Context()), id)
	if err != nil {
		return err
	}
	use, err := svc.Usage(r.Context(), id)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, newAdminQuotaJSON(u, use, quotaSoftLimitPct, quotaHardLimitPct))
	return nil
}

// quotaPutBody is PUT /admin/storage-quotas/users/{id}. quota_mb is required: a number ≥ 0
// (0 blocks uploads) or null (unlimited). The limit percentages only shape the response
// flags; they are not stored.
type quotaPutBody struct {
	QuotaMB      nullableInt64 `json:"quota_mb" oapi:"required"`
	SoftLimitPct *int          `json:"soft_limit_pct"`
	HardLimitPct *int          `json:"hard_limit_pct"`
	Reason       string        `json:"reason"`
}

// handleQuotaPut serves PUT /api/v1/admin/storage-quotas/users/{id}: the account's
// storage_quota_mb changes through auth.Service (permission-checked and audited as
// quota_changed), then the ledger's limit follows.
func (s *mediaAPI) handleQuotaPut(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.quotaService()
	if err != nil {
		return err
	}
	id, err := pathInt64(r, "id")
	if err != nil {
		return err
	}
	var b quotaPutBody
	if err := s.readJSON(w, r, &b); err != nil {
		return err
	}
	if !b.QuotaMB.Set {
		return missingFields("quota_mb")
	}
	var problems []FieldError
	if q := b.QuotaMB.V; q != nil && (*q < 0 || *q > quotaMaxMB) {
		problems = append(problems, bodyField("quota_mb", fmt.Sprintf("ensure this value is between 0 and %d", quotaMaxMB), "value_error.number"))
	}
	soft, hard := quotaSoftLimitPct, quotaHardLimitPct
	for _, p := range []struct {
		name string
		v    *int
		dst  *int
	}{{"soft_limit_pct", b.SoftLimitPct, &soft}, {"hard_limit_pct", b.HardLimitPct, &hard}} {
		if p.v == nil {
			continue
		}
		if *p.v < 1 || *p.v > 100 {
			problems = append(problems, bodyField(p.name, "ensure this value is between 1 and 100", "value_error.number"))
			continue
		}
		*p.dst = *p.v
	}
	if err := invalidFields(problems); err != nil {
		return err
	}
	p := principalFrom(r.Context())
	q := b.QuotaMB.V
	u, err := s.o.Auth.UpdateUser(r.Context(), p, id, auth.UserUpdate{StorageQuotaMB: &q,
		Reason: strings.TrimSpace(b.Reason)}, s.meta(r))
	if err != nil {
		return err
	}
	limit := int64(-1)
	if q != nil {
		limit = *q * quotaMiB
	}
	if err := svc.SetLimit(r.Context(), id, limit); err != nil {
		return err
	}
	use, err := svc.Usage(r.Context(), id)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, newAdminQuotaJSON(u, use, soft, hard))
	return nil
}

// handleQuotaSummary serves GET /api/v1/admin/storage-quotas/summary: one page of users with
// their quotas, and totals over that page.
func (s *mediaAPI) handleQuotaSummary(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.quotaService()
	if err != nil {
		return err
	}
	page, limit := 1, quotaDefaultLimit
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		dst  *int
		max  int
	}{{"page", &page, 1 << 30}, {"limit", &limit, quotaMaxPageLimit}} {
		v := strings.TrimSpace(q.Get(p.name))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > p.max {
			return Errorf(http.StatusBadRequest, "invalid_parameter", "%s must be an integer from 1 to %d", p.name, p.max)
		}
		*p.dst = n
	}
	users, total, err := s.o.Auth.ListUsers(r.Context(), principalFrom(r.Context()),
		auth.UserFilter{Limit: limit, Offset: (page - 1) * limit})
	if err != nil {
		return err
	}
	items := make([]adminQuotaJSON, 0, len(users))
	var usedMB, quotaMB float64
	withQuota, atSoft, atHard := 0, 0, 0
	for i := range users {
		use, err := svc.Usage(r.Context(), users[i].ID)
		if err != nil {
			return err
		}
		j := newAdminQuotaJSON(&users[i], use, quotaSoftLimitPct, quotaHardLimitPct)
		usedMB += j.UsedMB
		if j.HasQuota {
			withQuota++
			quotaMB += float64(*j.QuotaMB)
		}
		if j.AtSoftLimit {
			atSoft++
		}
		if j.AtHardLimit {
			atHard++
		}
		items = append(items, j)
	}
	s.writeJSON(w, r, http.StatusOK, quotaSummaryJSON{
		TotalQuotas: total, Items: items,
		Totals: quotaTotalsJSON{UsedMB: math.Round(usedMB*100) / 100, QuotaMB: quotaMB,
			UsersWithQuota: withQuota, UsersAtSoftLimit: atSoft, UsersAtHardLimit: atHard},
		Pagination: pageJSON{Page: page, Limit: limit, Total: total, Pages: (total + limit - 1) / limit},
	})
	return nil
}

// quotaSummaryJSON is the response of GET /admin/storage-quotas/summary (keys in
// alphabetical order, as clients have seen them).
type quotaSummaryJSON struct {
	Items       []adminQuotaJSON `json:"items"`
	Pagination  pageJSON         `json:"pagination"`
	TotalQuotas int              `json:"total_quotas"`
	Totals      quotaTotalsJSON  `json:"totals"`
}

// quotaTotalsJSON sums one summary page.
type quotaTotalsJSON struct {
	QuotaMB          float64 `json:"quota_mb"`
	UsedMB           float64 `json:"used_mb"`
	UsersAtHardLimit int     `json:"users_at_hard_limit"`
	UsersAtSoftLimit int     `json:"users_at_soft_limit"`
	UsersWithQuota   int     `json:"users_with_quota"`
}

// pageJSON is the pagination of a page-and-limit list.
type pageJSON struct {
	Limit int `json:"limit"`
	Page  int `json:"page"`
	Pages int `json:"pages"`
	Total int `json:"total"`
}
