package httpapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// routes are the unauthenticated probes. Bodies follow tldw_server (api-facts §6).
func (s *healthAPI) routes() []route {
	return []route{
		{Method: http.MethodGet, Path: "/api/v1/health", ID: "healthCheck", Response: healthBody{}, ByStatus: map[int]any{503: healthBody{}},
			Tag: "health", Public: true, AnyHost: true,
			Summary:   "Overall health: status and per-check results",
			Responses: map[int]string{200: "Healthy", 206: "Degraded", 503: "Unhealthy"},
			Handler:   s.health},
		{Method: http.MethodGet, Path: "/api/v1/health/live", ID: "livenessCheck", Response: statusBody{},
			Tag: "health", Public: true, AnyHost: true,
			Summary:   "Liveness probe",
			Responses: map[int]string{200: "The process is alive"},
			Handler:   s.live},
		{Method: http.MethodGet, Path: "/api/v1/health/ready", ID: "readinessCheck", Response: statusBody{}, ByStatus: map[int]any{503: statusBody{}},
			Tag: "health", Public: true, AnyHost: true,
			Summary:   "Readiness probe: database reachable and migrations current",
			Responses: map[int]string{200: "Ready", 503: "Not ready (draining, database unreachable or migrations pending)"},
			Handler:   s.ready},
		{Method: http.MethodGet, Path: "/health", ID: "rootHealth", Response: statusBody{},
			Tag: "health", Public: true, AnyHost: true,
			Summary:   "Cheap liveness alias",
			Responses: map[int]string{200: "Healthy"},
			Handler:   s.rootHealth},
		{Method: http.MethodHead, Path: "/health", ID: "rootHealthHead",
			Tag: "health", Public: true, AnyHost: true,
			Summary:   "Cheap liveness alias",
			Responses: map[int]string{200: "Healthy"},
			Handler:   s.rootHealth},
		{Method: http.MethodGet, Path: "/ready", ID: "rootReady", Response: statusBody{}, ByStatus: map[int]any{503: statusBody{}},
			Tag: "health", Public: true, AnyHost: true,
			Summary:   "Cheap readiness alias: 503 while draining",
			Responses: map[int]string{200: "Ready", 503: "Shutting down"},
			Handler:   s.rootReady},
		{Method: http.MethodHead, Path: "/ready", ID: "rootReadyHead",
			Tag: "health", Public: true, AnyHost: true,
			Summary:   "Cheap readiness alias: 503 while draining",
			Responses: map[int]string{200: "Ready", 503: "Shutting down"},
			Handler:   s.rootReady},
	}
}

// healthBody is the /api/v1/health body. Checks map a check name to "ok", "degraded",
// "error" or (informational checks) "warning"; error text goes to the log only.
type healthBody struct {
	Status    string            `json:"status"`
	Timestamp string            `json:"timestamp"`
	AuthMode  string            `json:"auth_mode,omitempty"`
	Checks    map[string]string `json:"checks"`
}

// statusBody is the body of /live, /ready and the root aliases.
type statusBody struct {
	Status    string `json:"status"`
	Error     string `json:"error,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Timestamp string `json:"timestamp,omitempty"`
}

func (s *healthAPI) timestamp() string { return formatTime(s.now()) }

// healthTTL is how long one run of the checks answers /api/v1/health: anonymous callers
// cannot make the server probe its backends more often than that.
const healthTTL = 2 * time.Second

// healthState caches the last run of the checks and remembers each check's state, so a
// failing check is logged when its state changes, not on every request. Safe for concurrent
// use.
type healthState struct {
	flight singleflight.Group
	mu     sync.Mutex
	at     time.Time // when errs were computed; zero before the first run
	errs   []error
	states map[string]string // check name → last state ("ok", "degraded", "error")
}

// checkResults returns the checks' errors, from the cache while it is fresh; concurrent
// callers after it expires share one run.
func (s *healthAPI) checkResults(ctx context.Context) []error {
	h := &s.healthState
	now := s.now()
	h.mu.Lock()
	if !h.at.IsZero() && now.Sub(h.at) < healthTTL && !now.Before(h.at) {
		errs := h.errs
		h.mu.Unlock()
		return errs
	}
	h.mu.Unlock()
	v, _, _ := h.flight.Do("health", func() (any, error) {
		errs := s.runChecks(context.WithoutCancel(ctx))
		h.mu.Lock()
		h.at, h.errs = now, errs
		h.mu.Unlock()
		return errs, nil
	})
	return v.([]error)
}

// runChecks runs every check concurrently and logs the checks whose state changed.
func (s *healthAPI) runChecks(ctx context.Context) []error {
	errs := make([]error, len(s.o.Checks))
	var wg sync.WaitGroup
	for i, c := range s.o.Checks {
		wg.Go(func() { errs[i] = s.runCheck(ctx, c.Run) })
	}
	wg.Wait()
	h := &s.healthState
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.states == nil {
		h.states = map[string]string{}
	}
	for i, c := range s.o.Checks {
		state, prev := checkState(errs[i]), cmp.Or(h.states[c.Name], "ok")
		h.states[c.Name] = state
		switch {
		case state == prev:
		case state == "ok":
			s.log.LogAttrs(ctx, slog.LevelInfo, "health check recovered", slog.String("check", c.Name))
		default:
			s.log.LogAttrs(ctx, slog.LevelWarn, "health check failed", slog.String("check", c.Name),
				slog.String("state", state), slog.Bool("critical", c.Critical), slog.String("error", errs[i].Error()))
		}
	}
	return errs
}

// checkState names the outcome of a check.
func checkState(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrDegraded):
		return "degraded"
	}
	return "error"
}

// health answers 200 healthy, 206 degraded or 503 unhealthy from the checks' results.
func (s *healthAPI) health(w http.ResponseWriter, r *http.Request) error {
	errs := s.checkResults(r.Context())
	body := healthBody{Status: "healthy", Timestamp: s.timestamp(), AuthMode: s.o.AuthMode,
		Checks: map[string]string{}}
	code := http.StatusOK
	for i, c := range s.o.Checks {
		state := checkState(errs[i])
		if c.Info && state != "ok" {
			state = "warning"
		}
		body.Checks[c.Name] = state
		switch {
		case state == "ok" || state == "warning":
		case c.Critical && state == "error":
			body.Status, code = "unhealthy", http.StatusServiceUnavailable
		case code == http.StatusOK:
			body.Status, code = "degraded", http.StatusPartialContent
		}
	}
	s.writeJSON(w, r, code, body)
	return nil
}

// runCheck runs fn with the per-check timeout. A check that ignores its context is
// abandoned at the deadline; a panicking check counts as failed.
func (s *healthAPI) runCheck(ctx context.Context, fn func(context.Context) error) error {
	if fn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.checkTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("check panicked: %v", v)
			}
		}()
		done <- fn(ctx)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *healthAPI) live(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, statusBody{Status: "alive", Timestamp: s.timestamp()})
	return nil
}

// ready answers 503 "shutdown_in_progress" while draining, 503 when Options.Ready fails
// ("migrations pending" or "database unreachable"), 200 otherwise.
func (s *healthAPI) ready(w http.ResponseWriter, r *http.Request) error {
	if s.draining() {
		s.writeJSON(w, r, http.StatusServiceUnavailable,
			statusBody{Status: "not ready", Error: "shutdown_in_progress", Timestamp: s.timestamp()})
		return nil
	}
	if err := s.runCheck(r.Context(), s.o.Ready); err != nil {
		s.logger(r).LogAttrs(r.Context(), slog.LevelWarn, "not ready", slog.String("error", err.Error()))
		msg := "database unreachable"
		if errors.Is(err, ErrMigrationsPending) {
			msg = "migrations pending"
		}
		s.writeJSON(w, r, http.StatusServiceUnavailable,
			statusBody{Status: "not ready", Error: msg, Timestamp: s.timestamp()})
		return nil
	}
	s.writeJSON(w, r, http.StatusOK, statusBody{Status: "ready", Timestamp: s.timestamp()})
	return nil
}

func (s *healthAPI) rootHealth(w http.ResponseWriter, r *http.Request) error {
	s.writeJSON(w, r, http.StatusOK, statusBody{Status: "healthy"})
	return nil
}

func (s *healthAPI) rootReady(w http.ResponseWriter, r *http.Request) error {
	if s.draining() {
		s.writeJSON(w, r, http.StatusServiceUnavailable,
			statusBody{Status: "not_ready", Reason: "shutdown_in_progress"})
		return nil
	}
	s.writeJSON(w, r, http.StatusOK, statusBody{Status: "ready"})
	return nil
}

func (s *healthAPI) draining() bool { return s.o.Draining != nil && s.o.Draining() }
