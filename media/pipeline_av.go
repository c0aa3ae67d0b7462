package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/storage"
)

// TranscribeChoices are the ingest form's audio and video options (tldw's AddMediaForm):
// transcription_model, transcription_language, diarize, start_time, end_time, vad_use and
// timestamp_option. Zero values are tldw's defaults except the model and language (the
// transcriber's own defaults).
type TranscribeChoices struct {
	Model    string `json:"model,omitempty"`
	Language string `json:"language,omitempty"`
	Diarize  bool   `json:"diarize,omitempty"`
	// Start and End cut the recording (start_time, end_time; End 0 = to the end).
	Start time.Duration `json:"start,omitempty"`
	End   time.Duration `json:"end,omitempty"`
	// VAD (vad_use) drops the segments a transcriber reports inside long silences (AV.Silences).
	VAD bool `json:"vad,omitempty"`
	// NoTimestamps (timestamp_option=false) keeps the text only: no segments are stored.
	NoTimestamps bool `json:"no_timestamps,omitempty"`
}

// Check returns an ErrInvalid-wrapped error for a window that ends before it starts.
func (o TranscribeChoices) Check() error {
	if o.Start < 0 || o.End < 0 {
		return Detailf(ErrInvalid, "start_time and end_time must not be negative")
	}
	if o.End > 0 && o.End <= o.Start {
		return Detailf(ErrInvalid, "end_time (%s) must be after start_time (%s)", o.End, o.Start)
	}
	return nil
}

// ParseClock reads a start_time or end_time: "HH:MM:SS", "MM:SS" or seconds, each with an
// optional fraction ("1:02:03.5", "90", "12.25"). ErrInvalid otherwise.
func ParseClock(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	parts := strings.Split(s, ":")
	if s == "" || len(parts) > 3 {
		return 0, Detailf(ErrInvalid, "%q is not a time (HH:MM:SS, MM:SS or seconds)", s)
	}
	var d time.Duration
	for i, part := range parts {
		last := i == len(parts)-1
		var v float64
		var err error
		if last {
			v, err = strconv.ParseFloat(part, 64)
		} else {
			var n int64
			n, err = strconv.ParseInt(part, 10, 64)
			v = float64(n)
		}
		if err != nil || v < 0 || v > 1e7 || (i > 0 && v >= 60) || strings.ContainsAny(part, "+-eEinfINFxX_") {
			return 0, Detailf(ErrInvalid, "%q is not a time (HH:MM:SS, MM:SS or seconds)", s)
		}
		d = d*60 + time.Duration(v*float64(time.Second))
		if !last {
			d = d / time.Second * time.Second
		}
	}
	return d, nil
}

// Metadata keys the transcribe stage stores in Content.Metadata besides the probe's.
const (
	// MetaThumbnailBytes is the size of the item's thumbnail (ThumbnailKey), counted in
	// the owner's storage quota with its text.
	MetaThumbnailBytes = "thumbnail_bytes"
	// MetaTranscriptionModel names the model that made the item's text.
	MetaTranscriptionModel = "transcription_model"
)

// ThumbnailKey is the blob key of the thumbnail of the item stored under blobKey.
func ThumbnailKey(blobKey string) string { return blobKey + ".thumb.jpg" }

// vadMinSilence is the shortest silence whose segments vad_use drops.
const vadMinSilence = 2 * time.Second

// heard is what listening to one file gave.
type heard struct {
	meta     map[string]string // probe facts, language, model
	text     string
	segments []Segment // absolute times; nil with NoTimestamps
	model    string    // "" when nothing was transcribed (no audio)
	language string
	thumb    []byte // a JPEG frame of a video, when asked for
	warnings []string
}

// hear probes, decodes and transcribes the local file path (within dir, a temporary
// directory the caller removes), drawing on userID's transcription minutes, and with
// thumb takes a video's thumbnail. A file without audio gives its metadata and a warning.
func (p *Pipeline) hear(ctx context.Context, userID int64, path, dir string, o TranscribeChoices,
	name, ctype string, thumb bool) (*heard, error) {
	if p.Transcriber == nil || p.AV == nil {
		return nil, Detailf(ErrUnsupported, "audio and video transcription is not available on this server")
	}
	if err := o.Check(); err != nil {
		return nil, err
	}
	info, err := p.AV.Probe(ctx, path)
	if err != nil {
		return nil, err
	}
	h := &heard{meta: avMetadata(info)}
	if info.Duration > 0 && o.Start >= info.Duration {
		return nil, Detailf(ErrInvalid, "start_time (%s) is past the end of the recording (%s)", o.Start, info.Duration)
	}
	if thumb && info.HasVideo {
		at := time.Second
		if info.Duration > 0 {
			at = info.Duration / 10
		}
		if h.thumb, err = p.AV.Thumbnail(ctx, path, at); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			h.thumb, h.warnings = nil, append(h.warnings, "no thumbnail: "+errorMessage(err))
		}
	}
	if !info.HasAudio {
		h.warnings = append(h.warnings, "the file has no audio stream: nothing to transcribe")
		return h, nil
	}
	// The window's minutes are reserved before decoding when the probe knows them (an
	// exhausted budget fails before any work), else from the decoded audio; what is
	// committed is the decoded length. Any failure before the commit releases them.
	var res quota.Reservation
	committed := false
	defer func() {
		if committed {
			return
		}
		if err := p.AudioBudget.Release(context.WithoutCancel(ctx), res); err != nil {
			p.log().ErrorContext(ctx, "media: release transcription budget", "user", userID, "error", err)
		}
	}()
	window := decodeWindow(info.Duration, o)
	if window > 0 {
		if res, err = p.AudioBudget.Reserve(ctx, userID, window); err != nil {
			return nil, err
		}
	}
	wav := filepath.Join(dir, "audio.wav")
	if err := p.AV.Decode(ctx, path, wav, DecodeOptions{Start: o.Start, End: o.End}); err != nil {
		return nil, err
	}
	dur, err := wavDuration(wav)
	if err != nil {
		return nil, err
	}
	if window <= 0 {
		if res, err = p.AudioBudget.Reserve(ctx, userID, dur); err != nil {
			return nil, err
		}
	}
	tr, err := p.Transcriber.Transcribe(ctx, Audio{Path: wav, Duration: dur}, TranscribeOptions{Name: name,
		ContentType: ctype, Model: o.Model, Language: o.Language, Diarize: o.Diarize})
	if err != nil {
		return nil, err
	}
	committed = true
	if err := p.AudioBudget.Commit(context.WithoutCancel(ctx), res, dur); err != nil {
		return nil, err
	}
	h.warnings = append(h.warnings, tr.Warnings...)
	h.model, h.language, h.text = firstOf(tr.Model, o.Model, "default"), firstOf(tr.Language, o.Language), tr.Text
	segs := tr.Segments
	if o.VAD && len(segs) > 0 {
		sil, err := p.AV.Silences(ctx, wav, SilenceOptions{MinDuration: vadMinSilence})
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			h.warnings = append(h.warnings, "vad_use: silence detection failed: "+errorMessage(err))
		default:
			if kept := DropSilent(segs, sil); len(kept) < len(segs) {
				segs, h.text = kept, SegmentText(kept)
			}
		}
	}
	if h.text == "" {
		h.text = SegmentText(segs)
	}
	if o.Diarize && !hasSpeakers(segs) {
		h.warnings = append(h.warnings, "diarization is not available with "+h.model)
	}
	if !o.NoTimestamps {
		h.segments = ShiftSegments(segs, o.Start)
	}
	if h.language != "" {
		h.meta["language"] = h.language
	}
	h.meta[MetaTranscriptionModel] = h.model
	return h, nil
}

// decodeWindow is the length of o's window of a recording of duration d (0 when d is
// unknown).
func decodeWindow(d time.Duration, o TranscribeChoices) time.Duration {
	if d <= 0 {
		return 0
	}
	end := d
	if o.End > 0 && o.End < end {
		end = o.End
	}
	return max(end-o.Start, 0)
}

// avMetadata is the content metadata of a probe: duration_seconds, format, codecs, size.
func avMetadata(info *AVInfo) map[string]string {
	md := map[string]string{}
	if info.Duration > 0 {
		md["duration_seconds"] = strconv.FormatFloat(info.Duration.Seconds(), 'f', 3, 64)
	}
	if info.Format != "" {
		md["format"] = info.Format
	}
	if t := info.Tags["title"]; t != "" {
		md["title"] = t
	}
	for _, s := range info.Streams {
		switch s.Type {
		case "audio":
			if _, ok := md["audio_codec"]; !ok {
				md["audio_codec"] = s.Codec
				if s.SampleRate > 0 {
					md["sample_rate"] = strconv.Itoa(s.SampleRate)
				}
				if s.Channels > 0 {
					md["channels"] = strconv.Itoa(s.Channels)
				}
			}
		case "video":
			if _, ok := md["video_codec"]; !ok {
				md["video_codec"] = s.Codec
				if s.Width > 0 && s.Height > 0 {
					md["width"], md["height"] = strconv.Itoa(s.Width), strconv.Itoa(s.Height)
				}
			}
		}
	}
	return md
}

// wavDuration is the length of the audio in a WAV file AV.Decode wrote (SampleRate Hz mono
// s16le), from its size.
func wavDuration(path string) (time.Duration, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("media: decoded audio: %w", err)
	}
	samples := max(0, fi.Size()-44) / 2
	return time.Duration(samples) * time.Second / SampleRate, nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func hasSpeakers(segs []Segment) bool {
	for _, s := range segs {
		if s.Speaker != "" {
			return true
		}
	}
	return false
}

// ShiftSegments returns segs with every time moved by offset (a piece's segments re-timed
// to the whole recording, or a cut recording's to the original). segs is not modified.
func ShiftSegments(segs []Segment, offset time.Duration) []Segment {
	if segs == nil {
		return nil
	}
	out := make([]Segment, len(segs))
	for i, s := range segs {
		s.Start, s.End = s.Start+offset, s.End+offset
		out[i] = s
	}
	return out
}

// DropSilent returns the segments that do not lie wholly inside one of the silences (what
// vad_use does: a transcriber's words in silence are noise or hallucination). Both lists
// are in time order.
func DropSilent(segs []Segment, silences []Interval) []Segment {
	out := make([]Segment, 0, len(segs))
	j := 0
	for _, s := range segs {
		for j < len(silences) && silences[j].End < s.End {
			j++
		}
		if j < len(silences) && silences[j].Start <= s.Start && s.End <= silences[j].End {
			continue
		}
		out = append(out, s)
	}
	return out
}

// SegmentText joins the segments' texts with spaces.
func SegmentText(segs []Segment) string {
	var b strings.Builder
	for _, s := range segs {
		t := strings.TrimSpace(s.Text)
		if t == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t)
	}
	return b.String()
}

// TimeChunks sets the StartTime and EndTime of chunks of text from the segments whose text
// the chunk overlaps: each segment's text is found in text in order (a segment not found
// is skipped), and a chunk spans from its first such segment's start to its last one's end
// (in whole milliseconds). Chunks overlapping no segment keep nil times.
func TimeChunks(text string, segs []Segment, chunks []Chunk) {
	if len(segs) == 0 {
		return
	}
	type span struct {
		start, end int
		seg        Segment
	}
	var spans []span
	cursor := 0
	for _, s := range segs {
		t := strings.TrimSpace(s.Text)
		if t == "" {
			continue
		}
		i := strings.Index(text[cursor:], t)
		if i < 0 {
			continue
		}
		spans = append(spans, span{cursor + i, cursor + i + len(t), s})
		cursor += i + len(t)
	}
	first := 0
	for k := range chunks {
		c := &chunks[k]
		for first < len(spans) && spans[first].end <= c.Start {
			first++ // chunk starts never decrease
		}
		var from, to time.Duration
		found := false
		for _, sp := range spans[first:] {
			if sp.start >= c.End {
				break
			}
			if !found || sp.seg.Start < from {
				from = sp.seg.Start
			}
			if !found || sp.seg.End > to {
				to = sp.seg.End
			}
			found = true
		}
		if found {
			from, to = from.Round(time.Millisecond), to.Round(time.Millisecond)
			c.StartTime, c.EndTime = &from, &to
		}
	}
}

// transcribe is the transcribe stage: the original is copied to a temporary directory,
// heard, and its text, segments, transcript and thumbnail stored.
func (p *Pipeline) transcribe(ctx context.Context, r *run) ([]string, string, error) {
	if p.Transcriber == nil || p.AV == nil {
		return nil, "", Detailf(ErrUnsupported, "audio and video transcription is not available on this server")
	}
	dir, err := os.MkdirTemp(p.TempDir, TempPrefix)
	if err != nil {
		return nil, "", fmt.Errorf("media: temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	orig := filepath.Join(dir, "original")
	if err := p.copyOriginal(ctx, r, orig); err != nil {
		return nil, "", err
	}
	h, err := p.hear(ctx, r.it.UserID, orig, dir, r.o.Transcribe, r.it.Filename, r.it.ContentType, true)
	if err != nil {
		return nil, "", err
	}
	if err := p.storeHeard(ctx, r, h); err != nil {
		return nil, "", err
	}
	return h.warnings, "", nil
}

// storeHeard stores what was heard: the content (text, metadata, segments), the transcript
// of its model and the thumbnail, charged together to the owner's storage quota (reserve,
// then write and commit in one step; nothing is written when they do not fit).
func (p *Pipeline) storeHeard(ctx context.Context, r *run, h *heard) error {
	c := &Content{ItemID: r.it.ID, UserID: r.it.UserID, Text: h.text, WordCount: WordCount(h.text),
		Metadata: h.meta, Segments: h.segments, UpdatedAt: p.now()}
	if h.thumb != nil {
		c.Metadata[MetaThumbnailBytes] = strconv.Itoa(len(h.thumb))
	}
	var tr *StoredTranscript
	if h.model != "" {
		tr = &StoredTranscript{ItemID: r.it.ID, UserID: r.it.UserID, Model: h.model, Language: h.language,
			Text: h.text, Segments: h.segments, CreatedAt: p.now()}
	}
	var (
		old       *Content
		oldChunks []Chunk
		oldTr     int64
		err       error
	)
	if p.Ledger != nil {
		if old, err = p.Processing.Content(ctx, r.it.UserID, r.it.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if oldChunks, err = p.Processing.Chunks(ctx, r.it.UserID, r.it.ID, 0, -1); err != nil {
			return err
		}
		if tr != nil {
			trs, err := p.Processing.Transcripts(ctx, r.it.UserID, r.it.ID)
			if err != nil {
				return err
			}
			for _, t := range trs {
				if t.Model == tr.Model {
					oldTr = transcriptBytes(&t)
				}
			}
		}
	}
	extra := max(0, p.estimateChunkBytes(r.o, int64(len(c.Text)))-chunkBytes(oldChunks))
	key := ThumbnailKey(r.it.BlobKey)
	err = p.charge(ctx, r.it, contentBytes(old)+oldTr, contentBytes(c)+transcriptBytes(tr), extra, func(ctx context.Context) error {
		if h.thumb != nil {
			if _, err := p.Blobs.Put(ctx, key, bytes.NewReader(h.thumb), storage.PutOptions{ContentType: "image/jpeg"}); err != nil {
				return fmt.Errorf("media: store thumbnail: %w", err)
			}
		} else if err := p.Blobs.Delete(ctx, key); err != nil {
			return fmt.Errorf("media: delete old thumbnail: %w", err)
		}
		err := p.Processing.SetContent(ctx, c)
		if err == nil && tr != nil {
			err = p.Processing.SetTranscript(ctx, tr)
		}
		if err != nil && h.thumb != nil {
			if derr := p.Blobs.Delete(context.WithoutCancel(ctx), key); derr != nil {
				p.log().ErrorContext(ctx, "media: delete thumbnail", "key", key, "error", derr)
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	r.content = c
	return nil
}
