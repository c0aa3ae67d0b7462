package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tldw-go/tldw/auth"
)

// TestAPIKeyCapAndMinting: a user holds at most MaxAPIKeysPerUser live keys (409
// api_key_limit; revoking one frees a slot), and a request authenticated by a read/write
// API key cannot create keys (403 api_key_cannot_mint) while an admin-scoped key can.
func TestAPIKeyCapAndMinting(t *testing.T) {
	ts := newTestServer(t)
	create := func(kind string, h map[string]string) *httptest.ResponseRecorder {
		return ts.call(t, kind, http.MethodPost, "/api/v1/users/api-keys", `{"name":"k"}`, h)
	}
	var first int64
	for i := range auth.DefaultMaxAPIKeysPerUser {
		rec := create(callerUser, nil)
		if rec.Code/100 != 2 {
			t.Fatalf("key %d: %d %s", i+1, rec.Code, rec.Body)
		}
		if i == 0 {
			first = int64(decodeJSON(t, rec)["id"].(float64))
		}
	}
	rec := create(callerUser, nil)
	if body := decodeJSON(t, rec); rec.Code != http.StatusConflict || body["code"] != "api_key_limit" {
		t.Fatalf("key %d: %d %s, want 409 api_key_limit", auth.DefaultMaxAPIKeysPerUser+1, rec.Code, rec.Body)
	}
	if rec := ts.call(t, callerUser, http.MethodDelete, fmt.Sprintf("/api/v1/users/api-keys/%d", first), "", nil); rec.Code/100 != 2 {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if rec := create(callerUser, nil); rec.Code/100 != 2 {
		t.Fatalf("after revoking one: %d %s", rec.Code, rec.Body)
	}

	// The service account authenticates with a read/write key.
	rec = create(callerService, nil)
	if body := decodeJSON(t, rec); rec.Code != http.StatusForbidden || body["code"] != "api_key_cannot_mint" {
		t.Fatalf("read/write key minting: %d %s, want 403 api_key_cannot_mint", rec.Code, rec.Body)
	}
	_, adminKey := ts.createKey(t, ts.Accounts[callerAdmin], auth.ScopeAdmin)
	if rec := create(callerAnonymous, map[string]string{"X-API-KEY": adminKey}); rec.Code/100 != 2 {
		t.Fatalf("admin-scoped key minting: %d %s", rec.Code, rec.Body)
	}
}
