package media

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Tool is an external program the media adapters run.
type Tool struct {
	Name    string   // the program, looked up on PATH (or a path)
	Package string   // the Debian package that installs it
	Version []string // the arguments that make it print its version
}

// ToolStatus is what DetectTools found out about one Tool.
type ToolStatus struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	Package string `json:"package"`
	Found   bool   `json:"found"`           // on PATH, and its version command ran
	Error   string `json:"error,omitempty"` // why it is not usable, when Found is false
}

// KnownTools returns the programs tldw's adapters run: poppler's PDF tools, tesseract for OCR,
// pandoc for ODT and RTF, ffmpeg for audio and video, qpdf for encrypted PDFs, yt-dlp for video sites, and prlimit,
// without which Run cannot limit a program's memory.
func KnownTools() []Tool {
	poppler := func(name string) Tool { return Tool{Name: name, Package: "poppler-utils", Version: []string{"-v"}} }
	return []Tool{
		poppler("pdftotext"), poppler("pdfinfo"), poppler("pdftoppm"),
		{Name: "tesseract", Package: "tesseract-ocr", Version: []string{"--version"}},
		{Name: "pandoc", Package: "pandoc", Version: []string{"--version"}},
		{Name: "ffmpeg", Package: "ffmpeg", Version: []string{"-version"}},
		{Name: "ffprobe", Package: "ffmpeg", Version: []string{"-version"}},
		{Name: "qpdf", Package: "qpdf", Version: []string{"--version"}},
		{Name: "yt-dlp", Package: "yt-dlp", Version: []string{"--version"}},
		{Name: "prlimit", Package: "util-linux", Version: []string{"--version"}},
	}
}

// Limits of one version command of DetectTools.
const (
	toolTimeout = 10 * time.Second
	toolMemory  = 2 << 30 // pandoc's runtime reserves a lot of address space
)

// DetectTools finds each tool on PATH and runs its version command (through Run, bounded),
// all at once; the statuses are in the order of tools. A tool that is missing, whose
// version command fails, or that the end of ctx stopped is Found false with the reason in
// Error.
func DetectTools(ctx context.Context, tools ...Tool) []ToolStatus {
	out := make([]ToolStatus, len(tools))
	var wg sync.WaitGroup
	for i, t := range tools {
		wg.Go(func() { out[i] = detect(ctx, t) })
	}
	wg.Wait()
	return out
}

// detect checks one tool.
func detect(ctx context.Context, t Tool) ToolStatus {
	s := ToolStatus{Name: t.Name, Package: t.Package}
	p, err := exec.LookPath(t.Name)
	switch {
	case ctx.Err() != nil:
		s.Error = "not checked: " + ctx.Err().Error()
	case err != nil:
		s.Error = "not installed (install the " + t.Package + " package)"
	default:
		s.Path = p
		var stdout, stderr bytes.Buffer // poppler prints its version on stderr
		err = Run(ctx, Command{Path: p, Args: t.Version, Stdout: &stdout, Stderr: &stderr, Timeout: toolTimeout, MemoryBytes: toolMemory})
		if err != nil {
			s.Error = "version check failed: " + err.Error()
		} else {
			s.Version, s.Found = version(stdout.String()+"\n"+stderr.String()), true
		}
	}
	return s
}

// version picks the version from a program's banner: the first word of its first line that
// starts with a digit ("pdftotext version 22.12.0" → "22.12.0"), else that line (cut to
// 80 bytes).
func version(banner string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(banner), "\n")
	for _, w := range strings.Fields(line) {
		if w[0] >= '0' && w[0] <= '9' {
			return w
		}
	}
	line = strings.TrimSpace(line)
	if len(line) > 80 {
		line = strings.ToValidUTF8(line[:80], "")
	}
	return line
}
