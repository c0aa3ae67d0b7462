// Package ytdlp downloads the audio of video sites' pages for URL ingest with yt-dlp
// (Debian package yt-dlp; YTDLP_PATH names another binary). It is a media.VideoFetcher:
// one run of yt-dlp per URL through media.Run (own temporary directory, timeout, memory
// limit, process group killed on cancel), without any configuration file, audio only,
// with a size cap (--max-filesize and a byte cap on the proxy), a duration cap (a match
// filter that lets unknown durations through) and no live streams.
//
// Everything yt-dlp fetches goes through a small HTTP proxy of this package, bound to
// 127.0.0.1 on a free port for that one run: CONNECT for https, absolute-URI requests for
// http. The proxy connects with Config.Guard — httpfetch's DialContext, the SSRF guard of
// URL ingest — so yt-dlp reaches exactly what MEDIA_URL_ALLOWLIST and the guard allow,
// at the address the guard vetted; others get 403. yt-dlp runs with the native
// downloaders only and no ffmpeg, so no helper program connects past the proxy.
package ytdlp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/media"
)

// Package is the Debian/Ubuntu package that installs yt-dlp.
const Package = "yt-dlp"

// Defaults of Config's zero fields.
const (
	DefaultTimeout     = 15 * time.Minute
	DefaultMemoryBytes = 1 << 30 // yt-dlp peaks near 70 MB RSS on a small page
	DefaultMaxBytes    = 512 << 20
	DefaultMaxDuration = 4 * time.Hour
)

// pageSlack is what the proxy lets through beyond the size cap: web pages, player scripts,
// manifests.
const pageSlack = 32 << 20

// Config configures a Downloader. Zero values take the defaults above.
type Config struct {
	Path        string        // YTDLP_PATH; "" finds yt-dlp on PATH
	TempRoot    string        // where downloads are made; "" is os.TempDir()
	Timeout     time.Duration // for one download, page and audio together
	MemoryBytes int64         // address-space limit of yt-dlp
	MaxBytes    int64         // largest audio file kept
	MaxDuration time.Duration // longest video; a video of unknown duration passes
	// Guard connects for the proxy and refuses what the SSRF guard refuses (an error
	// wrapping media.ErrBlocked): httpfetch.Fetcher's DialContext. Required.
	Guard DialFunc
}

// Downloader runs yt-dlp for URL ingest. Safe for concurrent use.
type Downloader struct {
	c Config
}

var _ media.VideoFetcher = (*Downloader)(nil)

// New returns a Downloader. It returns an error wrapping media.ErrInvalid without a Guard.
// A missing yt-dlp is reported by Installed and by each FetchVideo, not here.
func New(c Config) (*Downloader, error) {
	if c.Guard == nil {
		return nil, fmt.Errorf("%w: ytdlp: a Guard is required", media.ErrInvalid)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MemoryBytes <= 0 {
		c.MemoryBytes = DefaultMemoryBytes
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = DefaultMaxDuration
	}
	return &Downloader{c: c}, nil
}

// Installed returns nil when yt-dlp is found, else an ErrUnsupported error naming the
// package to install.
func (d *Downloader) Installed() error {
	_, err := media.LookPath(d.c.Path, "yt-dlp", Package)
	return err
}

// FetchVideo downloads the best audio (else the best format) of the single video at
// rawURL, at most maxBytes (< 0: Config.MaxBytes; the smaller cap wins). The Fetched's
// Body is the downloaded file, removed when closed; URL is the page's canonical URL,
// Metadata has title, uploader, duration (seconds), upload_date (YYYYMMDD), webpage_url,
// extractor and ext when the site tells them.
//
// Errors wrap media.ErrInvalid (not an http(s) URL; an HTTP 4xx), media.ErrBlocked and
// media.ErrInvalid (the guard refused an address yt-dlp needed), media.ErrUnsupported
// (yt-dlp not installed; no video at the URL), media.ErrTooLarge (over MaxBytes or
// MaxDuration), media.ErrBudgetExceeded (over maxBytes), media.ErrTimeout, ctx's error,
// or media.ErrFetchFailed (the network or the site failed; a later try may work). No file
// is left behind on error.
func (d *Downloader) FetchVideo(ctx context.Context, rawURL string, maxBytes int64) (*media.Fetched, error) {
	u, err := media.CheckFetchURL(rawURL)
	if err != nil {
		return nil, err
	}
	bin, err := media.LookPath(d.c.Path, "yt-dlp", Package)
	if err != nil {
		return nil, err
	}
	limit, overLimit := d.c.MaxBytes, media.ErrTooLarge
	if maxBytes >= 0 && maxBytes < limit {
		limit, overLimit = maxBytes, media.ErrBudgetExceeded
	}
	out, err := os.MkdirTemp(d.c.TempRoot, media.TempPrefix)
	if err != nil {
		return nil, fmt.Errorf("ytdlp: temporary directory: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(out)
		}
	}()
	px, err := startProxy(d.c.Guard, limit+pageSlack)
	if err != nil {
		return nil, err
	}
	defer px.close()

	stdout := &media.CappedBuffer{Max: 1 << 20}
	runErr := media.Run(ctx, media.Command{Path: bin, Args: d.args(px.URL(), out, limit, u.String()),
		TempRoot: d.c.TempRoot, Stdout: stdout, Timeout: d.c.Timeout, MemoryBytes: d.c.MemoryBytes})
	px.close() // nothing more goes through; the counters are final
	tooBig := func() error {
		return fmt.Errorf("%w: the video's audio is over the %d byte limit", overLimit, limit)
	}
	// A refusal matters when the run failed: a request yt-dlp could do without (a
	// tracker, a thumbnail) does not spoil a download that worked.
	blocked := func() error { return fmt.Errorf("ytdlp: %s: %w", u.Redacted(), px.refused()) }
	switch {
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	case errors.Is(runErr, media.ErrTimeout):
		return nil, runErr
	case runErr != nil && px.refused() != nil:
		return nil, blocked()
	case px.over.Load():
		return nil, tooBig()
	case runErr != nil:
		return nil, classify(u, runErr)
	}
	file, err := mediaFile(out)
	if err != nil {
		msg := stdout.Buf.String()
		switch {
		case px.refused() != nil:
			return nil, blocked()
		case strings.Contains(msg, "larger than max-filesize"):
			return nil, tooBig()
		case strings.Contains(msg, "does not pass filter"):
			return nil, media.Detailf(media.ErrTooLarge, "the video is longer than %v", d.c.MaxDuration)
		}
		return nil, fmt.Errorf("%w: %s: %v", media.Detailf(media.ErrUnsupported, "no video was downloaded from the URL"), u.Redacted(), err)
	}
	info, err := os.Stat(file)
	if err != nil {
		return nil, fmt.Errorf("ytdlp: %w", err)
	}
	if info.Size() > limit {
		return nil, tooBig()
	}
	md := metadata(filepath.Join(out, "media.info.json"))
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("ytdlp: %w", err)
	}
	keep = true
	ext := strings.TrimPrefix(filepath.Ext(file), ".")
	if md["ext"] == "" {
		md["ext"] = ext
	}
	page := md["webpage_url"]
	if page == "" {
		page = u.String()
	}
	name := "media"
	if md["title"] != "" {
		name = strings.NewReplacer("/", "_", `\`, "_").Replace(md["title"])
	}
	return &media.Fetched{Body: &tempFile{File: f, dir: out}, URL: page,
		ContentType: mime.TypeByExtension("." + ext), Filename: name + "." + ext,
		Size: info.Size(), Metadata: md}, nil
}

// args are yt-dlp's arguments: no configuration, one video, audio first, the caps, the
// proxy, native downloaders, no ffmpeg, the file and its info JSON in dir.
func (d *Downloader) args(proxy, dir string, limit int64, rawURL string) []string {
	secs := strconv.FormatInt(int64(d.c.MaxDuration/time.Second), 10)
	return []string{
		"--ignore-config", "--no-config-locations",
		"--no-playlist", "--playlist-items", "1", "--no-write-playlist-metafiles",
		"-f", "bestaudio[protocol^=http]/bestaudio[protocol^=m3u8]/best[protocol^=http]/best[protocol^=m3u8]",
		"--max-filesize", strconv.FormatInt(limit, 10),
		"--match-filter", "!is_live & duration <=? " + secs,
		"--proxy", proxy, "--socket-timeout", "30",
		"--downloader", "native", "--ffmpeg-location", "{dir}/no-ffmpeg",
		"--no-part", "--no-mtime", "--no-cache-dir", "--no-cookies", "--restrict-filenames",
		"--no-progress", "--no-colors", "--write-info-json",
		"-o", filepath.Join(dir, "media.%(ext)s"),
		"--", rawURL,
	}
}

// httpError finds yt-dlp's report of an HTTP error status ("HTTP Error 404: Not Found").
var httpError = regexp.MustCompile(`HTTP Error (\d{3})`)

// classify turns a failed run (its error ends with yt-dlp's stderr) into media's kinds,
// with a detail the client may see.
func classify(u *url.URL, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "Unsupported URL") || strings.Contains(msg, "No video formats found") ||
		strings.Contains(msg, "Requested format is not available") {
		return fmt.Errorf("%w: %s: %w", media.Detailf(media.ErrUnsupported, "no video was found at the URL"), u.Redacted(), err)
	}
	if m := httpError.FindStringSubmatch(msg); m != nil && m[1][0] == '4' && m[1] != "429" {
		return fmt.Errorf("%w: %s: %w", media.Detailf(media.ErrInvalid, "the video site answered HTTP %s", m[1]), u.Redacted(), err)
	}
	return fmt.Errorf("%w: %s: %w", media.ErrFetchFailed, u.Redacted(), err)
}

// mediaFile is the one downloaded file in dir (media.EXT, not the info JSON).
func mediaFile(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var found []string
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasPrefix(n, "media.") && n != "media.info.json" {
			found = append(found, filepath.Join(dir, n))
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("%d media files", len(found))
	}
	return found[0], nil
}

// maxInfoJSON bounds the info JSON read (its formats list can be long).
const maxInfoJSON = 16 << 20

// metadata reads the fields of yt-dlp's info JSON that ingest keeps; a missing or broken
// file gives an empty map.
func metadata(path string) map[string]string {
	md := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return md
	}
	defer f.Close()
	var info struct {
		Title      string   `json:"title"`
		Uploader   string   `json:"uploader"`
		Duration   *float64 `json:"duration"`
		UploadDate string   `json:"upload_date"`
		WebpageURL string   `json:"webpage_url"`
		Extractor  string   `json:"extractor"`
		Ext        string   `json:"ext"`
	}
	if json.NewDecoder(io.LimitReader(f, maxInfoJSON)).Decode(&info) != nil {
		return md
	}
	for k, v := range map[string]string{"title": clip(info.Title, media.MaxTitleLen), "uploader": clip(info.Uploader, media.MaxAuthorLen),
		"upload_date": info.UploadDate, "webpage_url": info.WebpageURL, "extractor": info.Extractor, "ext": info.Ext} {
		if v != "" {
			md[k] = v
		}
	}
	if info.Duration != nil {
		md["duration"] = strconv.FormatFloat(*info.Duration, 'f', -1, 64)
	}
	return md
}

// clip makes s valid UTF-8 of at most n characters, so a site's long title still fits an
// item's.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if r := []rune(s); len(r) > n {
		s = string(r[:n])
	}
	return s
}

// tempFile is a downloaded file whose directory goes when it is closed.
type tempFile struct {
	*os.File
	dir string
}

// Close closes the file and removes its directory.
func (t *tempFile) Close() error {
	err := t.File.Close()
	if rerr := os.RemoveAll(t.dir); err == nil {
		err = rerr
	}
	return err
}
