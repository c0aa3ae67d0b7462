package tldw

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"time"

	"github.com/tldw-go/tldw/auth"
)

// apiKeyPepperFile holds the HMAC key API-key hashes are made with.
const apiKeyPepperFile = "api_key_pepper.key"

// openAccounts builds the accounts service over the configured stores.
func (a *App) openAccounts() error {
	cfg := &a.Config
	if a.Users == nil {
		a.Users = a.db.Users()
	}
	if a.Sessions == nil {
		a.Sessions = a.db.Sessions()
	}
	if a.Codes == nil {
		a.Codes = a.db.Codes()
	}
	if a.APIKeys == nil {
		a.APIKeys = a.db.APIKeys()
	}
	if a.Lockout == nil {
		a.Lockout = a.sharedLockout(a.db.Lockout())
	}
	if a.Settings == nil {
		a.Settings = a.db.Settings()
	}
	tokens, err := a.newTokens()
	if err != nil {
		return err
	}
	pepper := cfg.APIKeyPepper.Reveal()
	if pepper == "" {
		if pepper, err = loadOrCreateSecret(cfg.DataDir, apiKeyPepperFile); err != nil {
			return err
		}
	}
	var quota *int64
	if cfg.DefaultStorageQuotaMB > 0 {
		q := cfg.DefaultStorageQuotaMB
		quota = &q
	}
	svc, err := auth.NewService(auth.Options{
		Users:      a.Users,
		Sessions:   a.Sessions,
		Codes:      a.Codes,
		APIKeys:    a.APIKeys,
		Lockout:    a.Lockout,
		Settings:   a.Settings,
		Audit:      a.audit.sink,
		AudioTiers: slices.Sorted(maps.Keys(a.audioTiers)),
		Hasher: auth.NewHasher(auth.Argon2Params{
			MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Parallelism,
		}, runtime.GOMAXPROCS(0), 2*time.Second),
		Tokens: tokens,
		Policy: auth.Policy{MinLength: cfg.PasswordMinLength, HistoryCount: cfg.PasswordHistoryCount},
		Logger: a.Logger,
		Now:    a.Now,

		AccessTTL:          cfg.AccessTokenExpire,
		RefreshTTL:         cfg.RefreshTokenExpire,
		RotateRefresh:      cfg.RotateRefreshTokens,
		MaxSessionsPerUser: cfg.MaxSessionsPerUser,
		MaxAPIKeysPerUser:  cfg.MaxAPIKeysPerUser,
		MaxLoginAttempts:   cfg.MaxLoginAttempts,
		LockoutDuration:    cfg.LockoutDuration,
		SessionCacheTTL:    cfg.SessionCacheTTL,

		EnableRegistration:      cfg.EnableRegistration,
		RequireRegistrationCode: cfg.RequireRegistrationCode,
		DefaultRole:             auth.Role(cfg.DefaultUserRole),
		DefaultQuotaMB:          quota,
		CodeDefaultExpiry:       time.Duration(cfg.RegistrationCodeDefaultExpiryDays) * 24 * time.Hour,
		CodeDefaultMaxUses:      cfg.RegistrationCodeDefaultMaxUses,
		MaxBatchCodes:           cfg.MaxBatchRegistrationCodes,

		SingleUser:       cfg.AuthMode == "single_user",
		SingleUserAPIKey: cfg.SingleUserAPIKey.Reveal(),
		SingleUserID:     cfg.SingleUserFixedID,
		SingleUserIPs:    cfg.SingleUserAllowedIPs,
		APIKeyPepper:     []byte(pepper),
		Notify:           a.invalidationHook(),
	})
	if err != nil {
		return fmt.Errorf("tldw: accounts: %w", err)
	}
	a.accounts = svc
	if a.redis != nil {
		a.redis.startInvalidation(svc)
	}
	a.every(authPruneInterval, a.pruneAuth)
	return nil
}

// authPruneInterval is how often ended authentication rows are pruned.
const authPruneInterval = time.Hour

// pruneAuth deletes login attempts, sessions, API keys and registration codes that ended
// more than AUTH_RETENTION_DAYS ago (sqlstore.DB.PruneAuth), so those tables do not grow
// forever. Every replica may run it; the deletes are idempotent.
func (a *App) pruneAuth(ctx context.Context) {
	cutoff := a.Now().Add(-time.Duration(a.Config.AuthRetentionDays) * 24 * time.Hour)
	if n, err := a.db.PruneAuth(ctx, cutoff); err != nil && ctx.Err() == nil {
		a.Logger.Error("auth prune", "err", err)
	} else if n > 0 {
		a.Logger.Info("auth prune removed ended rows", "count", n, "before", cutoff)
	}
}

// newTokens builds the JWT issuer and verifier from the JWT_* keys.
func (a *App) newTokens() (*auth.Tokens, error) {
	cfg := &a.Config
	k := auth.KeyConfig{
		Algorithm: cfg.JWTAlgorithm,
		Secret:    []byte(cfg.JWTSecretKey.Reveal()),
		Issuer:    cfg.JWTIssuer,
		Audience:  cfg.JWTAudience,
		Now:       a.Now,
	}
	for _, s := range cfg.JWTPreviousSecretKeys {
		k.Previous = append(k.Previous, []byte(s.Reveal()))
	}
	if cfg.JWTAlgorithm != "HS256" {
		var err error
		if k.PrivateKeyPEM, err = os.ReadFile(cfg.JWTPrivateKeyFile); err != nil {
			return nil, fmt.Errorf("tldw: JWT_PRIVATE_KEY: %w", err)
		}
		if cfg.JWTPublicKeyFile != "" {
			if k.PublicKeyPEM, err = os.ReadFile(cfg.JWTPublicKeyFile); err != nil {
				return nil, fmt.Errorf("tldw: JWT_PUBLIC_KEY: %w", err)
			}
		}
		// Previous keys of an asymmetric algorithm are PEM files, listed by path.
		prev := k.Previous
		k.Previous = nil
		for _, p := range prev {
			pem, err := os.ReadFile(string(p))
			if err != nil {
				return nil, fmt.Errorf("tldw: JWT_PREVIOUS_SECRET_KEYS: %w", err)
			}
			k.Previous = append(k.Previous, pem)
		}
	}
	t, err := auth.NewTokens(k)
	if err != nil {
		return nil, fmt.Errorf("tldw: JWT keys: %w", err)
	}
	return t, nil
}

// Accounts returns the accounts service (after Open): embedders and the command line use it
// to manage users, sessions, API keys and registration codes.
func (a *App) Accounts() *auth.Service { return a.accounts }

// BootstrapAdmin creates the first admin when the database has no users, from
// TLDW_ADMIN_USERNAME / TLDW_ADMIN_EMAIL / TLDW_ADMIN_PASSWORD. Without a password it
// generates one and returns it, for the host to print once to the console (never to a log).
// created is false when users already exist or in single_user mode.
func (a *App) BootstrapAdmin(ctx context.Context) (username, generatedPassword string, created bool, err error) {
	if a.Config.AuthMode != "multi_user" {
		return "", "", false, nil
	}
	username = a.Config.AdminUsername
	if username == "" {
		username = "admin"
	}
	email := a.Config.AdminEmail
	if email == "" {
		email = username + "@localhost.localdomain"
	}
	created, generatedPassword, err = a.accounts.Bootstrap(ctx, username, email, a.Config.AdminPassword.Reveal())
	return username, generatedPassword, created, err
}
