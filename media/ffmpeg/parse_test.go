package ffmpeg

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

// talkJSON is ffprobe's output for an MP4 of H.264 video and AAC audio (cut to the fields
// parsed, plus a few that are not).
const talkJSON = `{
 "streams": [
  {"index": 0, "codec_name": "h264", "codec_type": "video", "width": 320, "height": 240, "duration": "5.000000",
   "disposition": {"default": 1, "attached_pic": 0}, "tags": {"language": "und"}},
  {"index": 1, "codec_name": "aac", "codec_type": "audio", "sample_rate": "22050", "channels": 1, "duration": "3.548980"}
 ],
 "format": {"filename": "talk.mp4", "nb_streams": 2, "format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "5.000000",
  "size": "54867", "tags": {"major_brand": "isom", "TITLE": "A talk"}}
}`

func TestParseProbe(t *testing.T) {
	p, err := parseProbe([]byte(talkJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := media.AVInfo{Duration: 5 * time.Second, Format: "mov,mp4,m4a,3gp,3g2,mj2", HasAudio: true, HasVideo: true,
		Streams: []media.AVStream{
			{Index: 0, Type: "video", Codec: "h264", Width: 320, Height: 240},
			{Index: 1, Type: "audio", Codec: "aac", SampleRate: 22050, Channels: 1}},
		Tags: map[string]string{"major_brand": "isom", "title": "A talk"}}
	if !equalInfo(p.AVInfo, want) || p.videoDuration != 5*time.Second {
		t.Errorf("got %+v (video %v)\nwant %+v", p.AVInfo, p.videoDuration, want)
	}
}

func TestParseProbeCases(t *testing.T) {
	for _, c := range []struct {
		name, json string
		duration   time.Duration
		audio      bool
		video      bool
	}{
		{"video only", `{"streams":[{"index":0,"codec_type":"video","codec_name":"h264","width":2,"height":2}],"format":{"duration":"2.0"}}`, 2 * time.Second, false, true},
		{"audio only", `{"streams":[{"index":0,"codec_type":"audio","codec_name":"mp3","sample_rate":"44100","channels":2}],"format":{"duration":"1.5"}}`, 1500 * time.Millisecond, true, false},
		{"cover art is not video", `{"streams":[{"index":0,"codec_type":"audio","codec_name":"mp3"},{"index":1,"codec_type":"video","codec_name":"mjpeg","disposition":{"attached_pic":1}}],"format":{"duration":"3"}}`, 3 * time.Second, true, false},
		{"no container duration: the longest stream", `{"streams":[{"index":0,"codec_type":"audio","duration":"1.25"},{"index":1,"codec_type":"audio","duration":"2.5"}],"format":{}}`, 2500 * time.Millisecond, true, false},
		{"N/A duration", `{"streams":[{"index":0,"codec_type":"audio","duration":"N/A"}],"format":{"duration":"N/A"}}`, 0, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := parseProbe([]byte(c.json))
			if err != nil {
				t.Fatal(err)
			}
			if p.Duration != c.duration || p.HasAudio != c.audio || p.HasVideo != c.video {
				t.Errorf("got duration %v audio %v video %v", p.Duration, p.HasAudio, p.HasVideo)
			}
		})
	}
	for name, bad := range map[string]string{
		"not JSON":       `{"streams": [`,
		"subtitles only": `{"streams":[{"index":0,"codec_type":"subtitle","codec_name":"subrip"}],"format":{"format_name":"srt"}}`,
		"no streams":     `{"streams":[],"format":{"format_name":"wav"}}`,
	} {
		if _, err := parseProbe([]byte(bad)); !errors.Is(err, media.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestParseProbeTagLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"streams":[{"index":0,"codec_type":"audio"}],"format":{"tags":{`)
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":"` + strings.Repeat("v", 2000) + `"`)
	}
	b.WriteString(`}}}`)
	p, err := parseProbe([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Tags) != maxTags {
		t.Errorf("%d tags kept, want %d", len(p.Tags), maxTags)
	}
	for k, v := range p.Tags {
		if len(v) != maxTagValue {
			t.Errorf("tag %s: %d bytes", k, len(v))
		}
	}
}

// silenceStderr is ffmpeg's stderr with silencedetect (-v info), ending inside a silence.
const silenceStderr = `Input #0, wav, from 'file:/tmp/x.wav':
  Duration: 00:00:30.72, bitrate: 256 kb/s
[silencedetect @ 0x55f8b06bfa80] silence_start: -0.00133
[silencedetect @ 0x55f8b06bfa80] silence_end: 2.46513 | silence_duration: 2.46646
[silencedetect @ 0x55f8b06bfa80] silence_start: 10.0364
[silencedetect @ 0x55f8b06bfa80] silence_end: 10.5673 | silence_duration: 0.530875
Output #0, null, to 'pipe:':
[silencedetect @ 0x55f8b06bfa80] silence_start: 24.4078
video:0kB audio:960kB subtitle:0kB other streams:0kB global headers:0kB muxing overhead: unknown
`

func TestSilenceLog(t *testing.T) {
	want := []media.Interval{
		{Start: 0, End: 2465130 * time.Microsecond},
		{Start: 10036400 * time.Microsecond, End: 10567300 * time.Microsecond},
		{Start: 24407800 * time.Microsecond, End: 30720 * time.Millisecond},
	}
	for _, chunk := range []int{1, 7, len(silenceStderr)} { // lines split across writes
		l := &silenceLog{}
		for s := silenceStderr; s != ""; {
			n := min(chunk, len(s))
			if k, err := l.Write([]byte(s[:n])); k != n || err != nil {
				t.Fatalf("Write = %d, %v", k, err)
			}
			s = s[n:]
		}
		if got := l.finish(30720 * time.Millisecond); !slices.Equal(got, want) {
			t.Errorf("chunks of %d: got %v\nwant %v", chunk, got, want)
		}
		if !strings.Contains(l.tail.String(), "muxing overhead") {
			t.Errorf("the tail lost the end of stderr: %q", l.tail.String())
		}
	}
}

func TestSilenceLogEdgeCases(t *testing.T) {
	l := &silenceLog{}
	// An end without a start is ignored; an end before its start is the start; the last
	// line without "\n" still counts.
	l.Write([]byte("[silencedetect @ 0x1] silence_end: 1 | silence_duration: 1\n" +
		"[silencedetect @ 0x1] silence_start: 5\n[silencedetect @ 0x1] silence_end: 4 | silence_duration: -1\n" +
		"[silencedetect @ 0x1] silence_start: 8"))
	got := l.finish(7 * time.Second)
	want := []media.Interval{{Start: 5 * time.Second, End: 5 * time.Second}, {Start: 8 * time.Second, End: 8 * time.Second}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestClampFrame(t *testing.T) {
	s := time.Second
	for _, c := range []struct{ at, video, container, want time.Duration }{
		{3 * s, 10 * s, 12 * s, 3 * s},
		{30 * s, 10 * s, 12 * s, 9 * s}, // the video stream's end counts, not the container's
		{30 * s, 0, 12 * s, 11 * s},
		{5 * s, 1500 * time.Millisecond, 0, 750 * time.Millisecond},
		{-s, 10 * s, 0, 0},
		{7 * s, 0, 0, 7 * s}, // unknown length: as asked
	} {
		if got := clampFrame(c.at, c.video, c.container); got != c.want {
			t.Errorf("clampFrame(%v, %v, %v) = %v, want %v", c.at, c.video, c.container, got, c.want)
		}
	}
}

func TestReason(t *testing.T) {
	for in, want := range map[string]string{
		"[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55] moov atom not found\nfile:/tmp/in.mp4: Invalid data found when processing input\n": "Invalid data found when processing input",
		"[aac @ 0x55] Input buffer exhausted before END element found\n":                                                     "Input buffer exhausted before END element found",
		"":                                "",
		"error opening /tmp/in.mp4 again": "error opening the file again",
	} {
		if got := reason(in, "/tmp/in.mp4"); got != want {
			t.Errorf("reason(%q) = %q, want %q", in, got, want)
		}
	}
}

func equalInfo(a, b media.AVInfo) bool {
	if a.Duration != b.Duration || a.Format != b.Format || a.HasAudio != b.HasAudio || a.HasVideo != b.HasVideo ||
		!slices.Equal(a.Streams, b.Streams) || len(a.Tags) != len(b.Tags) {
		return false
	}
	for k, v := range a.Tags {
		if b.Tags[k] != v {
			return false
		}
	}
	return true
}
