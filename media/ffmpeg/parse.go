package ffmpeg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tldw-go/tldw/media"
)

// Limits on the container tags Probe keeps.
const (
	maxTags     = 64
	maxTagValue = 1 << 10
)

// probeJSON is the part of ffprobe's -print_format json -show_format -show_streams output
// Probe reads.
type probeJSON struct {
	Format struct {
		FormatName string            `json:"format_name"`
		Duration   string            `json:"duration"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
	Streams []struct {
		Index       int    `json:"index"`
		CodecType   string `json:"codec_type"`
		CodecName   string `json:"codec_name"`
		SampleRate  string `json:"sample_rate"`
		Channels    int    `json:"channels"`
		Width       int    `json:"width"`
		Height      int    `json:"height"`
		Duration    string `json:"duration"`
		Disposition struct {
			AttachedPic int `json:"attached_pic"`
		} `json:"disposition"`
	} `json:"streams"`
}

// parseProbe reads ffprobe's JSON. The duration is the container's, else the longest
// stream's (0 when none says). HasVideo means a real video stream: an attached picture
// (an MP3's cover art) is listed among the streams but is not video. A file with neither
// audio nor video (subtitles alone, say) is media.ErrInvalid.
func parseProbe(data []byte) (*probed, error) {
	var j probeJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("%w: ffprobe printed bad JSON: %v", media.ErrInvalid, err)
	}
	p := &probed{AVInfo: media.AVInfo{Format: j.Format.FormatName, Duration: parseSeconds(j.Format.Duration)}}
	pictures := false
	for _, s := range j.Streams {
		st := media.AVStream{Index: s.Index, Type: s.CodecType, Codec: s.CodecName, Channels: s.Channels, Width: s.Width, Height: s.Height}
		st.SampleRate, _ = strconv.Atoi(s.SampleRate)
		d := parseSeconds(s.Duration)
		switch {
		case s.CodecType == "audio":
			p.HasAudio = true
		case s.CodecType == "video" && s.Disposition.AttachedPic != 0:
			pictures = true
		case s.CodecType == "video":
			p.HasVideo = true
			p.videoDuration = max(p.videoDuration, d)
		}
		if j.Format.Duration == "" {
			p.Duration = max(p.Duration, d)
		}
		p.Streams = append(p.Streams, st)
	}
	if !p.HasAudio && !p.HasVideo && !pictures {
		return nil, media.Detailf(media.ErrInvalid, "the file has no audio or video stream")
	}
	for k, v := range j.Format.Tags {
		if len(p.Tags) == maxTags {
			break
		}
		if p.Tags == nil {
			p.Tags = map[string]string{}
		}
		if len(v) > maxTagValue {
			v = strings.ToValidUTF8(v[:maxTagValue], "")
		}
		p.Tags[strings.ToLower(k)] = v
	}
	return p, nil
}

// parseSeconds reads ffprobe's "12.345000"; absent, "N/A", negative or absurd is 0.
func parseSeconds(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsNaN(f) || f > 1e9 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// maxSilences bounds the silences Silences returns (one every half second of 4 hours is
// 28,800).
const maxSilences = 100_000

// silenceLog is the stderr of an ffmpeg run with silencedetect: it parses the filter's
// lines as they come ("[silencedetect @ 0x...] silence_start: 1.5" and "... silence_end:
// 2.5 | silence_duration: 1") and keeps the rest as a tail for errors.
type silenceLog struct {
	tail
	line      []byte
	intervals []media.Interval
	open      bool // a silence_start without its end yet
	err       error
}

func (l *silenceLog) Write(p []byte) (int, error) {
	n := len(p)
	l.tail.Write(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(l.line)+len(p) <= 4<<10 { // a longer line is not silencedetect's
				l.line = append(l.line, p...)
			}
			break
		}
		if len(l.line)+i <= 4<<10 {
			l.line = append(l.line, p[:i]...)
		}
		l.parse(string(l.line))
		l.line = l.line[:0]
		p = p[i+1:]
	}
	return n, nil
}

// parse reads one line.
func (l *silenceLog) parse(line string) {
	if !strings.HasPrefix(line, "[silencedetect @ ") {
		return
	}
	if _, v, ok := strings.Cut(line, "silence_start: "); ok {
		if len(l.intervals) == maxSilences {
			l.err = media.Detailf(media.ErrTooLarge, "the audio has more than %d silences", maxSilences)
			return
		}
		l.intervals = append(l.intervals, media.Interval{Start: silenceTime(v)})
		l.open = true
		return
	}
	if _, v, ok := strings.Cut(line, "silence_end: "); ok && l.open {
		v, _, _ = strings.Cut(v, " ")
		last := &l.intervals[len(l.intervals)-1]
		last.End = max(silenceTime(v), last.Start)
		l.open = false
	}
}

// finish ends a silence still open at the duration and returns the intervals.
func (l *silenceLog) finish(duration time.Duration) []media.Interval {
	if len(l.line) > 0 {
		l.parse(string(l.line))
		l.line = l.line[:0]
	}
	if l.open {
		last := &l.intervals[len(l.intervals)-1]
		last.End = max(duration, last.Start)
		l.open = false
	}
	return l.intervals
}

// silenceTime reads silencedetect's seconds ("2.46513"; a tiny negative start is 0).
func silenceTime(s string) time.Duration {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || math.IsNaN(f) {
		return 0
	}
	return time.Duration(math.Round(f * float64(time.Second)))
}
