package httpapi

import (
	"testing"

	"github.com/tldw-go/tldw/audit"
)

// TestAdminAudioTier: admins set a user's audio tier through PUT /admin/users/{id} (and at
// creation), only to a configured tier; it shows in the admin JSON and /users/me.
func TestAdminAudioTier(t *testing.T) {
	ts := newTestServer(t, func(c *testServerConfig) { c.Auth.AudioTiers = []string{"free", "gold", "standard"} })
	ts.run(t, []adminScenario{
		{name: "default tier is null", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users/{user}", status: 200,
			contains: []string{`"audio_tier":null`}},
		{name: "me default", caller: callerUser, method: "GET", path: "/api/v1/users/me", status: 200,
			contains: []string{`"audio_tier":null`}},
		{name: "set tier", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":"gold","reason":"paid plan"}`, status: 200, contains: []string{`"audio_tier":"gold"`}},
		{name: "shown in the list", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users?search=alice", status: 200,
			contains: []string{`"audio_tier":"gold"`}},
		{name: "me shows it", caller: callerUser, method: "GET", path: "/api/v1/users/me", status: 200,
			contains: []string{`"audio_tier":"gold"`}},
		{name: "auth/me shows it", caller: callerUser, method: "GET", path: "/api/v1/auth/me", status: 200,
			contains: []string{`"audio_tier":"gold"`}},
		{name: "unknown tier", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":"premium"}`, status: 400,
			contains: []string{`"code":"invalid_audio_tier"`, "free, gold, standard"}},
		{name: "unknown tier with other fields changes nothing", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":"Gold","is_verified":false}`, status: 400, contains: []string{`"code":"invalid_audio_tier"`}},
		{name: "refused updates wrote nothing", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users/{user}", status: 200,
			contains: []string{`"audio_tier":"gold"`, `"is_verified":true`}},
		{name: "tier not a string", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":5}`, status: 422, contains: []string{`"loc":["body","audio_tier"]`}},
		{name: "moderator may not", caller: callerModerator, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":"free"}`, status: 403},
		{name: "moderator may not probe names", caller: callerModerator, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":"nonsense"}`, status: 403, absent: []string{"gold"}},
		{name: "user may not", caller: callerUser, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":"gold"}`, status: 403},
		{name: "back to the default", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":""}`, status: 200, contains: []string{`"audio_tier":null`}},
		{name: "set again", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":"standard"}`, status: 200, contains: []string{`"audio_tier":"standard"`}},
		{name: "null is the default too", caller: callerAdmin, method: "PUT", path: "/api/v1/admin/users/{user}",
			body: `{"audio_tier":null}`, status: 200, contains: []string{`"audio_tier":null`}},
		{name: "create with a tier", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body:   `{"username":"gina","email":"gina@example.com","password":"Brave-Otter-9471!","audio_tier":"standard"}`,
			status: 201, contains: []string{`"username":"gina"`, `"audio_tier":"standard"`}},
		{name: "create with an unknown tier", caller: callerAdmin, method: "POST", path: "/api/v1/admin/users",
			body:   `{"username":"hank","email":"hank@example.com","password":"Brave-Otter-9471!","audio_tier":"platinum"}`,
			status: 400, contains: []string{`"code":"invalid_audio_tier"`}},
		{name: "the refused creation created nobody", caller: callerAdmin, method: "GET", path: "/api/v1/admin/users?search=hank", status: 200,
			contains: []string{`"total":0`}},
	})

	var changes []audit.Event
	for _, e := range ts.Audit.Find(audit.QuotaChanged) {
		if _, ok := e.Details["new_audio_tier"]; ok {
			changes = append(changes, e)
		}
	}
	if len(changes) != 4 {
		t.Fatalf("audio tier quota_changed events = %+v, want 4", changes)
	}
	if e := changes[0]; e.TargetID != ts.id(callerUser) || e.Details["old_audio_tier"] != "" ||
		e.Details["new_audio_tier"] != "gold" || e.Details["reason"] != "paid plan" || e.Username != "root" {
		t.Errorf("first change = %+v", e)
	}
	if e := changes[1]; e.Details["old_audio_tier"] != "gold" || e.Details["new_audio_tier"] != "" {
		t.Errorf("second change = %+v", e)
	}
}
