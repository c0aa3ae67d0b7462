package media

import (
	"context"
	"time"
)

// AV reads audio and video files (media/ffmpeg implements it with ffprobe and ffmpeg). Paths
// are local files the caller owns; every method is bounded like a Command and safe for
// concurrent use. Errors wrap ErrInvalid (corrupt or not media), ErrUnsupported (a codec the
// tool lacks), ErrTimeout, or another error for a failure a retry may cure.
type AV interface {
	// Probe reads the container: duration, streams, codecs and tags. A video without an
	// audio stream is not an error (HasAudio is false).
	Probe(ctx context.Context, path string) (*AVInfo, error)
	// Decode writes the audio of path, cut to o's window, to dst as the WAV every
	// Transcriber hears (SampleRate Hz, mono, 16-bit little-endian PCM).
	Decode(ctx context.Context, path, dst string, o DecodeOptions) error
	// Thumbnail returns one JPEG frame of a video at (or, for a shorter video, near) at.
	Thumbnail(ctx context.Context, path string, at time.Duration) ([]byte, error)
	// Silences returns the silent stretches of path's audio, in order (vad_use).
	Silences(ctx context.Context, path string, o SilenceOptions) ([]Interval, error)
}

// SampleRate is the sample rate of the audio a Transcriber hears (16 kHz mono s16le WAV).
const SampleRate = 16000

// AVInfo is what Probe read.
type AVInfo struct {
	Duration time.Duration
	Format   string // container, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
	HasAudio bool
	HasVideo bool
	Streams  []AVStream
	Tags     map[string]string // container tags (title, artist, ...)
}

// AVStream is one stream of a container.
type AVStream struct {
	Index      int
	Type       string // "audio", "video", "subtitle", ...
	Codec      string
	SampleRate int // audio
	Channels   int // audio
	Width      int // video
	Height     int // video
}

// DecodeOptions cut the decoded audio: Start and End (0 = the end) are the form's
// start_time and end_time.
type DecodeOptions struct {
	Start, End time.Duration
}

// SilenceOptions tune silence detection; zero values take the defaults (-35 dB, 0.5 s).
type SilenceOptions struct {
	NoiseDB     float64       // the level below which audio is silence, in dB (negative)
	MinDuration time.Duration // the shortest silence reported
}

// Interval is a stretch of time.
type Interval struct {
	Start, End time.Duration
}
