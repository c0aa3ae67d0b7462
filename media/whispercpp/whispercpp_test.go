package whispercpp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/media/whispercpp"
)

// recorded is out.json in the shape whisper-cli -oj writes (examples/cli/cli.cpp,
// output_json): tab-indented, only quotes and backslashes escaped — here a raw tab inside
// the second text — with a [BLANK_AUDIO] segment for a pause.
const recorded = "{\n" +
	"\t\"systeminfo\": \"AVX = 1 | AVX2 = 1 | AVX512 = 0 | FMA = 1 | NEON = 0 | ARM_FMA = 0 | F16C = 1 | FP16_VA = 0 | WASM_SIMD = 0 | SSE3 = 1 | SSSE3 = 1 | VSX = 0 | COREML = 0 | OPENVINO = 0\",\n" +
	"\t\"model\": {\n\t\t\"type\": \"base\",\n\t\t\"multilingual\": false,\n\t\t\"vocab\": 51864,\n" +
	"\t\t\"audio\": {\n\t\t\t\"ctx\": 1500,\n\t\t\t\"state\": 512,\n\t\t\t\"head\": 8,\n\t\t\t\"layer\": 6\n\t\t},\n" +
	"\t\t\"text\": {\n\t\t\t\"ctx\": 448,\n\t\t\t\"state\": 512,\n\t\t\t\"head\": 8,\n\t\t\t\"layer\": 6\n\t\t},\n" +
	"\t\t\"mels\": 80,\n\t\t\"ftype\": 1\n\t},\n" +
	"\t\"params\": {\n\t\t\"model\": \"models/ggml-base.en.bin\",\n\t\t\"language\": \"en\",\n\t\t\"translate\": false\n\t},\n" +
	"\t\"result\": {\n\t\t\"language\": \"en\"\n\t},\n" +
	"\t\"transcription\": [\n" +
	"\t\t{\n\t\t\t\"timestamps\": {\n\t\t\t\t\"from\": \"00:00:00,000\",\n\t\t\t\t\"to\": \"00:00:02,480\"\n\t\t\t},\n" +
	"\t\t\t\"offsets\": {\n\t\t\t\t\"from\": 0,\n\t\t\t\t\"to\": 2480\n\t\t\t},\n" +
	"\t\t\t\"text\": \" And so my fellow Americans, ask not what your country can do for you,\"\n\t\t},\n" +
	"\t\t{\n\t\t\t\"timestamps\": {\n\t\t\t\t\"from\": \"00:00:02,480\",\n\t\t\t\t\"to\": \"00:00:03,000\"\n\t\t\t},\n" +
	"\t\t\t\"offsets\": {\n\t\t\t\t\"from\": 2480,\n\t\t\t\t\"to\": 3000\n\t\t\t},\n" +
	"\t\t\t\"text\": \" [BLANK_AUDIO]\"\n\t\t},\n" +
	"\t\t{\n\t\t\t\"timestamps\": {\n\t\t\t\t\"from\": \"00:00:03,000\",\n\t\t\t\t\"to\": \"00:00:11,000\"\n\t\t\t},\n" +
	"\t\t\t\"offsets\": {\n\t\t\t\t\"from\": 3000,\n\t\t\t\t\"to\": 11000\n\t\t\t},\n" +
	"\t\t\t\"text\": \" ask what you can do\tfor your \\\"country\\\".\"\n\t\t}\n" +
	"\t]\n" +
	"}\n"

var want = &media.Transcript{
	Text:     `And so my fellow Americans, ask not what your country can do for you, ask what you can do for your "country".`,
	Language: "en",
	Segments: []media.Segment{
		{Start: 0, End: 2480 * time.Millisecond, Text: "And so my fellow Americans, ask not what your country can do for you,"},
		{Start: 3 * time.Second, End: 11 * time.Second, Text: `ask what you can do for your "country".`},
	},
}

func TestParseRecordedOutput(t *testing.T) {
	got, err := whispercpp.Parse([]byte(recorded))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse\n got %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"", "not json", `{"result":{"language":"en"}}`, `{"transcription": {}}`} {
		if _, err := whispercpp.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// fakeCLI writes a shell script standing in for whisper-cli: it records its arguments,
// one a line, in the returned file, sets $of to the -of argument, then runs body.
func fakeCLI(t *testing.T, body string) (prog, record string) {
	dir := t.TempDir()
	prog, record = filepath.Join(dir, "whisper-cli"), filepath.Join(dir, "args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + record + "'\nof=\n" +
		"while [ $# -gt 0 ]; do\n  case \"$1\" in\n    -of) of=\"$2\"; shift ;;\n  esac\n  shift\ndone\n" + body + "\n"
	if err := os.WriteFile(prog, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return prog, record
}

// writes makes the fake write doc as whisper-cli writes out.json.
func writes(doc string) string {
	return "cat > \"$of.json\" <<'EOF'\n" + doc + "EOF"
}

func fixture(t *testing.T) (model string, a media.Audio) {
	dir := t.TempDir()
	model = filepath.Join(dir, "ggml-base.en.bin")
	os.WriteFile(model, []byte("ggml"), 0o600)
	a = media.Audio{Path: filepath.Join(dir, "in.wav"), Duration: 11 * time.Second}
	if err := media.WriteWAVFile(a.Path, make(media.PCM, 11*media.SampleRate)); err != nil {
		t.Fatal(err)
	}
	return model, a
}

func args(t *testing.T, record string) []string {
	b, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// The command line and the transcript, with the stand-in script (the real whisper-cli is
// not installed here).
func TestTranscribeRunsWhisperCLI(t *testing.T) {
	prog, record := fakeCLI(t, writes(recorded))
	model, a := fixture(t)
	root := t.TempDir()
	tr := whispercpp.New(whispercpp.Config{Path: prog, Model: model, Threads: 2, TempRoot: root})
	if err := tr.Check(); err != nil {
		t.Fatal(err)
	}
	got, err := tr.Transcribe(context.Background(), a, media.TranscribeOptions{Language: "en-US", Prompt: "Kennedy, Americans", Model: "whisper-1"})
	if err != nil {
		t.Fatal(err)
	}
	argv := args(t, record)
	if len(argv) < 10 || argv[9] != "-np" {
		t.Fatalf("args = %q", argv)
	}
	of := argv[8]
	wantArgs := []string{"-m", model, "-f", a.Path, "-l", "en", "-oj", "-of", of, "-np", "-t", "2", "--prompt", "Kennedy, Americans"}
	if !reflect.DeepEqual(argv, wantArgs) || filepath.Base(of) != "out" || !strings.HasPrefix(of, root) {
		t.Errorf("args\n got %q\nwant %q (-of in TempRoot)", argv, wantArgs)
	}
	w := *want
	w.Model = "ggml-base.en"
	w.Warnings = []string{`transcription_model "whisper-1" is not used: whisper.cpp has the model ggml-base.en`}
	if !reflect.DeepEqual(got, &w) {
		t.Errorf("transcript\n got %+v\nwant %+v", got, &w)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("temporary files left in TempRoot: %v", entries)
	}
}

func TestTranscribeDetectsLanguage(t *testing.T) {
	doc := strings.Replace(recorded, "\"language\": \"en\"\n\t},\n\t\"transcription\"", "\"language\": \"de\"\n\t},\n\t\"transcription\"", 1)
	prog, record := fakeCLI(t, writes(doc))
	model, a := fixture(t)
	got, err := whispercpp.New(whispercpp.Config{Path: prog, Model: model}).Transcribe(context.Background(), a, media.TranscribeOptions{Diarize: true})
	if err != nil {
		t.Fatal(err)
	}
	argv := args(t, record)
	if argv[5] != "auto" || len(argv) != 10 {
		t.Errorf("args = %q, want -l auto and no -t or --prompt", argv)
	}
	if got.Language != "de" || len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "diarization is not available") {
		t.Errorf("language %q, warnings %q", got.Language, got.Warnings)
	}
}

func TestTranscribeErrors(t *testing.T) {
	model, a := fixture(t)
	cases := []struct {
		name  string
		body  string // the fake's behaviour; "" runs no fake
		cfg   whispercpp.Config
		lang  string
		want  error
		text  string
		ranIt bool
	}{
		{name: "no model", cfg: whispercpp.Config{}, want: media.ErrUnsupported, text: "set WHISPER_CPP_MODEL"},
		{name: "missing model", cfg: whispercpp.Config{Model: "/nonexistent/ggml-x.bin"}, want: media.ErrUnsupported,
			text: "WHISPER_CPP_MODEL=/nonexistent/ggml-x.bin is not a readable ggml model file"},
		{name: "no program", cfg: whispercpp.Config{Model: model, Path: "/nonexistent/whisper-cli"}, want: media.ErrUnsupported,
			text: "whisper-cli is not installed"},
		{name: "bad language", body: writes(recorded), lang: "en;rm -rf", want: media.ErrInvalid, text: "not a language code"},
		{name: "unknown language", body: "echo \"error: unknown language 'xx'\" >&2\nexit 0", lang: "xx",
			want: media.ErrUnsupported, text: "unknown language 'xx'", ranIt: true},
		{name: "model not loadable", body: "echo 'whisper_init_from_file_with_params_no_state: loading model' >&2\necho 'error: failed to initialize whisper context' >&2\nexit 3",
			want: media.ErrUnsupported, text: "could not load the model WHISPER_CPP_MODEL=", ranIt: true},
		{name: "bad audio", body: "echo \"error: failed to decode audio from 'x.wav'.\" >&2\nexit 0",
			want: media.ErrInvalid, text: "could not read the audio", ranIt: true},
		{name: "crash", body: "echo 'GGML_ASSERT failed' >&2\nexit 134", text: "exit status 134: GGML_ASSERT failed", ranIt: true},
		{name: "garbage output", body: writes("{ not json\n"), text: "unreadable", ranIt: true},
		{name: "timeout", body: "exec sleep 30", cfg: whispercpp.Config{Timeout: 200 * time.Millisecond}, want: media.ErrTimeout,
			text: "ran longer than", ranIt: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, record := tc.cfg, ""
			if tc.body != "" {
				cfg.Path, record = fakeCLI(t, tc.body)
				cfg.Model = model
			}
			_, err := whispercpp.New(cfg).Transcribe(context.Background(), a, media.TranscribeOptions{Language: tc.lang})
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v saying %q", err, tc.want, tc.text)
			}
			if tc.want == nil && media.Permanent(err) {
				t.Errorf("err = %v: a crash should be retryable", err)
			}
			if record != "" {
				if _, serr := os.Stat(record); (serr == nil) != tc.ranIt {
					t.Errorf("the program ran: %v, want %v", serr == nil, tc.ranIt)
				}
			}
		})
	}
}

func TestTranscribeCancel(t *testing.T) {
	prog, _ := fakeCLI(t, "exec sleep 30")
	model, a := fixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := whispercpp.New(whispercpp.Config{Path: prog, Model: model}).Transcribe(ctx, a, media.TranscribeOptions{})
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Transcribe did not return after cancel")
	}
}
