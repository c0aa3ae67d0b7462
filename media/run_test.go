package media_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tldw-go/tldw/media"
)

func TestRunOutputAndTempDir(t *testing.T) {
	root := t.TempDir()
	var out bytes.Buffer
	err := media.Run(t.Context(), media.Command{Path: "/bin/sh", Args: []string{"-c", `pwd; echo "$HOME|$OMP_THREAD_LIMIT"; cat`},
		TempRoot: root, Stdin: strings.NewReader("from stdin"), Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(out.String(), "\n", 3)
	if len(lines) != 3 || !strings.HasPrefix(lines[0], filepath.Join(root, media.TempPrefix)) || lines[1] != lines[0]+"|1" || lines[2] != "from stdin" {
		t.Errorf("output %q", out.String())
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("temporary directory left behind: %v", entries)
	}
}

func TestRunFailureKeepsStderrTail(t *testing.T) {
	err := media.Run(t.Context(), media.Command{Path: "/bin/sh", Args: []string{"-c", `head -c 5000 /dev/zero | tr '\0' x >&2; echo " the real reason" >&2; exit 3`}})
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.HasSuffix(err.Error(), "the real reason") || len(err.Error()) > 2200 {
		t.Errorf("error %.100q… (%d bytes), want the exit status and the end of stderr", err, len(err.Error()))
	}
}

// TestRunTimeoutKillsGroup: past the timeout the program and the children it started are
// killed, the error says ErrTimeout, and the temporary directory is gone.
func TestRunTimeoutKillsGroup(t *testing.T) {
	root := t.TempDir()
	pidFile := filepath.Join(t.TempDir(), "pid")
	err := media.Run(t.Context(), media.Command{Path: "/bin/sh", Args: []string{"-c", `sleep 300 & echo $! > ` + pidFile + `; wait`},
		TempRoot: root, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, media.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid == 0 {
		t.Fatal("child pid not recorded")
	}
	// Killed by SIGKILL to the group: it is gone (or a zombie about to be reaped by init).
	if err := syscall.Kill(pid, 0); err == nil {
		if st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); !strings.Contains(string(st), ") Z ") {
			t.Errorf("grandchild %d still running after the timeout", pid)
		}
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("temporary directory left behind: %v", entries)
	}
}

func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := media.Run(ctx, media.Command{Path: "/bin/sleep", Args: []string{"300"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestRunMemoryLimit(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
			t.Fatal("prlimit (util-linux) not installed and TLDW_REQUIRE_TOOLS=1")
		}
		t.Skip("prlimit not installed")
	}
	grab := media.Command{Path: "/usr/bin/awk", Args: []string{`BEGIN { s = sprintf("%80000000s", ""); print length(s) }`}}
	if err := media.Run(t.Context(), grab); err != nil {
		t.Fatalf("without a limit: %v", err)
	}
	grab.MemoryBytes = 30 << 20
	if err := media.Run(t.Context(), grab); err == nil {
		t.Error("allocating 80 MB under a 30 MiB limit succeeded")
	}
}

func TestSweepTemp(t *testing.T) {
	root := t.TempDir()
	old := filepath.Join(root, media.TempPrefix+"old")
	fresh := filepath.Join(root, media.TempPrefix+"fresh")
	other := filepath.Join(root, "keep-me")
	for _, d := range []string{old, fresh, other} {
		os.Mkdir(d, 0o700)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	os.Chtimes(other, past, past)
	n, err := media.SweepTemp(root, time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	for d, want := range map[string]bool{old: false, fresh: true, other: true} {
		if _, err := os.Stat(d); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(d), err == nil, want)
		}
	}
}
