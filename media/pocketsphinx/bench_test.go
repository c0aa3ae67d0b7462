package pocketsphinx

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/ffmpeg"
	"github.com/tldw-go/tldw/media/mediatest"
)

// The benchmarks transcribe talk (about 20 s of espeak-ng speech in four sentences) four
// ways, so the pipeline's overhead over the bare programs can be read off:
//
//	BenchmarkBarePocketsphinx20s        pocketsphinx_continuous on the 16 kHz WAV (os/exec)
//	BenchmarkTranscribe20s              the adapter on the same WAV
//	BenchmarkBareFFmpegPocketsphinx20s  ffmpeg (MP4 → 16 kHz WAV) then pocketsphinx (os/exec)
//	BenchmarkDecodeTranscribe20s        media/ffmpeg's Decode (with its probe) then the adapter
//
// Run (each op takes about 10 s of one core):
//
//	go test ./media/pocketsphinx -run '^$' -bench 20s -benchtime 3x

func BenchmarkBarePocketsphinx20s(b *testing.B) {
	mediatest.NeedTools(b, "pocketsphinx_continuous")
	f := spoken(b, "talk", talk, true)
	defer childCPU(b)()
	for b.Loop() {
		bare(b, "pocketsphinx_continuous", "-infile", f.audio.Path, "-time", "yes", "-logfn", "/dev/null")
	}
}

func BenchmarkTranscribe20s(b *testing.B) {
	tr := newTranscriber(b, Config{})
	f := spoken(b, "talk", talk, true)
	defer childCPU(b)()
	for b.Loop() {
		if got, err := tr.Transcribe(b.Context(), f.audio, media.TranscribeOptions{}); err != nil || got.Text == "" {
			b.Fatal(got, err)
		}
	}
}

func BenchmarkBareFFmpegPocketsphinx20s(b *testing.B) {
	mediatest.NeedTools(b, "pocketsphinx_continuous")
	f := spoken(b, "talk", talk, true)
	wav := filepath.Join(b.TempDir(), "talk.wav")
	defer childCPU(b)()
	for b.Loop() {
		bare(b, "ffmpeg", "-nostdin", "-v", "error", "-y", "-i", f.mp4, "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-f", "wav", wav)
		bare(b, "pocketsphinx_continuous", "-infile", wav, "-time", "yes", "-logfn", "/dev/null")
	}
}

func BenchmarkDecodeTranscribe20s(b *testing.B) {
	tr := newTranscriber(b, Config{})
	f := spoken(b, "talk", talk, true)
	av, err := ffmpeg.New(ffmpeg.Config{TempRoot: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	wav := filepath.Join(b.TempDir(), "talk.wav")
	defer childCPU(b)()
	for b.Loop() {
		if err := av.Decode(b.Context(), f.mp4, wav, media.DecodeOptions{}); err != nil {
			b.Fatal(err)
		}
		if got, err := tr.Transcribe(b.Context(), media.Audio{Path: wav, Duration: f.audio.Duration}, media.TranscribeOptions{}); err != nil || got.Text == "" {
			b.Fatal(got, err)
		}
	}
}

// bare runs a program directly and fails the benchmark when it fails or (pocketsphinx)
// prints nothing.
func bare(b *testing.B, name string, args ...string) {
	b.Helper()
	var out, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v: %s", name, err, stderr.String())
	}
	if strings.HasPrefix(name, "pocketsphinx") && out.Len() == 0 {
		b.Fatalf("%s printed nothing", name)
	}
}

// BenchmarkTranscribe60s is the adapter on about a minute of speech (talk three times).
func BenchmarkTranscribe60s(b *testing.B) {
	tr := newTranscriber(b, Config{})
	inner := strings.TrimSuffix(strings.TrimPrefix(talk, "<speak>"), "</speak>")
	f := spoken(b, "talk60", "<speak>"+strings.Repeat(inner+` <break time="2s"/>`, 3)+"</speak>", true)
	b.ReportMetric(f.audio.Duration.Seconds(), "audio-s")
	defer childCPU(b)()
	for b.Loop() {
		if got, err := tr.Transcribe(b.Context(), f.audio, media.TranscribeOptions{}); err != nil || got.Text == "" {
			b.Fatal(got, err)
		}
	}
}

// childCPU returns a function that reports the CPU time (user and system) of the programs
// the benchmark ran, per op: a figure the load of a shared machine barely changes, unlike
// ns/op.
func childCPU(b *testing.B) func() {
	before := childRusage()
	return func() {
		b.ReportMetric(float64((childRusage()-before)/time.Millisecond)/float64(b.N), "child-cpu-ms/op")
	}
}

func childRusage() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
