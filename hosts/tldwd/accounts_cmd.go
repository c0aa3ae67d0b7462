package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/auth"
)

// userCmd runs `tldwd user create|list|set-role|set-audio-tier|set-password|deactivate|activate|unlock`
// against the configured database, without a running server.
func userCmd(ctx context.Context, h host, o options, args []string) int {
	usage := func() int {
		fmt.Fprintln(h.stderr, `usage:
  tldwd user create --username U --email E [--password P] [--role user|moderator|admin|service] [--audio-tier T]
  tldwd user list [--role R] [--search S]
  tldwd user set-role USERNAME ROLE
  tldwd user set-audio-tier USERNAME [TIER]   (no TIER: back to DEFAULT_AUDIO_TIER)
  tldwd user set-password USERNAME [--password P]
  tldwd user deactivate|activate|unlock USERNAME`)
		return 2
	}
	if len(args) == 0 {
		return usage()
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(h.stderr)
	username := fs.String("username", "", "user name")
	email := fs.String("email", "", "email address")
	password := fs.String("password", "", "password (empty: generate one and print it once)")
	role := fs.String("role", "", "role")
	search := fs.String("search", "", "substring of username or email")
	audioTier := fs.String("audio-tier", "", "audio tier (AUDIO_TIER_LIMITS_JSON's names; empty: DEFAULT_AUDIO_TIER)")
	pos, err := parseAfterPositional(fs, args)
	if err != nil {
		return 2
	}
	app, code := openApp(ctx, h, o)
	if app == nil {
		return code
	}
	defer app.Close()
	svc, sys := app.Accounts(), auth.SystemPrincipal()
	m := auth.Meta{UserAgent: "tldwd-cli"}
	switch sub {
	case "create":
		if *username == "" || *email == "" {
			return usage()
		}
		r := auth.RoleUser
		if *role != "" {
			var err error
			if r, err = auth.ParseRole(*role); err != nil {
				return fail(h, err)
			}
		}
		pw, generated := *password, false
		if pw == "" {
			var err error
			if pw, err = generatePassword(); err != nil {
				return fail(h, err)
			}
			generated = true
		}
		u, err := svc.CreateUser(ctx, sys, auth.NewUser{Username: *username, Email: *email, Password: pw, Role: r, IsVerified: true,
			MustChangePassword: generated, AudioTier: *audioTier}, m)
		if err != nil {
			return fail(h, err)
		}
		fmt.Fprintf(h.stdout, "created user %d %s (%s)\n", u.ID, u.Username, u.Role)
		if generated {
			fmt.Fprintf(h.stdout, "password: %s\n(shown once; the user must change it at first login)\n", pw)
		}
		return 0
	case "list":
		f := auth.UserFilter{Role: auth.Role(*role), Search: *search, Limit: 100}
		tw := tabwriter.NewWriter(h.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tROLE\tACTIVE\tLAST LOGIN\tAUDIO TIER")
		for {
			users, total, err := svc.ListUsers(ctx, sys, f)
			if err != nil {
				return fail(h, err)
			}
			for _, u := range users {
				last := "-"
				if u.LastLogin != nil {
					last = u.LastLogin.UTC().Format(time.RFC3339)
				}
				tier := u.AudioTier
				if tier == "" {
					tier = "-"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%t\t%s\t%s\n", u.ID, u.Username, u.Email, u.Role, u.IsActive, last, tier)
			}
			f.Offset += len(users)
			if len(users) == 0 || f.Offset >= total {
				break
			}
		}
		tw.Flush()
		return 0
	}
	if len(pos) == 0 {
		return usage()
	}
	u, err := findUser(ctx, app, pos[0])
	if err != nil {
		return fail(h, err)
	}
	switch sub {
	case "set-role":
		if len(pos) != 2 {
			return usage()
		}
		r, err := auth.ParseRole(pos[1])
		if err != nil {
			return fail(h, err)
		}
		if _, err := svc.UpdateUser(ctx, sys, u.ID, auth.UserUpdate{Role: &r}, m); err != nil {
			return fail(h, err)
		}
		fmt.Fprintf(h.stdout, "%s is now %s\n", u.Username, r)
	case "set-audio-tier":
		if len(pos) > 2 {
			return usage()
		}
		tier := ""
		if len(pos) == 2 {
			tier = pos[1]
		}
		if _, err := svc.UpdateUser(ctx, sys, u.ID, auth.UserUpdate{AudioTier: &tier}, m); err != nil {
			return fail(h, err)
		}
		if tier == "" {
			tier = "the default tier"
		}
		fmt.Fprintf(h.stdout, "%s now has audio tier %s\n", u.Username, tier)
	case "set-password":
		pw, generated := *password, false
		if pw == "" {
			if pw, err = generatePassword(); err != nil {
				return fail(h, err)
			}
			generated = true
		}
		if err := svc.ResetPassword(ctx, sys, u.ID, pw, m); err != nil {
			return fail(h, err)
		}
		fmt.Fprintf(h.stdout, "password of %s changed; their sessions were revoked\n", u.Username)
		if generated {
			fmt.Fprintf(h.stdout, "password: %s\n(shown once)\n", pw)
		}
	case "deactivate", "activate":
		active := sub == "activate"
		if _, err := svc.UpdateUser(ctx, sys, u.ID, auth.UserUpdate{IsActive: &active}, m); err != nil {
			return fail(h, err)
		}
		fmt.Fprintf(h.stdout, "%s %sd\n", u.Username, sub)
	case "unlock":
		if err := svc.Unlock(ctx, sys, u.ID, m); err != nil {
			return fail(h, err)
		}
		fmt.Fprintf(h.stdout, "%s unlocked\n", u.Username)
	default:
		return usage()
	}
	return 0
}

// codeCmd runs `tldwd code create|list|revoke`.
func codeCmd(ctx context.Context, h host, o options, args []string) int {
	usage := func() int {
		fmt.Fprintln(h.stderr, `usage:
  tldwd code create [--max-uses N] [--expiry-days N] [--role user|moderator|admin] [--email-domain D] [--count N]
  tldwd code list [--all]
  tldwd code revoke ID`)
		return 2
	}
	if len(args) == 0 {
		return usage()
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("code "+sub, flag.ContinueOnError)
	fs.SetOutput(h.stderr)
	maxUses := fs.Int("max-uses", 0, "uses per code (default REGISTRATION_CODE_DEFAULT_MAX_USES)")
	expiry := fs.Int("expiry-days", 0, "days until the code expires (default REGISTRATION_CODE_DEFAULT_EXPIRY_DAYS)")
	role := fs.String("role", "", "role granted (default DEFAULT_USER_ROLE)")
	domain := fs.String("email-domain", "", "only emails of this domain may use it")
	count := fs.Int("count", 1, "how many codes")
	all := fs.Bool("all", false, "include revoked, expired and used-up codes")
	pos, err := parseAfterPositional(fs, args)
	if err != nil {
		return 2
	}
	app, code := openApp(ctx, h, o)
	if app == nil {
		return code
	}
	defer app.Close()
	svc, sys := app.Accounts(), auth.SystemPrincipal()
	m := auth.Meta{UserAgent: "tldwd-cli"}
	switch sub {
	case "create":
		codes, err := svc.CreateCodes(ctx, sys, auth.CodeRequest{
			MaxUses: *maxUses, Expiry: time.Duration(*expiry) * 24 * time.Hour,
			RoleToGrant: auth.Role(*role), AllowedEmailDomain: *domain, Count: *count,
		}, m)
		if err != nil {
			return fail(h, err)
		}
		for _, c := range codes {
			fmt.Fprintf(h.stdout, "%s  id=%d role=%s max_uses=%d expires=%s\n", c.Code, c.ID, c.RoleToGrant, c.MaxUses, c.ExpiresAt.UTC().Format(time.RFC3339))
		}
	case "list":
		codes, err := svc.ListCodes(ctx, sys, *all)
		if err != nil {
			return fail(h, err)
		}
		tw := tabwriter.NewWriter(h.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCODE\tROLE\tUSED\tEXPIRES\tACTIVE")
		for _, c := range codes {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%t\n", c.ID, c.Code, c.RoleToGrant, c.TimesUsed, c.MaxUses, c.ExpiresAt.UTC().Format(time.RFC3339), c.IsActive)
		}
		tw.Flush()
	case "revoke":
		if len(pos) != 1 {
			return usage()
		}
		id, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil {
			return usage()
		}
		if err := svc.RevokeCode(ctx, sys, id, m); err != nil {
			return fail(h, err)
		}
		fmt.Fprintf(h.stdout, "code %d revoked\n", id)
	default:
		return usage()
	}
	return 0
}

// findUser looks a user up by id, username or email.
func findUser(ctx context.Context, app *tldw.App, ref string) (*auth.User, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		return app.Users.UserByID(ctx, id)
	}
	login, err := auth.CanonicalUsername(ref)
	if err != nil {
		if login, err = auth.CanonicalEmail(ref); err != nil {
			return nil, err
		}
	}
	u, err := app.Users.UserByLogin(ctx, login)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", ref, err)
	}
	return u, nil
}

// generatePassword makes a random password that meets the default policy.
func generatePassword() (string, error) {
	for {
		s, err := auth.RandomToken(18)
		if err != nil {
			return "", err
		}
		if pw := s + "-Aa9"; auth.DefaultPolicy().Check(pw, "") == nil {
			return pw, nil
		}
	}
}

// parseAfterPositional parses args whose positional arguments come first (set-role alice
// admin) and flags after them, returning the positional ones.
func parseAfterPositional(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		pos, args = append(pos, args[0]), args[1:]
	}
	return pos, fs.Parse(args)
}
