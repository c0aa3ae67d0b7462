package tldw

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/ffmpeg"
	"github.com/tldw-go/tldw/media/openaistt"
	"github.com/tldw-go/tldw/media/pocketsphinx"
	"github.com/tldw-go/tldw/media/whispercpp"
)

// openAudio sets up audio and video: ffmpeg (probe, decode, thumbnails) when installed, the
// Transcriber STT_PROVIDER names (empty: whispercpp when WHISPER_CPP_MODEL is set, else
// pocketsphinx when installed), and the audio tiers' budget shared by jobs,
// /audio/transcriptions and streams. Without ffmpeg or a transcriber, audio and video items
// fail with a message saying what to install.
func (a *App) openAudio() error {
	cfg := &a.Config
	tiers, err := media.ParseAudioTiers(cfg.AudioTierLimitsJSON)
	if err != nil {
		return fmt.Errorf("tldw: AUDIO_TIER_LIMITS_JSON: %w", err)
	}
	if _, ok := tiers[cfg.DefaultAudioTier]; !ok {
		return fmt.Errorf("tldw: DEFAULT_AUDIO_TIER: %q is not a tier (have %v)", cfg.DefaultAudioTier, slices.Sorted(maps.Keys(tiers)))
	}
	a.audioTiers = tiers
	a.audioBudget = &media.AudioBudget{Ledger: a.Ledger, Tiers: tiers, DefaultTier: cfg.DefaultAudioTier,
		TierOf: func(ctx context.Context, userID int64) (string, error) {
			if a.accounts == nil {
				return "", nil
			}
			return a.accounts.AudioTier(ctx, userID)
		},
		Audit: a.audit.sink, Now: a.Now, Logger: a.Logger}
	if a.AV == nil {
		if av, err := ffmpeg.New(ffmpeg.Config{TempRoot: cfg.TempDir(), MaxDuration: cfg.MediaMaxDuration}); err == nil {
			a.AV = av
		} else {
			a.Logger.Info("audio and video processing is off", "reason", err)
		}
	}
	if a.Transcriber == nil {
		tr, name, err := a.defaultTranscriber()
		if err != nil {
			return err
		}
		a.Transcriber, a.transcriberName = tr, name
	}
	return nil
}

// defaultTranscriber builds the Transcriber of STT_PROVIDER; nil when none is available.
func (a *App) defaultTranscriber() (media.Transcriber, string, error) {
	cfg := &a.Config
	provider := cfg.STTProvider
	if provider == "" && cfg.WhisperCppModel != "" {
		provider = "whispercpp"
	}
	switch provider {
	case "none":
		return nil, "", nil
	case "openai":
		c, err := openaistt.New(openaistt.Config{BaseURL: cmpOr(cfg.STTBaseURL, "https://api.openai.com"),
			APIKey: cfg.STTAPIKey.Reveal(), Model: cfg.STTModel, MaxUploadBytes: cfg.STTMaxUploadMB << 20})
		if err != nil {
			return nil, "", fmt.Errorf("tldw: STT_BASE_URL: %w", err)
		}
		return c, "openai", nil
	case "whispercpp":
		w := whispercpp.New(whispercpp.Config{Path: cfg.WhisperCppPath, Model: cfg.WhisperCppModel, TempRoot: cfg.TempDir()})
		if err := w.Check(); err != nil {
			return nil, "", fmt.Errorf("tldw: STT_PROVIDER=whispercpp: %w", err)
		}
		return w, "whispercpp", nil
	}
	p, err := pocketsphinx.New(pocketsphinx.Config{TempRoot: cfg.TempDir()})
	if err != nil {
		if provider == "pocketsphinx" {
			return nil, "", fmt.Errorf("tldw: STT_PROVIDER=pocketsphinx: %w", err)
		}
		a.Logger.Info("transcription is off", "reason", err)
		return nil, "", nil
	}
	return p, "pocketsphinx", nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
