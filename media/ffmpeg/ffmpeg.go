package ffmpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/media"
)

// Package is the Debian/Ubuntu package of ffmpeg and ffprobe.
const Package = "ffmpeg"

// Defaults for the zero fields of Config, and fixed limits.
const (
	DefaultTimeout     = 10 * time.Minute // per program run: decoding 4 h of audio takes a few minutes
	DefaultMemory      = 2 << 30          // address space per run: ffmpeg's threads reserve stacks
	DefaultMaxDuration = 4 * time.Hour
	// MaxThumbnail caps a thumbnail's JPEG (640 pixels wide: tens of kilobytes).
	MaxThumbnail = 4 << 20
	// ThumbnailWidth is the widest a thumbnail is (narrower videos keep their width).
	ThumbnailWidth = 640
	// maxProbeJSON caps ffprobe's output (streams and tags).
	maxProbeJSON = 4 << 20
)

// Demuxers are the container formats AV opens (ffmpeg demuxer names): audio and video
// files people upload. Others (hls, concat, image sequences, tty, ...) are refused, as they
// can make ffmpeg open further files.
const Demuxers = "mov,mp4,m4a,3gp,matroska,webm,avi,flv,mpegts,mpeg,asf,ogg,mp3,wav,w64,flac," +
	"aac,ac3,eac3,dts,amr,aiff,caf,wv,ape,au,tta,mxf,dv,rm"

// Config configures an AV. Zero fields take the defaults.
type Config struct {
	FFmpeg, FFprobe string        // program paths; "" looks them up on PATH
	TempRoot        string        // where temporary directories go; "" is os.TempDir()
	Timeout         time.Duration // per program run; 0 is DefaultTimeout
	MemoryBytes     int64         // address-space limit per run; 0 is DefaultMemory
	// MaxDuration is the longest media accepted: longer is media.ErrTooLarge. 0 is
	// DefaultMaxDuration.
	MaxDuration time.Duration
}

// AV is media.AV on ffmpeg and ffprobe. It is safe for concurrent use.
type AV struct {
	cfg             Config
	ffmpeg, ffprobe string
}

var _ media.AV = (*AV)(nil)

// New returns an AV, or a media.ErrUnsupported error naming the ffmpeg package when a
// program is not found.
func New(c Config) (*AV, error) {
	ffm, err := media.LookPath(c.FFmpeg, "ffmpeg", Package)
	if err != nil {
		return nil, err
	}
	ffp, err := media.LookPath(c.FFprobe, "ffprobe", Package)
	if err != nil {
		return nil, err
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MemoryBytes <= 0 {
		c.MemoryBytes = DefaultMemory
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = DefaultMaxDuration
	}
	return &AV{cfg: c, ffmpeg: ffm, ffprobe: ffp}, nil
}

// Probe reads path's container with ffprobe. A file that is not audio or video (or is
// corrupt, or has neither an audio nor a video stream) is media.ErrInvalid; media longer
// than Config.MaxDuration is media.ErrTooLarge. Other errors: media.ErrTimeout, ctx's.
func (a *AV) Probe(ctx context.Context, path string) (*media.AVInfo, error) {
	p, err := a.probe(ctx, path)
	if err != nil {
		return nil, err
	}
	return &p.AVInfo, nil
}

// probed is what probe read: the AVInfo and the video stream's own duration.
type probed struct {
	media.AVInfo
	videoDuration time.Duration
}

func (a *AV) probe(ctx context.Context, path string) (*probed, error) {
	in, err := inputURL(path)
	if err != nil {
		return nil, err
	}
	out := &media.CappedBuffer{Max: maxProbeJSON}
	stderr := &tail{}
	err = a.run(ctx, a.ffprobe, out, stderr, "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", Demuxers,
		"-print_format", "json", "-show_format", "-show_streams", in)
	if err != nil {
		if out.Over {
			return nil, media.Detailf(media.ErrInvalid, "the file's metadata is larger than %d bytes", maxProbeJSON)
		}
		return nil, a.toolError(ctx, err, stderr, path, "the file is not audio or video that ffmpeg reads")
	}
	p, err := parseProbe(out.Buf.Bytes())
	if err != nil {
		return nil, err
	}
	if p.Duration > a.cfg.MaxDuration {
		return nil, media.Detailf(media.ErrTooLarge, "the media lasts %s, longer than the %s this server accepts", p.Duration.Round(time.Second), a.cfg.MaxDuration)
	}
	return p, nil
}

// Decode writes the audio of path, cut to o, to dst as a media.SampleRate Hz mono s16le
// WAV file (replacing dst). Start and End are positions in the input (End 0 is its end;
// an End past the end is the end). Errors wrap media.ErrInvalid (not media, no audio
// stream, a Start past the end or an End before Start), media.ErrTooLarge (longer than
// MaxDuration), media.ErrTimeout or ctx's; on error dst is removed.
func (a *AV) Decode(ctx context.Context, path, dst string, o media.DecodeOptions) error {
	if o.Start < 0 || o.End < 0 || (o.End != 0 && o.End <= o.Start) {
		return media.Detailf(media.ErrInvalid, "the window from %s to %s is empty or negative (start_time must be before end_time)", o.Start, o.End)
	}
	p, err := a.probe(ctx, path)
	if err != nil {
		return err
	}
	if !p.HasAudio {
		return media.Detailf(media.ErrInvalid, "the file has no audio stream to transcribe")
	}
	if p.Duration > 0 && o.Start >= p.Duration {
		return media.Detailf(media.ErrInvalid, "start_time %s is at or past the end of the media (%s)", o.Start, p.Duration)
	}
	out, err := filepath.Abs(dst)
	if err != nil {
		return err
	}
	in, _ := inputURL(path) // probe checked it
	args := []string{"-nostdin", "-v", "error", "-y", "-protocol_whitelist", "file", "-format_whitelist", Demuxers}
	if o.Start > 0 {
		args = append(args, "-ss", seconds(o.Start)) // an input option: seeks fast, and decoding makes it exact
	}
	if o.End > 0 {
		args = append(args, "-t", seconds(o.End-o.Start)) // the window's length, read from the seek point
	} else if p.Duration == 0 {
		args = append(args, "-t", seconds(a.cfg.MaxDuration+time.Second)) // length unknown: stop just past the cap
	}
	args = append(args, "-i", in, "-vn", "-sn", "-dn", "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
		"-ac", "1", "-ar", strconv.Itoa(media.SampleRate), "-c:a", "pcm_s16le", "-f", "wav", "file:"+out)
	stderr := &tail{}
	if err := a.run(ctx, a.ffmpeg, nil, stderr, args...); err != nil {
		os.Remove(out)
		return a.toolError(ctx, err, stderr, path, "ffmpeg cannot decode the file's audio")
	}
	if strings.Contains(stderr.String(), "partial file") { // mov's word for a file cut short
		os.Remove(out)
		return media.Detailf(media.ErrInvalid, "the file is truncated (its audio ends before the container says)")
	}
	fi, err := os.Stat(out)
	if err != nil {
		return err
	}
	samples := (fi.Size() - wavHeader) / 2
	switch {
	case samples <= 0:
		os.Remove(out)
		return media.Detailf(media.ErrInvalid, "the file has no decodable audio between %s and the end", o.Start)
	case time.Duration(samples)*time.Second/media.SampleRate > a.cfg.MaxDuration:
		os.Remove(out)
		return media.Detailf(media.ErrTooLarge, "the media lasts longer than the %s this server accepts", a.cfg.MaxDuration)
	}
	return nil
}

// wavHeader is the size of the header of the WAV ffmpeg writes with -bitexact and no
// metadata.
const wavHeader = 44

// Thumbnail returns one JPEG frame of path's video (or its cover art), at most ThumbnailWidth pixels wide,
// taken at at (clamped inside the video; the first frame when the video is too short for
// a frame there). Errors wrap media.ErrInvalid (not media, no video stream), media.ErrTooLarge,
// media.ErrTimeout or ctx's.
func (a *AV) Thumbnail(ctx context.Context, path string, at time.Duration) ([]byte, error) {
	p, err := a.probe(ctx, path)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(p.Streams, func(s media.AVStream) bool { return s.Type == "video" }) {
		return nil, media.Detailf(media.ErrInvalid, "the file has no video stream for a thumbnail")
	}
	at = clampFrame(at, p.videoDuration, p.Duration)
	for {
		img, err := a.frame(ctx, path, at)
		if err != nil || len(img) > 0 || at == 0 {
			if err == nil && len(img) == 0 {
				return nil, media.Detailf(media.ErrInvalid, "the video has no decodable frame")
			}
			return img, err
		}
		at = 0 // nothing at at (a stream shorter than it claims): take the first frame
	}
}

// clampFrame returns at moved inside a video of duration d (the video stream's, else the
// container's; 0 unknown): a second before its end, or its middle when it is shorter than
// two seconds.
func clampFrame(at, video, container time.Duration) time.Duration {
	d := video
	if d <= 0 {
		d = container
	}
	at = max(at, 0)
	switch {
	case d <= 0 || at < d-time.Second:
		return at
	case d < 2*time.Second:
		return min(at, d/2)
	default:
		return d - time.Second
	}
}

// frame grabs one frame at at.
func (a *AV) frame(ctx context.Context, path string, at time.Duration) ([]byte, error) {
	in, _ := inputURL(path)
	out := &media.CappedBuffer{Max: MaxThumbnail}
	stderr := &tail{}
	err := a.run(ctx, a.ffmpeg, out, stderr, "-nostdin", "-v", "error", "-protocol_whitelist", "file", "-format_whitelist", Demuxers,
		"-ss", seconds(at), "-i", in, "-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", "1",
		"-vf", fmt.Sprintf("scale='min(%d,iw)':-2", ThumbnailWidth), "-q:v", "3", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1")
	if out.Over {
		return nil, media.Detailf(media.ErrTooLarge, "the thumbnail is larger than %d bytes", MaxThumbnail)
	}
	if err != nil {
		return nil, a.toolError(ctx, err, stderr, path, "ffmpeg cannot decode a frame of the video")
	}
	return out.Buf.Bytes(), nil
}

// Silences returns the stretches of path's audio quieter than o.NoiseDB for at least
// o.MinDuration (ffmpeg's silencedetect), in order; a silence running to the end ends at
// the duration. Errors wrap media.ErrInvalid (bad options, not media, no audio stream),
// media.ErrTooLarge, media.ErrTimeout or ctx's.
func (a *AV) Silences(ctx context.Context, path string, o media.SilenceOptions) ([]media.Interval, error) {
	if o.NoiseDB == 0 {
		o.NoiseDB = -35
	}
	if o.MinDuration == 0 {
		o.MinDuration = 500 * time.Millisecond
	}
	if o.NoiseDB > 0 || o.NoiseDB < -120 || o.MinDuration < 0 {
		return nil, media.Detailf(media.ErrInvalid, "silence detection needs a noise level between -120 and 0 dB and a positive duration")
	}
	p, err := a.probe(ctx, path)
	if err != nil {
		return nil, err
	}
	if !p.HasAudio {
		return nil, media.Detailf(media.ErrInvalid, "the file has no audio stream")
	}
	in, _ := inputURL(path)
	log := &silenceLog{}
	filter := fmt.Sprintf("silencedetect=noise=%sdB:d=%s", strconv.FormatFloat(o.NoiseDB, 'f', -1, 64), seconds(o.MinDuration))
	err = a.run(ctx, a.ffmpeg, nil, log, "-nostdin", "-hide_banner", "-nostats", "-v", "info", "-protocol_whitelist", "file",
		"-format_whitelist", Demuxers, "-i", in, "-vn", "-sn", "-dn", "-af", filter, "-f", "null", "-")
	if err != nil {
		return nil, a.toolError(ctx, err, &log.tail, path, "ffmpeg cannot decode the file's audio")
	}
	if log.err != nil {
		return nil, log.err
	}
	return log.finish(p.Duration), nil
}

// run runs one program through media.Run with the AV's limits.
func (a *AV) run(ctx context.Context, prog string, stdout, stderr io.Writer, args ...string) error {
	return media.Run(ctx, media.Command{Path: prog, Args: args, Stdout: stdout, Stderr: stderr,
		TempRoot: a.cfg.TempRoot, Timeout: a.cfg.Timeout, MemoryBytes: a.cfg.MemoryBytes})
}

// toolError classifies a failed run: the end of ctx and timeouts as they are, anything else
// media.ErrInvalid with what to tell the client (msg and ffmpeg's last line of stderr,
// without the path) and, for the log, the run's error.
func (a *AV) toolError(ctx context.Context, err error, stderr *tail, path, msg string) error {
	if ctx.Err() != nil || errors.Is(err, media.ErrTimeout) {
		return err
	}
	if r := reason(stderr.String(), path); r != "" {
		msg += ": " + r
	}
	return fmt.Errorf("%w (%v)", media.Detailf(media.ErrInvalid, "%s", msg), err)
}

// reason returns the last line ffmpeg printed on stderr without the input's path and the
// "[demuxer @ 0x...]" prefix, cut to 200 bytes; or, for a format outside Demuxers, says so.
func reason(stderr, path string) string {
	if strings.Contains(stderr, "not on whitelist") { // a demuxer outside Demuxers
		return "its format is not one of the audio and video containers this server opens"
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	if abs, err := filepath.Abs(path); err == nil {
		line = strings.ReplaceAll(line, "file:"+abs+": ", "")
		line = strings.ReplaceAll(line, abs, "the file")
	}
	if strings.HasPrefix(line, "[") {
		if _, rest, ok := strings.Cut(line, "] "); ok {
			line = rest
		}
	}
	if len(line) > 200 {
		line = strings.ToValidUTF8(line[:200], "")
	}
	return strings.TrimSpace(line)
}

// inputURL returns path as the absolute "file:" URL ffmpeg opens (so a name starting with
// "-" or looking like "http:" stays a local file, whatever the run's working directory).
func inputURL(path string) (string, error) {
	if path == "" {
		return "", media.Detailf(media.ErrInvalid, "no file")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return "file:" + abs, nil
}

// seconds formats d for ffmpeg's time options ("12.5").
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// tail keeps the last 2 KiB of a program's stderr, for the error.
type tail struct{ buf bytes.Buffer }

func (t *tail) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if extra := t.buf.Len() - 2<<10; extra > 0 {
		t.buf.Next(extra)
	}
	return len(p), nil
}

func (t *tail) String() string { return t.buf.String() }
