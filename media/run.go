package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrTimeout: an external program ran past its time limit and was killed. Permanent for
// that input: the same input would take as long again.
var ErrTimeout = errors.New("media: processing took too long")

// Command is one run of an external program (pdftotext, tesseract, ffmpeg, pandoc, ...),
// bounded the same way for every adapter: its own temporary directory, a timeout, an
// address-space limit, its own process group (killed whole on cancel or timeout), a small
// environment, and stderr kept only as a trimmed tail for the error.
type Command struct {
	Path string   // the program
	Args []string // its arguments; "{dir}" in one is replaced by the temporary directory
	// TempRoot is where the run's temporary directory is made (removed afterwards; a crash
	// leaves it to SweepTemp). "" uses os.TempDir().
	TempRoot    string
	Stdin       io.Reader
	Stdout      io.Writer     // nil discards
	Stderr      io.Writer     // also gets stderr when set (tools that print their version there)
	Timeout     time.Duration // 0: no limit beyond ctx
	MemoryBytes int64         // address-space limit (via prlimit); 0: none
	Env         []string      // added to PATH, HOME (the temp dir), LANG=C.UTF-8, OMP_THREAD_LIMIT=1
}

// TempPrefix starts the name of every temporary directory a Command makes.
const TempPrefix = "tldw-run-"

// maxStderr is how much of a program's stderr an error keeps (its end).
const maxStderr = 2 << 10

// prlimit is the util-linux program that sets the memory limit, when installed.
var prlimit, _ = exec.LookPath("prlimit")

// Run runs c and waits for it. It returns ctx's error when ctx ends first, an
// ErrTimeout-wrapped error past c.Timeout, or an error naming the exit status with the end
// of stderr (wrapping the *exec.ExitError). In every case the process group is gone and the
// temporary directory removed when Run returns.
func Run(ctx context.Context, c Command) error {
	dir, err := os.MkdirTemp(c.TempRoot, TempPrefix)
	if err != nil {
		return fmt.Errorf("media: temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, c.Timeout, ErrTimeout)
		defer cancel()
	}
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = strings.ReplaceAll(a, "{dir}", dir)
	}
	name := c.Path
	if c.MemoryBytes > 0 && prlimit != "" {
		args = append([]string{"--as=" + strconv.FormatInt(c.MemoryBytes, 10), "--", c.Path}, args...)
		name = prlimit
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + dir, "LANG=C.UTF-8", "OMP_THREAD_LIMIT=1"}, c.Env...)
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	stderr := &tail{max: maxStderr}
	cmd.Stderr = stderr
	if c.Stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, c.Stderr)
	}
	setProcessGroup(cmd)
	cmd.WaitDelay = 5 * time.Second // pipes held open by an orphan do not hang Wait
	err = cmd.Run()
	if cerr := context.Cause(ctx); cerr != nil {
		if errors.Is(cerr, ErrTimeout) {
			return fmt.Errorf("%w: %s ran longer than %v", ErrTimeout, filepath.Base(c.Path), c.Timeout)
		}
		return cerr
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			msg = ": " + msg
		}
		return fmt.Errorf("%s: %w%s", filepath.Base(c.Path), err, msg)
	}
	return nil
}

// SweepTemp removes the temporary directories of Commands under root older than before
// (left by a crash); the App calls it at start. It returns how many it removed.
func SweepTemp(root string, before time.Time) (int, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), TempPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(before) {
			if os.RemoveAll(filepath.Join(root, e.Name())) == nil {
				n++
			}
		}
	}
	return n, nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf.Write(p)
	if extra := t.buf.Len() - t.max; extra > 0 {
		t.buf.Next(extra)
	}
	return len(p), nil
}

func (t *tail) String() string { return t.buf.String() }

// LookPath finds a program: path when set, else name on PATH. A missing program is an
// ErrUnsupported error naming pkg, the Debian/Ubuntu package that installs it.
func LookPath(path, name, pkg string) (string, error) {
	if path == "" {
		path = name
	}
	p, err := exec.LookPath(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s is not installed (Debian/Ubuntu package %s)", ErrUnsupported, filepath.Base(path), pkg)
	}
	return p, nil
}

// CappedBuffer keeps what a program writes up to Max bytes. A write past Max fails (the
// program then stops with a broken pipe) and sets Over.
type CappedBuffer struct {
	Max  int64
	Buf  bytes.Buffer
	Over bool
}

// Write implements io.Writer.
func (c *CappedBuffer) Write(p []byte) (int, error) {
	if int64(c.Buf.Len()+len(p)) > c.Max {
		c.Over = true
		return 0, errors.New("output over its cap")
	}
	return c.Buf.Write(p)
}
