package media_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tldw-go/tldw/audit/audittest"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/quota"
	"github.com/tldw-go/tldw/quota/quotatest"
	"github.com/tldw-go/tldw/storage"
)

// fakeAV is an AV for tests: Probe answers info, Decode writes a silent WAV as long as the
// window it is asked for, Thumbnail returns thumb, Silences returns silences; it records
// what it was asked.
type fakeAV struct {
	info     media.AVInfo
	thumb    []byte
	silences []media.Interval

	mu       sync.Mutex
	decoded  []media.DecodeOptions
	thumbAt  []time.Duration
	silenced int
}

func (a *fakeAV) Probe(context.Context, string) (*media.AVInfo, error) {
	info := a.info
	return &info, nil
}

func (a *fakeAV) Decode(_ context.Context, _, dst string, o media.DecodeOptions) error {
	a.mu.Lock()
	a.decoded = append(a.decoded, o)
	a.mu.Unlock()
	end := a.info.Duration
	if o.End > 0 && o.End < end {
		end = o.End
	}
	return media.WriteWAVFile(dst, make(media.PCM, int((end-o.Start)*media.SampleRate/time.Second)))
}

func (a *fakeAV) Thumbnail(_ context.Context, _ string, at time.Duration) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.thumbAt = append(a.thumbAt, at)
	if a.thumb == nil {
		return nil, fmt.Errorf("%w: no frame", media.ErrInvalid)
	}
	return a.thumb, nil
}

func (a *fakeAV) Silences(context.Context, string, media.SilenceOptions) ([]media.Interval, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.silenced++
	return a.silences, nil
}

var talkVideo = media.AVInfo{Duration: 20 * time.Second, Format: "mov,mp4,m4a,3gp,3g2,mj2", HasAudio: true, HasVideo: true,
	Streams: []media.AVStream{{Index: 0, Type: "video", Codec: "h264", Width: 320, Height: 240},
		{Index: 1, Type: "audio", Codec: "aac", SampleRate: 44100, Channels: 2}}}

// talkSegments is what the fake transcriber hears, timed from the decoded window's start.
var talkSegments = []media.Segment{
	{Start: 0, End: 2 * time.Second, Text: " Hello and welcome."},
	{Start: 2 * time.Second, End: 4 * time.Second, Text: " This is a talk."},
	{Start: 5 * time.Second, End: 6 * time.Second, Text: " um"}, // inside a silence
	{Start: 7 * time.Second, End: 10 * time.Second, Text: " Thank you all."},
}

// avFixture is a pipeline fixture for a video with a fake AV, a fake transcriber, a storage
// ledger and an audio budget.
type avFixture struct {
	*pipelineFixture
	av     *fakeAV
	ledger *quotatest.MemLedger
	audit  *audittest.Memory
	heard  atomic.Int32
	opts   []media.TranscribeOptions
	audio  []media.Audio
	fail   error
}

const videoBody = "not really an mp4 but 38 bytes long.."

func newAVFixture(t *testing.T, info media.AVInfo, minutes int64) *avFixture {
	t.Helper()
	f := &avFixture{pipelineFixture: newPipeline(t, "talk.mp4", "video/mp4", media.TypeVideo, videoBody),
		av: &fakeAV{info: info, thumb: []byte("\xff\xd8 a jpeg \xff\xd9")}, ledger: quotatest.NewMemory(),
		audit: &audittest.Memory{}}
	ctx := context.Background()
	// The original is charged at upload, as media.Service.Upload does.
	if err := f.ledger.Add(ctx, "1", quota.ResourceStorage, int64(len(videoBody))); err != nil {
		t.Fatal(err)
	}
	f.p.AV, f.p.Ledger, f.p.TempDir = f.av, f.ledger, t.TempDir()
	f.p.AudioBudget = &media.AudioBudget{Ledger: f.ledger, Audit: f.audit,
		Tiers: map[string]media.AudioTier{media.TierFree: {MinutesPerDay: minutes, Streams: 1}}}
	var mu sync.Mutex
	f.p.Transcriber = mediatest.TranscriberFunc(func(_ context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error) {
		f.heard.Add(1)
		mu.Lock()
		f.opts, f.audio = append(f.opts, o), append(f.audio, a)
		mu.Unlock()
		if _, err := os.Stat(a.Path); err != nil {
			return nil, err
		}
		if f.fail != nil {
			return nil, f.fail
		}
		return &media.Transcript{Text: media.SegmentText(talkSegments), Language: "en", Model: "fake-tiny",
			Segments: talkSegments}, nil
	})
	return f
}

func (f *avFixture) used(t *testing.T, r quota.Resource) quota.Usage {
	t.Helper()
	us, err := f.ledger.Usage(context.Background(), "1")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range us {
		if u.Resource == r || strings.HasPrefix(string(u.Resource), string(r)+"@") {
			return u
		}
	}
	return quota.Usage{Resource: r}
}

func TestPipelineVideoTranscript(t *testing.T) {
	ctx := context.Background()
	f := newAVFixture(t, talkVideo, 30)
	o := media.ProcessOptions{Chunk: media.ChunkOptions{Method: media.ChunkSentences, Size: 1, Overlap: 0}}
	o.Transcribe = media.TranscribeChoices{Model: "tiny", Language: "en", Diarize: true, VAD: true,
		Start: 5 * time.Second, End: 15 * time.Second}
	// The fake transcriber's "um" (5-6 s into the window) is inside this silence.
	f.av.silences = []media.Interval{{Start: 4500 * time.Millisecond, End: 6800 * time.Millisecond}}
	if err := f.run(o, 1, false); err != nil {
		t.Fatal(err)
	}
	pr := f.state(t)
	if pr.Status != media.StatusProcessed {
		t.Fatalf("processing = %+v", pr)
	}
	if want := []media.DecodeOptions{{Start: 5 * time.Second, End: 15 * time.Second}}; !reflect.DeepEqual(f.av.decoded, want) {
		t.Errorf("decoded %+v, want %+v", f.av.decoded, want)
	}
	if len(f.audio) != 1 || f.audio[0].Duration != 10*time.Second || f.opts[0].Model != "tiny" ||
		f.opts[0].Language != "en" || !f.opts[0].Diarize || f.opts[0].Name != "talk.mp4" {
		t.Errorf("transcriber heard %+v with %+v", f.audio, f.opts)
	}
	if w := pr.Stage(media.StageTranscribe).Warnings; !reflect.DeepEqual(w, []string{"diarization is not available with fake-tiny"}) {
		t.Errorf("transcribe warnings = %q", w)
	}
	c, err := f.proc.Content(ctx, 1, f.it.ID)
	if err != nil {
		t.Fatal(err)
	}
	const text = "Hello and welcome. This is a talk. Thank you all."
	wantSegs := []media.Segment{{Start: 5 * time.Second, End: 7 * time.Second, Text: " Hello and welcome."},
		{Start: 7 * time.Second, End: 9 * time.Second, Text: " This is a talk."},
		{Start: 12 * time.Second, End: 15 * time.Second, Text: " Thank you all."}}
	if c.Text != text || !reflect.DeepEqual(c.Segments, wantSegs) {
		t.Errorf("content text %q segments %+v", c.Text, c.Segments)
	}
	wantMeta := map[string]string{"duration_seconds": "20.000", "format": "mov,mp4,m4a,3gp,3g2,mj2", "video_codec": "h264",
		"width": "320", "height": "240", "audio_codec": "aac", "sample_rate": "44100", "channels": "2", "language": "en",
		media.MetaTranscriptionModel: "fake-tiny", media.MetaThumbnailBytes: fmt.Sprint(len(f.av.thumb))}
	if !reflect.DeepEqual(c.Metadata, wantMeta) {
		t.Errorf("metadata = %v\nwant %v", c.Metadata, wantMeta)
	}
	trs, err := f.proc.Transcripts(ctx, 1, f.it.ID)
	if err != nil || len(trs) != 1 || trs[0].Model != "fake-tiny" || trs[0].Text != text ||
		trs[0].Language != "en" || !reflect.DeepEqual(trs[0].Segments, wantSegs) {
		t.Errorf("transcripts = %+v, %v", trs, err)
	}
	// Thumbnail at 10 % of the duration, stored next to the original.
	if !reflect.DeepEqual(f.av.thumbAt, []time.Duration{2 * time.Second}) {
		t.Errorf("thumbnail taken at %v, want 2s", f.av.thumbAt)
	}
	rc, _, err := f.p.Blobs.Get(ctx, media.ThumbnailKey(f.it.BlobKey))
	if err != nil {
		t.Fatal(err)
	}
	thumb, _ := io.ReadAll(rc)
	rc.Close()
	if string(thumb) != string(f.av.thumb) {
		t.Errorf("thumbnail = %q", thumb)
	}
	// One chunk per sentence, each timed by the segment it covers.
	chunks, _ := f.proc.Chunks(ctx, 1, f.it.ID, 0, -1)
	wantTimes := [][2]time.Duration{{5 * time.Second, 7 * time.Second}, {7 * time.Second, 9 * time.Second},
		{12 * time.Second, 15 * time.Second}}
	if len(chunks) != 3 {
		t.Fatalf("chunks = %+v", chunks)
	}
	for i, ch := range chunks {
		if ch.StartTime == nil || ch.EndTime == nil || *ch.StartTime != wantTimes[i][0] || *ch.EndTime != wantTimes[i][1] {
			t.Errorf("chunk %d %q times %v-%v, want %v", i, ch.Text, ch.StartTime, ch.EndTime, wantTimes[i])
		}
	}
	// Storage: the original, the text, the thumbnail, the transcript and the chunks.
	want := int64(len(videoBody) + len(text) + len(f.av.thumb) + len(text) + len(text) - 2)
	if u := f.used(t, quota.ResourceStorage); u.Used != want || u.Reserved != 0 {
		t.Errorf("storage usage = %+v, want %d used", u, want)
	}
	// Ten seconds of transcription minutes.
	if u := f.used(t, quota.ResourceTranscriptionSeconds); u.Used != 10 || u.Reserved != 0 {
		t.Errorf("transcription usage = %+v, want 10 s", u)
	}
}

func TestPipelineNoTimestamps(t *testing.T) {
	ctx := context.Background()
	f := newAVFixture(t, talkVideo, 30)
	o := media.ProcessOptions{}
	o.Transcribe.NoTimestamps = true
	if err := f.run(o, 1, false); err != nil {
		t.Fatal(err)
	}
	c, _ := f.proc.Content(ctx, 1, f.it.ID)
	trs, _ := f.proc.Transcripts(ctx, 1, f.it.ID)
	chunks, _ := f.proc.Chunks(ctx, 1, f.it.ID, 0, -1)
	if c.Text == "" || c.Segments != nil || len(trs) != 1 || trs[0].Segments != nil || len(chunks) != 1 || chunks[0].StartTime != nil {
		t.Errorf("timestamp_option=false: content %+v, transcripts %+v, chunks %+v", c, trs, chunks)
	}
}

func TestPipelineVideoWithoutAudio(t *testing.T) {
	ctx := context.Background()
	info := talkVideo
	info.HasAudio, info.Streams = false, info.Streams[:1]
	f := newAVFixture(t, info, 30)
	if err := f.run(media.ProcessOptions{}, 1, false); err != nil {
		t.Fatal(err)
	}
	pr := f.state(t)
	if pr.Status != media.StatusProcessed || f.heard.Load() != 0 || len(f.av.decoded) != 0 {
		t.Fatalf("processing = %+v, transcriber calls %d", pr, f.heard.Load())
	}
	if w := pr.Stage(media.StageTranscribe).Warnings; len(w) != 1 || !strings.Contains(w[0], "no audio stream") {
		t.Errorf("warnings = %q", w)
	}
	c, err := f.proc.Content(ctx, 1, f.it.ID)
	if err != nil || c.Text != "" || c.Metadata["video_codec"] != "h264" || c.Metadata["duration_seconds"] != "20.000" ||
		c.Metadata[media.MetaThumbnailBytes] == "" {
		t.Errorf("content = %+v, %v", c, err)
	}
	if trs, _ := f.proc.Transcripts(ctx, 1, f.it.ID); len(trs) != 0 {
		t.Errorf("transcripts = %+v, want none", trs)
	}
	if u := f.used(t, quota.ResourceTranscriptionSeconds); u.Used != 0 {
		t.Errorf("transcription usage = %+v, want none", u)
	}
}

// TestPipelineAudioBudgetExhausted: a 20 s video with 10 s of minutes left fails cleanly:
// nothing transcribed, nothing stored, nothing charged but the original.
func TestPipelineAudioBudgetExhausted(t *testing.T) {
	ctx := context.Background()
	f := newAVFixture(t, talkVideo, 1)
	// 50 of the day's 60 seconds are used already.
	day := quota.Budget{Resource: quota.ResourceTranscriptionSeconds}.Day(time.Now())
	if err := f.ledger.Add(ctx, "1", day, 50); err != nil {
		t.Fatal(err)
	}
	err := f.run(media.ProcessOptions{}, 1, false)
	var be *media.BudgetError
	if !errors.As(err, &be) || be.Code != media.CodeTranscriptionMinutes || !media.Permanent(err) {
		t.Fatalf("Handle = %v, want a permanent BudgetError %s", err, media.CodeTranscriptionMinutes)
	}
	pr := f.state(t)
	if pr.Status != media.StatusFailed || !strings.Contains(pr.Error, media.CodeTranscriptionMinutes) {
		t.Errorf("processing = %+v", pr)
	}
	if f.heard.Load() != 0 || len(f.av.decoded) != 0 {
		t.Errorf("the transcriber ran %d times, the decoder %d: want neither", f.heard.Load(), len(f.av.decoded))
	}
	if _, err := f.proc.Content(ctx, 1, f.it.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("content after the failure: %v, want none", err)
	}
	if chunks, _ := f.proc.Chunks(ctx, 1, f.it.ID, 0, -1); len(chunks) != 0 {
		t.Errorf("chunks after the failure: %d", len(chunks))
	}
	if trs, _ := f.proc.Transcripts(ctx, 1, f.it.ID); len(trs) != 0 {
		t.Errorf("transcripts after the failure: %d", len(trs))
	}
	if _, err := f.p.Blobs.Stat(ctx, media.ThumbnailKey(f.it.BlobKey)); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("thumbnail after the failure: %v", err)
	}
	if u := f.used(t, quota.ResourceStorage); u.Used != int64(len(videoBody)) || u.Reserved != 0 {
		t.Errorf("storage = %+v, want only the original's %d bytes", u, len(videoBody))
	}
	if u := f.used(t, quota.ResourceTranscriptionSeconds); u.Used != 50 || u.Reserved != 0 {
		t.Errorf("transcription usage = %+v, want 50 s and nothing reserved", u)
	}
	if ev := f.audit.Find("quota_exceeded"); len(ev) != 1 {
		t.Errorf("audit events = %v, want one quota_exceeded", f.audit.Actions())
	}
	left, err := f.p.AudioBudget.Remaining(ctx, 1)
	if err != nil || left != 10*time.Second {
		t.Errorf("Remaining = %v, %v; want 10s", left, err)
	}
	if entries, _ := os.ReadDir(f.p.TempDir); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestPipelineTranscriberFailureReleasesBudget(t *testing.T) {
	f := newAVFixture(t, talkVideo, 30)
	f.fail = errors.New("provider hiccup")
	if err := f.run(media.ProcessOptions{}, 1, false); err == nil || media.Permanent(err) {
		t.Fatalf("Handle = %v, want a transient error", err)
	}
	if u := f.used(t, quota.ResourceTranscriptionSeconds); u.Used != 0 || u.Reserved != 0 {
		t.Errorf("transcription usage after a failure = %+v, want nothing", u)
	}
	if u := f.used(t, quota.ResourceStorage); u.Used != int64(len(videoBody)) || u.Reserved != 0 {
		t.Errorf("storage after a failure = %+v", u)
	}
}

// TestPipelineThumbnailLifecycle: reprocessing without a frame drops the old thumbnail and
// its bytes; deleting the item removes the thumbnail it has and frees every derived byte.
func TestPipelineThumbnailLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newAVFixture(t, talkVideo, 30)
	svc := &media.Service{Store: f.store, Blobs: f.p.Blobs, Ledger: f.ledger, Processing: f.proc, Pipeline: f.p}
	a := media.Actor{UserID: 1}
	if err := f.run(media.ProcessOptions{}, 1, false); err != nil {
		t.Fatal(err)
	}
	rc, _, err := svc.Thumbnail(ctx, a, f.it.ID)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, _, err := svc.Thumbnail(ctx, media.Actor{UserID: 2}, f.it.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("another user's thumbnail: %v", err)
	}
	before := f.used(t, quota.ResourceStorage).Used
	f.av.thumb = nil // no frame this time
	if err := f.proc.Reset(ctx, 1, f.it.ID, "", f.it.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if err := f.run(media.ProcessOptions{}, 1, false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Thumbnail(ctx, a, f.it.ID); !errors.Is(err, media.ErrNotFound) {
		t.Errorf("thumbnail after reprocessing without one: %v", err)
	}
	if _, err := f.p.Blobs.Stat(ctx, media.ThumbnailKey(f.it.BlobKey)); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("old thumbnail blob: %v", err)
	}
	if got := f.used(t, quota.ResourceStorage).Used; got != before-int64(len("\xff\xd8 a jpeg \xff\xd9")) {
		t.Errorf("storage after dropping the thumbnail = %d, want %d", got, before-14)
	}
	if w := f.state(t).Stage(media.StageTranscribe).Warnings; len(w) == 0 || !strings.Contains(w[0], "no thumbnail") {
		t.Errorf("warnings = %q", w)
	}
	f.av.thumb = []byte("jpeg again")
	if err := f.proc.Reset(ctx, 1, f.it.ID, "", f.it.CreatedAt); err != nil {
		t.Fatal(err)
	}
	if err := f.run(media.ProcessOptions{}, 1, false); err != nil {
		t.Fatal(err)
	}
	// What was charged is what is stored: no drift, and the thumbnail is no orphan.
	d, err := svc.Reconcile(ctx, 1, false)
	if err != nil || d.Delta != 0 || d.Orphans != 0 || !d.Listed || d.Missing != 0 {
		t.Errorf("Reconcile = %+v, %v; want no drift and no orphan", d, err)
	}
	if err := svc.DeletePermanent(ctx, a, f.it.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.Blobs.Stat(ctx, media.ThumbnailKey(f.it.BlobKey)); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("thumbnail after delete: %v", err)
	}
	if u := f.used(t, quota.ResourceStorage); u.Used != 0 || u.Reserved != 0 {
		t.Errorf("storage after delete = %+v, want 0", u)
	}
}

func TestProcessEphemeralAudio(t *testing.T) {
	ctx := context.Background()
	f := newAVFixture(t, talkVideo, 30)
	svc := &media.Service{Store: f.store, Blobs: f.p.Blobs, Ledger: f.ledger, Processing: f.proc, Pipeline: f.p}
	in := media.Ephemeral{Actor: media.Actor{UserID: 1}, Filename: "talk.mp4", MediaType: media.TypeVideo, Size: 38,
		Process: media.ProcessOptions{Chunk: media.ChunkOptions{Method: media.ChunkSentences, Size: 2, Overlap: 0}},
		Open:    func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(videoBody)), nil }}
	in.Process.Transcribe.End = 8 * time.Second
	out, err := svc.ProcessEphemeral(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Text != media.SegmentText(talkSegments) || len(out.Segments) != 4 || out.Metadata["video_codec"] != "h264" ||
		len(out.Chunks) != 2 || *out.Chunks[1].StartTime != 5*time.Second || *out.Chunks[1].EndTime != 10*time.Second {
		t.Errorf("processed = %+v", out)
	}
	if len(f.av.thumbAt) != 0 {
		t.Error("an ephemeral video got a thumbnail")
	}
	if u := f.used(t, quota.ResourceTranscriptionSeconds); u.Used != 8 {
		t.Errorf("transcription usage = %+v, want 8 s", u)
	}
	if u := f.used(t, quota.ResourceStorage); u.Used != int64(len(videoBody)) {
		t.Errorf("storage = %+v: ephemeral processing stores nothing", u)
	}
	if entries, _ := os.ReadDir(f.p.TempDir); len(entries) != 0 {
		t.Errorf("temporary files left: %v", entries)
	}
	in.Process.Transcribe.Start = 30 * time.Second
	in.Process.Transcribe.End = 0
	if _, err := svc.ProcessEphemeral(ctx, in); !errors.Is(err, media.ErrInvalid) {
		t.Errorf("start past the end: %v, want ErrInvalid", err)
	}
	g := newPipeline(t, "x.txt", "text/plain", media.TypeDocument, "x")
	noAV := &media.Service{Store: g.store, Blobs: g.p.Blobs, Pipeline: g.p}
	if _, err := noAV.ProcessEphemeral(ctx, in); !errors.Is(err, media.ErrUnsupported) {
		t.Errorf("without a transcriber: %v, want ErrUnsupported", err)
	}
}

func TestParseClock(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90": 90 * time.Second, "12.25": 12250 * time.Millisecond, "01:30": 90 * time.Second, "1:02:03": time.Hour + 2*time.Minute + 3*time.Second,
		"00:00:01.5": 1500 * time.Millisecond, " 0 ": 0, "100:00": 100 * time.Minute,
	} {
		if got, err := media.ParseClock(in); err != nil || got != want {
			t.Errorf("ParseClock(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "-5", "1:60", "1:2:3:4", "1e3", "01:-3", "NaN", "inf", ":30", "1:30:"} {
		if _, err := media.ParseClock(in); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("ParseClock(%q) = %v, want ErrInvalid", in, err)
		}
	}
}

func TestTimeChunksAndSegmentHelpers(t *testing.T) {
	segs := []media.Segment{{Start: 0, End: time.Second, Text: "one two"}, {Start: time.Second, End: 2 * time.Second, Text: "three"},
		{Start: 3 * time.Second, End: 4 * time.Second, Text: "not in the text"}, {Start: 4 * time.Second, End: 5 * time.Second, Text: "four"}}
	text := "one two three four"
	chunks, err := media.TextChunker{}.Chunk(context.Background(), text, nil, media.ChunkOptions{Size: 2, Overlap: 1})
	if err != nil {
		t.Fatal(err)
	}
	media.TimeChunks(text, segs, chunks)
	want := [][2]time.Duration{{0, time.Second}, {0, 2 * time.Second}, {time.Second, 5 * time.Second}}
	for i, c := range chunks {
		if c.StartTime == nil || *c.StartTime != want[i][0] || *c.EndTime != want[i][1] {
			t.Errorf("chunk %d %q: %v-%v, want %v", i, c.Text, c.StartTime, c.EndTime, want[i])
		}
	}
	shifted := media.ShiftSegments(segs[:1], 90*time.Second)
	if shifted[0].Start != 90*time.Second || shifted[0].End != 91*time.Second || segs[0].Start != 0 {
		t.Errorf("ShiftSegments = %+v (original %+v)", shifted, segs[0])
	}
	kept := media.DropSilent(segs, []media.Interval{{Start: 900 * time.Millisecond, End: 2500 * time.Millisecond},
		{Start: 2500 * time.Millisecond, End: 4 * time.Second}})
	if len(kept) != 2 || kept[0].Text != "one two" || kept[1].Text != "four" {
		t.Errorf("DropSilent = %+v", kept)
	}
}
