package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/mediatest"
	"github.com/tldw-go/tldw/quota"
)

// testAV is a media.AV for the HTTP tests: a 20 s video with sound (or without, with
// silent), decoded as silence of the window's length; it records the decode windows.
type testAV struct {
	mu      sync.Mutex
	silent  bool
	windows []media.DecodeOptions
}

func (a *testAV) Probe(context.Context, string) (*media.AVInfo, error) {
	return &media.AVInfo{Duration: 20 * time.Second, Format: "mov,mp4,m4a,3gp,3g2,mj2", HasAudio: !a.silent, HasVideo: true,
		Streams: []media.AVStream{{Type: "video", Codec: "h264", Width: 64, Height: 48}}}, nil
}

func (a *testAV) Decode(_ context.Context, _, dst string, o media.DecodeOptions) error {
	a.mu.Lock()
	a.windows = append(a.windows, o)
	a.mu.Unlock()
	end := 20 * time.Second
	if o.End > 0 && o.End < end {
		end = o.End
	}
	return media.WriteWAVFile(dst, make(media.PCM, int((end-o.Start)*media.SampleRate/time.Second)))
}

func (a *testAV) Thumbnail(context.Context, string, time.Duration) ([]byte, error) {
	return []byte(testJPEG), nil
}

func (a *testAV) Silences(context.Context, string, media.SilenceOptions) ([]media.Interval, error) {
	return []media.Interval{{Start: 3 * time.Second, End: 6 * time.Second}}, nil
}

const testJPEG = "\xff\xd8\xff\xe0 a tiny jpeg \xff\xd9"

// newAVServer is a processing server whose pipeline transcribes with testAV and a fake
// transcriber hearing two segments (the second inside testAV's silence), with tldw's free
// audio tier (30 minutes a day).
func newAVServer(t *testing.T) (*mediaServer, *testAV, *media.Pipeline) {
	t.Helper()
	ms, _, _ := newProcessingServer(t, false)
	av := &testAV{}
	p := ms.Media.Pipeline
	p.AV, p.TempDir = av, t.TempDir()
	p.AudioBudget = &media.AudioBudget{Ledger: ms.Ledger, Audit: ms.Audit, Now: ms.Clock.Now}
	p.Transcriber = mediatest.TranscriberFunc(func(_ context.Context, a media.Audio, o media.TranscribeOptions) (*media.Transcript, error) {
		return &media.Transcript{Text: "Hello there. Bye now.", Language: "en", Model: "fake-" + o.Model,
			Segments: []media.Segment{{Start: 0, End: 2 * time.Second, Text: "Hello there."},
				{Start: 4 * time.Second, End: 5 * time.Second, Text: "Bye now."}}}, nil
	})
	return ms, av, p
}

type avResult struct {
	processedResult
	Transcript *string       `json:"transcript"`
	Segments   []segmentJSON `json:"segments"`
	ErrorCode  string        `json:"error_code"`
}

func decodeAV(t *testing.T, body []byte) []avResult {
	t.Helper()
	var res struct {
		Results []avResult `json:"results"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("decode: %v\n%s", err, body)
	}
	return res.Results
}

// TestMediaAddVideoTranscript: the audio/video form fields reach the transcriber and the
// decoder; the item's detail carries the segments (absolute times), the model and the
// duration; the thumbnail is served to its owner only.
func TestMediaAddVideoTranscript(t *testing.T) {
	ms, av, _ := newAVServer(t)
	rec := ms.add(t, callerUser, formFile("files", "talk.mp4", "not an mp4"), formField("media_type", "video"),
		formField("start_time", "00:00:05"), formField("end_time", "0:15"), formField("transcription_model", "tiny.en"),
		formField("transcription_language", "en"), formField("vad_use", "true"), formField("diarize", "true"),
		formField("timestamp_option", "true"), formField("chunk_method", "sentences"), formField("chunk_size", "1"),
		formField("chunk_overlap", "0"))
	if rec.Code != http.StatusOK {
		t.Fatalf("add = %d\n%s", rec.Code, rec.Body)
	}
	r0 := decodeAV(t, rec.Body.Bytes())[0]
	if r0.Status != "Success" || r0.Transcript == nil || *r0.Transcript != "Hello there." || r0.Chunks != 1 ||
		len(r0.Segments) != 1 || r0.Segments[0].StartSeconds != 5 || r0.Segments[0].EndSeconds != 7 {
		t.Fatalf("result = %s", rec.Body)
	}
	if !slices.Contains(r0.Warnings, "diarization is not available with fake-tiny.en") ||
		slices.ContainsFunc(r0.Warnings, func(w string) bool { return strings.HasPrefix(w, "Not applied") }) {
		t.Errorf("warnings = %q", r0.Warnings)
	}
	if want := []media.DecodeOptions{{Start: 5 * time.Second, End: 15 * time.Second}}; !slices.Equal(av.windows, want) {
		t.Errorf("decode windows = %+v, want %+v", av.windows, want)
	}
	path := fmt.Sprintf("/api/v1/media/%d", *r0.DBID)
	rec = ms.call(t, callerUser, http.MethodGet, path, "", nil)
	var got struct {
		Source     struct{ Duration *float64 }       `json:"source"`
		Processing struct{ Model *string }           `json:"processing"`
		Content    struct{ Metadata map[string]any } `json:"content"`
		Segments   []segmentJSON                     `json:"segments"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("get = %d %v\n%s", rec.Code, err, rec.Body)
	}
	if got.Source.Duration == nil || *got.Source.Duration != 20 || got.Processing.Model == nil ||
		*got.Processing.Model != "fake-tiny.en" || len(got.Segments) != 1 || got.Segments[0].Text != "Hello there." ||
		got.Content.Metadata["video_codec"] != "h264" {
		t.Errorf("get = %s", rec.Body)
	}
	rec = ms.call(t, callerUser, http.MethodGet, path+"/thumbnail", "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "image/jpeg" || rec.Body.String() != testJPEG {
		t.Errorf("thumbnail = %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	if rec := ms.call(t, callerModerator, http.MethodGet, path+"/thumbnail", "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("another user's thumbnail = %d", rec.Code)
	}
	// A document has no thumbnail.
	rec = ms.add(t, callerUser, formFile("files", "notes.txt", words300), formField("media_type", "document"))
	doc := decodeAV(t, rec.Body.Bytes())[0]
	if rec := ms.call(t, callerUser, http.MethodGet, fmt.Sprintf("/api/v1/media/%d/thumbnail", *doc.DBID), "", nil); rec.Code != http.StatusNotFound {
		t.Errorf("a document's thumbnail = %d", rec.Code)
	}
	// timestamp_option=false keeps the text only.
	rec = ms.add(t, callerUser, formFile("files", "talk2.mp4", "another not-mp4"), formField("media_type", "video"),
		formField("timestamp_option", "false"))
	r1 := decodeAV(t, rec.Body.Bytes())[0]
	if r1.Transcript == nil || *r1.Transcript != "Hello there. Bye now." || len(r1.Segments) != 0 {
		t.Errorf("timestamp_option=false result = %s", rec.Body)
	}
	rec = ms.call(t, callerUser, http.MethodGet, fmt.Sprintf("/api/v1/media/%d", *r1.DBID), "", nil)
	if m := decodeJSON(t, rec); len(m["segments"].([]any)) != 0 {
		t.Errorf("timestamp_option=false detail = %s", rec.Body)
	}
}

// TestMediaAddTranscriptionFieldsInvalid: bad times, languages and models are a 422 naming
// the field, before anything is stored.
func TestMediaAddTranscriptionFieldsInvalid(t *testing.T) {
	ms, _, _ := newAVServer(t)
	for _, tc := range []struct{ field, value string }{
		{"start_time", "five"}, {"end_time", "1:75"}, {"start_time", "-3"},
		{"transcription_language", "english please"}, {"transcription_model", "../../etc"},
		{"vad_use", "perhaps"}, {"timestamp_option", "sometimes"},
	} {
		rec := ms.add(t, callerUser, formFile("files", "talk.mp4", "x"), formField("media_type", "video"), formField(tc.field, tc.value))
		if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), tc.field) {
			t.Errorf("%s=%q: %d %s", tc.field, tc.value, rec.Code, rec.Body)
		}
	}
	rec := ms.add(t, callerUser, formFile("files", "talk.mp4", "x"), formField("media_type", "video"),
		formField("start_time", "30"), formField("end_time", "10"))
	if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), "end_time") {
		t.Errorf("end before start: %d %s", rec.Code, rec.Body)
	}
	ms.wantEmpty(t, callerUser)
}

// TestMediaProcessVideosAudios: process-videos and process-audios transcribe and chunk each
// file, store nothing, leave no temporary file, and draw on the transcription minutes; past
// them an item is an error with the budget's code.
func TestMediaProcessVideosAudios(t *testing.T) {
	ms, av, p := newAVServer(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, name := range []string{"process-videos", "process-audios"} {
		body, ct := multipartForm(t, formFile("files", "talk.mp4", "pretend mp4"), formField("end_time", "10"),
			formField("vad_use", "false"), formField("chunk_method", "sentences"), formField("chunk_size", "1"),
			formField("chunk_overlap", "0"))
		rec := ms.call(t, callerUser, http.MethodPost, "/api/v1/media/"+name, body, map[string]string{"Content-Type": ct})
		if rec.Code != http.StatusOK {
			t.Fatalf("%s = %d\n%s", name, rec.Code, rec.Body)
		}
		res := decodeAV(t, rec.Body.Bytes())
		if len(res) != 1 || res[0].Status != "Success" || res[0].Transcript == nil || *res[0].Transcript != "Hello there. Bye now." ||
			res[0].Chunks != 2 || len(res[0].Segments) != 2 || res[0].Segments[1].StartSeconds != 4 || res[0].DBID != nil {
			t.Errorf("%s results = %s", name, rec.Body)
		}
	}
	if len(av.windows) != 2 || av.windows[0].End != 10*time.Second {
		t.Errorf("decode windows = %+v", av.windows)
	}
	ms.wantEmpty(t, callerUser)
	for _, dir := range []string{tmp, p.TempDir} {
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("temporary files left in %s: %v", dir, left)
		}
	}
	left, err := p.AudioBudget.Remaining(context.Background(), 1)
	if err != nil || left != 30*time.Minute-20*time.Second {
		t.Errorf("minutes left = %v, %v; want 29m40s", left, err)
	}
	// A tier without minutes: the item is an error with the budget's code, audited.
	p.AudioBudget.Tiers = map[string]media.AudioTier{media.TierFree: {MinutesPerDay: 0, Streams: 1}}
	body, ct := multipartForm(t, formFile("files", "talk.wav", "pretend wav"))
	rec := ms.call(t, callerUser, http.MethodPost, "/api/v1/media/process-audios", body, map[string]string{"Content-Type": ct})
	res := decodeAV(t, rec.Body.Bytes())
	if rec.Code != http.StatusMultiStatus || len(res) != 1 || res[0].Status != "Error" || res[0].ErrorCode != media.CodeTranscriptionMinutes {
		t.Errorf("over the budget = %d %s", rec.Code, rec.Body)
	}
	if u, _ := ms.Ledger.Usage(context.Background(), "1"); slices.ContainsFunc(u, func(u quota.Usage) bool { return u.Reserved != 0 }) {
		t.Errorf("reservations left: %+v", u)
	}
	// Without a transcriber the routes say so per item.
	p.Transcriber = nil
	body, ct = multipartForm(t, formFile("files", "talk.wav", "pretend wav"))
	rec = ms.call(t, callerUser, http.MethodPost, "/api/v1/media/process-videos", body, map[string]string{"Content-Type": ct})
	if res := decodeAV(t, rec.Body.Bytes()); rec.Code != http.StatusMultiStatus || res[0].Status != "Error" ||
		!strings.Contains(*res[0].Error, "transcription is not available") {
		t.Errorf("no transcriber = %d %s", rec.Code, rec.Body)
	}
}
