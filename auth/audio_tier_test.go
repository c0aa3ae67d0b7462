package auth_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tldw-go/tldw/audit"
	"github.com/tldw-go/tldw/auth"
)

func TestAudioTierAttribute(t *testing.T) {
	e := newEnv(t, func(o *auth.Options) { o.AudioTiers = []string{"standard", "free", "gold", "free"} })
	if got := e.svc.AudioTiers(); !slices.Equal(got, []string{"free", "gold", "standard"}) {
		t.Errorf("AudioTiers = %v, want the configured names sorted once each", got)
	}
	e.user("root", auth.RoleAdmin)
	rp := e.principal(e.login("root").AccessToken)
	alice := e.user("alice", auth.RoleUser)
	if alice.AudioTier != "" {
		t.Errorf("a new user's tier = %q, want \"\" (the default)", alice.AudioTier)
	}
	if tier, err := e.svc.AudioTier(ctx, alice.ID); err != nil || tier != "" {
		t.Errorf("AudioTier(new user) = %q, %v; want \"\"", tier, err)
	}

	gold := "gold"
	got, err := e.svc.UpdateUser(ctx, rp, alice.ID, auth.UserUpdate{AudioTier: &gold, Reason: "paid"}, meta)
	if err != nil || got.AudioTier != "gold" || got.PasswordHash != "" {
		t.Fatalf("setting the tier = %+v, %v", got, err)
	}
	ev := e.lastEvent(audit.QuotaChanged)
	if ev.TargetID != idStr(alice.ID) || ev.Details["old_audio_tier"] != "" || ev.Details["new_audio_tier"] != "gold" ||
		ev.Details["reason"] != "paid" {
		t.Errorf("quota_changed = %+v", ev)
	}
	if tier, err := e.svc.AudioTier(ctx, alice.ID); err != nil || tier != "gold" {
		t.Errorf("AudioTier = %q, %v; want gold", tier, err)
	}
	if u, err := e.svc.User(ctx, rp, alice.ID); err != nil || u.AudioTier != "gold" {
		t.Errorf("User = %+v, %v", u, err)
	}

	// The same tier again changes nothing and audits nothing.
	n := len(e.sink.Find(audit.QuotaChanged))
	if _, err := e.svc.UpdateUser(ctx, rp, alice.ID, auth.UserUpdate{AudioTier: &gold}, meta); err != nil {
		t.Fatal(err)
	}
	if len(e.sink.Find(audit.QuotaChanged)) != n {
		t.Error("an unchanged tier was audited")
	}

	// Unknown names are refused with the valid ones; nothing changes.
	for _, bad := range []string{"premium", "Gold", " gold", strings.Repeat("x", 1000)} {
		_, err := e.svc.UpdateUser(ctx, rp, alice.ID, auth.UserUpdate{AudioTier: &bad}, meta)
		wantErr(t, err, auth.ErrInvalid)
		if err != nil && !strings.Contains(err.Error(), "free, gold, standard") {
			t.Errorf("error %q does not list the valid tiers", err)
		}
	}
	if tier, _ := e.svc.AudioTier(ctx, alice.ID); tier != "gold" {
		t.Errorf("after refused updates the tier is %q", tier)
	}

	// "" is the default tier again.
	none := ""
	if got, err := e.svc.UpdateUser(ctx, rp, alice.ID, auth.UserUpdate{AudioTier: &none}, meta); err != nil || got.AudioTier != "" {
		t.Errorf("clearing the tier = %+v, %v", got, err)
	}
	if ev := e.lastEvent(audit.QuotaChanged); ev.Details["old_audio_tier"] != "gold" || ev.Details["new_audio_tier"] != "" {
		t.Errorf("quota_changed = %v", ev.Details)
	}

	// Created with a tier (quotas.write), or refused for an unknown one.
	bob, err := e.svc.CreateUser(ctx, rp, auth.NewUser{Username: "bob", Email: "bob@example.com", Password: pwAlice, AudioTier: "standard"}, meta)
	if err != nil || bob.AudioTier != "standard" {
		t.Fatalf("CreateUser with a tier = %+v, %v", bob, err)
	}
	_, err = e.svc.CreateUser(ctx, rp, auth.NewUser{Username: "carl", Email: "carl@example.com", Password: pwAlice, AudioTier: "platinum"}, meta)
	wantErr(t, err, auth.ErrInvalid)

	// Moderators may not set tiers (quotas.write is the admin's); users not at all.
	e.user("mod", auth.RoleModerator)
	mp := e.principal(e.login("mod").AccessToken)
	_, err = e.svc.UpdateUser(ctx, mp, alice.ID, auth.UserUpdate{AudioTier: &gold}, meta)
	wantErr(t, err, auth.ErrForbidden)
	ap := e.principal(e.login("alice").AccessToken)
	_, err = e.svc.UpdateUser(ctx, ap, alice.ID, auth.UserUpdate{AudioTier: &gold}, meta)
	wantErr(t, err, auth.ErrForbidden)

	// A user that is not stored (single-user mode's may not be) has the default tier.
	if tier, err := e.svc.AudioTier(ctx, 9999); err != nil || tier != "" {
		t.Errorf("AudioTier(unknown user) = %q, %v; want \"\", nil", tier, err)
	}
}

func TestAudioTierDefaults(t *testing.T) {
	e := newEnv(t, nil)
	if got := e.svc.AudioTiers(); !slices.Equal(got, auth.DefaultAudioTiers()) {
		t.Errorf("AudioTiers without Options.AudioTiers = %v, want %v", got, auth.DefaultAudioTiers())
	}
	for _, name := range []string{"", "free", "standard", "premium"} {
		if err := e.svc.CheckAudioTier(name); err != nil {
			t.Errorf("CheckAudioTier(%q) = %v", name, err)
		}
	}
	wantErr(t, e.svc.CheckAudioTier("gold"), auth.ErrInvalid)

	_, err := auth.NewService(func() auth.Options { o := e.opts; o.AudioTiers = []string{"free", ""}; return o }())
	wantErr(t, err, auth.ErrInvalid)
}

// TestAudioTierStoreError: a broken store is an error, not the default tier.
func TestAudioTierStoreError(t *testing.T) {
	broken := errors.New("disk on fire")
	e := newEnv(t, func(o *auth.Options) { o.Users = failingUsers{o.Users, broken} })
	if _, err := e.svc.AudioTier(ctx, 1); !errors.Is(err, broken) {
		t.Errorf("AudioTier with a broken store = %v, want it wrapped", err)
	}
}

type failingUsers struct {
	auth.UserStore
	err error
}

func (f failingUsers) UserByID(context.Context, int64) (*auth.User, error) { return nil, f.err }
