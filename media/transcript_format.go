package media

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Transcript formats: the response_format values of OpenAI's POST /v1/audio/transcriptions,
// which tldw's /api/v1/audio/transcriptions answers in.
const (
	TranscriptJSON        = "json"         // {"text": ...}
	TranscriptText        = "text"         // the text alone
	TranscriptSRT         = "srt"          // SubRip subtitles
	TranscriptVTT         = "vtt"          // WebVTT subtitles
	TranscriptVerboseJSON = "verbose_json" // OpenAI's verbose shape with segments
)

// TranscriptFormats lists the formats FormatTranscript writes.
func TranscriptFormats() []string {
	return []string{TranscriptJSON, TranscriptText, TranscriptSRT, TranscriptVTT, TranscriptVerboseJSON}
}

// VerboseTranscript is OpenAI's verbose_json body. Whisper's decoding statistics (tokens,
// temperature, log probabilities) are not known for other transcribers: they are sent as
// neutral values (no tokens, 0) so clients that parse them keep working.
type VerboseTranscript struct {
	Task     string           `json:"task"`     // always "transcribe"
	Language string           `json:"language"` // as the transcriber named it, "" if unknown
	Duration float64          `json:"duration"` // seconds of audio
	Text     string           `json:"text"`
	Segments []VerboseSegment `json:"segments"`
}

// VerboseSegment is one segment of a VerboseTranscript.
type VerboseSegment struct {
	ID               int     `json:"id"`
	Seek             int     `json:"seek"`
	Start            float64 `json:"start"` // seconds
	End              float64 `json:"end"`
	Text             string  `json:"text"`
	Tokens           []int   `json:"tokens"`
	Temperature      float64 `json:"temperature"`
	AvgLogprob       float64 `json:"avg_logprob"`
	CompressionRatio float64 `json:"compression_ratio"`
	NoSpeechProb     float64 `json:"no_speech_prob"`
}

// Verbose returns t in OpenAI's verbose_json shape; duration is the audio's length.
func Verbose(t *Transcript, duration time.Duration) VerboseTranscript {
	v := VerboseTranscript{Task: "transcribe", Language: t.Language, Duration: secs(duration),
		Text: t.Text, Segments: []VerboseSegment{}}
	for i, s := range t.Segments {
		v.Segments = append(v.Segments, VerboseSegment{ID: i, Seek: int(s.Start / (10 * time.Millisecond)),
			Start: secs(s.Start), End: secs(s.End), Text: s.Text, Tokens: []int{}})
	}
	return v
}

// secs is d in seconds, rounded to milliseconds.
func secs(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// FormatTranscript renders t in format (one of TranscriptFormats) and returns the body with
// its content type: application/json for json and verbose_json, text/plain for the others
// (what OpenAI answers). An unknown format is ErrInvalid.
func FormatTranscript(t *Transcript, duration time.Duration, format string) ([]byte, string, error) {
	switch format {
	case TranscriptJSON, "":
		b, err := json.Marshal(struct {
			Text string `json:"text"`
		}{t.Text})
		return append(b, '\n'), "application/json", err
	case TranscriptVerboseJSON:
		b, err := json.Marshal(Verbose(t, duration))
		return append(b, '\n'), "application/json", err
	case TranscriptText:
		return []byte(strings.TrimSpace(t.Text) + "\n"), "text/plain; charset=utf-8", nil
	case TranscriptSRT:
		return []byte(SRT(t)), "text/plain; charset=utf-8", nil
	case TranscriptVTT:
		return []byte(WebVTT(t)), "text/plain; charset=utf-8", nil
	}
	return nil, "", Detailf(ErrInvalid, "response_format must be one of %s", strings.Join(TranscriptFormats(), ", "))
}

// SRT renders t's segments as SubRip subtitles (a transcript without segments is one cue
// of its whole text, untimed at 0).
func SRT(t *Transcript) string {
	var b strings.Builder
	for i, s := range cues(t) {
		fmt.Fprintf(&b, "%d\n%s --> %s\n%s\n\n", i+1, stamp(s.Start, ","), stamp(s.End, ","), cueText(s.Text))
	}
	return b.String()
}

// WebVTT renders t's segments as a WebVTT file.
func WebVTT(t *Transcript) string {
	var b strings.Builder
	b.WriteString("WEBVTT\n\n")
	for _, s := range cues(t) {
		fmt.Fprintf(&b, "%s --> %s\n%s\n\n", stamp(s.Start, "."), stamp(s.End, "."), cueText(s.Text))
	}
	return b.String()
}

// cues are the segments to render as subtitles: those with text, or the whole text.
func cues(t *Transcript) []Segment {
	var out []Segment
	for _, s := range t.Segments {
		if strings.TrimSpace(s.Text) != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 && strings.TrimSpace(t.Text) != "" {
		out = []Segment{{Text: t.Text}}
	}
	return out
}

// cueText is a cue's text without blank lines (which would end the cue) or the "-->" arrow.
func cueText(s string) string {
	var lines []string
	for l := range strings.SplitSeq(strings.ReplaceAll(s, "\r", ""), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, strings.ReplaceAll(l, "-->", "->"))
		}
	}
	return strings.Join(lines, "\n")
}

// stamp writes d as HH:MM:SS<sep>mmm.
func stamp(d time.Duration, sep string) string {
	d = max(d, 0).Round(time.Millisecond)
	h, m, s, ms := d/time.Hour, d/time.Minute%60, d/time.Second%60, d/time.Millisecond%1000
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", h, m, s, sep, ms)
}
