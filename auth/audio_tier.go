package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
)

// DefaultAudioTiers returns the names of tldw's audio tiers (media.DefaultAudioTiers'),
// sorted: the tiers an admin may give a user when Options.AudioTiers is nil.
func DefaultAudioTiers() []string { return []string{"free", "premium", "standard"} }

// AudioTiers returns the audio tier names an admin may give a user, sorted. Safe for
// concurrent use.
func (s *Service) AudioTiers() []string {
	if s.o.AudioTiers == nil {
		return DefaultAudioTiers()
	}
	names := slices.Clone(s.o.AudioTiers)
	slices.Sort(names)
	return slices.Compact(names)
}

// CheckAudioTier validates a user's audio tier: "" (the default tier) or one of AudioTiers,
// else ErrInvalid naming the valid ones.
func (s *Service) CheckAudioTier(name string) error {
	if name == "" || slices.Contains(s.AudioTiers(), name) {
		return nil
	}
	return Detailf(ErrInvalid, "unknown audio tier %q (want one of %s, or \"\" for the default tier)",
		truncate(name, 64), strings.Join(s.AudioTiers(), ", "))
}

// AudioTier returns userID's audio tier name, "" for the default tier: also for a user
// that is not stored (the single-user account may not be), so that it gets the default
// tier. It is media.AudioBudget's TierOf. Other store errors are returned wrapped. Safe for
// concurrent use.
func (s *Service) AudioTier(ctx context.Context, userID int64) (string, error) {
	u, err := s.o.Users.UserByID(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", storeErr("loading user", err)
	}
	return u.AudioTier, nil
}
