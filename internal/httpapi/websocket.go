package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/tldw-go/tldw/auth"
)

// WebSocket routes (route.Stream = streamWebSocket) authenticate through the gate like any
// route, with two more ways to present a credential, both taken only when no header (nor
// cookie) carries one:
//
//   - ?token=<access token or API key> on the upgrade URL, for browsers, which cannot set
//     headers on a WebSocket. Only the path is ever logged, never the query.
//   - a first message {"type":"auth","token":"..."} within wsAuthWait of the upgrade.
//
// A rejected header or ?token= credential is a 401 before the upgrade; a missing, malformed,
// late or rejected first message closes the connection with 1008 policy violation.

// wsAuthWait is how long a WebSocket upgraded without a credential may take to send its
// auth message.
const wsAuthWait = 10 * time.Second

// Close reasons sent with 1008 policy violation and 1001 going away.
const (
	wsReasonAuthRequired = "authentication required"
	wsReasonBadAuth      = "could not validate credentials"
	wsReasonShutdown     = "server shutting down"
)

// errUpgradeRequired answers a plain request to a WebSocket route.
var errUpgradeRequired = &Error{Status: http.StatusUpgradeRequired, Code: "upgrade_required",
	Detail: "This route needs a WebSocket upgrade", Header: http.Header{"Upgrade": {"websocket"}}}

// errCrossOrigin refuses a WebSocket upgrade from another origin: a cookie-authenticated
// page elsewhere must not open one (cross-site WebSocket hijacking).
var errCrossOrigin = &Error{Status: http.StatusForbidden, Code: "origin_not_allowed",
	Detail: "Cross-origin WebSocket upgrades are not allowed"}

// queryToken returns the ?token= value ("" when absent); a repeated or oversized one is
// errBadCredentials.
func queryToken(r *http.Request) (string, error) {
	vs := r.URL.Query()["token"]
	switch {
	case len(vs) == 0:
		return "", nil
	case len(vs) > 1 || len(vs[0]) > maxCredentialBytes:
		return "", errBadCredentials
	}
	return strings.TrimSpace(vs[0]), nil
}

// lateAuthFunc authenticates the token of a WebSocket's first message with the checks of
// the route's gate; its errors are the gate's (*Error for a rejected credential).
type lateAuthFunc func(ctx context.Context, token string) (*auth.Principal, error)

type lateAuthKey struct{}

func withLateAuth(ctx context.Context, f lateAuthFunc) context.Context {
	return context.WithValue(ctx, lateAuthKey{}, f)
}

// lateAuth returns the gate's checks for rt, for a token that comes after the upgrade.
func (s *core) lateAuth(r *http.Request, rt route, label string) lateAuthFunc {
	return func(ctx context.Context, token string) (*auth.Principal, error) {
		if len(token) > maxCredentialBytes {
			return nil, errBadCredentials
		}
		r := r.WithContext(ctx)
		c := credentials{bearer: token}
		p, err := s.principal(r, c)
		if err != nil {
			return nil, err
		}
		return p, s.admit(r, rt, label, p, c)
	}
}

// wsAuthMessage is the first message of a WebSocket upgraded without a credential.
type wsAuthMessage struct {
	Type  string `json:"type"`
	Token string `json:"token"`
}

// acceptWebSocket upgrades the request of a WebSocket route and returns the connection with
// a context carrying the principal (principalFrom). When the upgrade carried no credential
// it first reads the auth message (see above). A request that is not an upgrade is a 426,
// one from another origin a 403: errors for the handler to return. After the upgrade the
// connection is closed with 1001 going away when shutdown starts; the caller reads and writes
// with the returned context and closes the connection when done. A nil connection with a
// nil error means the attempt was answered and closed already (a failed handshake or auth
// message, logged): the caller returns nil.
//
//	conn, ctx, err := s.acceptWebSocket(w, r)
//	if conn == nil {
//		return err
//	}
//	defer conn.CloseNow()
func (s *core) acceptWebSocket(w http.ResponseWriter, r *http.Request) (*websocket.Conn, context.Context, error) {
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		return nil, nil, errUpgradeRequired
	}
	if o := r.Header.Get("Origin"); o != "" {
		if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, r.Host) {
			return nil, nil, errCrossOrigin
		}
	}
	conn, err := websocket.Accept(w, r, nil) // checks the origin again
	if err != nil {
		s.logger(r).DebugContext(r.Context(), "websocket handshake failed", "error", err)
		return nil, nil, nil
	}
	ctx := r.Context()
	stop := context.AfterFunc(s.streams, func() { _ = conn.Close(websocket.StatusGoingAway, wsReasonShutdown) })
	context.AfterFunc(ctx, func() { stop() })
	if principalFrom(ctx) != nil {
		return conn, ctx, nil
	}
	authFn, _ := ctx.Value(lateAuthKey{}).(lateAuthFunc)
	p, err := s.readAuthMessage(ctx, conn, authFn)
	switch {
	case errors.Is(err, errWSRejected):
		s.logger(r).DebugContext(ctx, "websocket authentication failed", "error", err)
		return nil, nil, nil
	case err != nil:
		s.logger(r).ErrorContext(ctx, "websocket authentication failed", "error", err)
		return nil, nil, nil
	}
	return conn, withPrincipal(ctx, p), nil
}

// errWSRejected marks a WebSocket closed with 1008 for its auth message.
var errWSRejected = errors.New("websocket auth message rejected")

// readAuthMessage reads and checks the first message. On failure it has closed conn: with
// 1008 for the client's fault (the error is errWSRejected), 1011 for a backend failure.
func (s *core) readAuthMessage(ctx context.Context, conn *websocket.Conn, authFn lateAuthFunc) (*auth.Principal, error) {
	reject := func(reason string, cause error) (*auth.Principal, error) {
		_ = conn.Close(websocket.StatusPolicyViolation, reason)
		return nil, fmt.Errorf("%w: %w", errWSRejected, cause)
	}
	if authFn == nil { // register refuses Public WebSocket routes; this is only a guard
		return reject(wsReasonAuthRequired, errors.New("no gate"))
	}
	conn.SetReadLimit(maxCredentialBytes + 1024)
	timer := time.AfterFunc(s.authWait, func() { _ = conn.Close(websocket.StatusPolicyViolation, wsReasonAuthRequired) })
	typ, data, err := conn.Read(ctx)
	if !timer.Stop() {
		return nil, fmt.Errorf("%w: no auth message in time", errWSRejected)
	}
	if err != nil {
		return reject(wsReasonAuthRequired, err)
	}
	var m wsAuthMessage
	if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil || m.Type != "auth" || m.Token == "" {
		return reject(wsReasonAuthRequired, errors.New("first message is not an auth message"))
	}
	p, err := authFn(ctx, strings.TrimSpace(m.Token))
	var e *Error
	switch {
	case errors.As(err, &e) && e.Status < 500:
		return reject(wsReasonBadAuth, err)
	case err != nil:
		_ = conn.Close(websocket.StatusInternalError, "internal error")
		return nil, err
	}
	return p, nil
}

// headerHasToken reports whether a comma-separated header lists token (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
