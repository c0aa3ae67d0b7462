package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RedisServer is a private redis-server process on a loopback port that a test can stop (as
// a crash would) and start again on the same port, to exercise Redis outages.
type RedisServer struct {
	tb   testing.TB
	port int
	cmd  *exec.Cmd
}

// StartRedisServer runs redis-server on a free loopback port and stops it at cleanup. It
// skips the test when the program is missing, or fails it when TLDW_REQUIRE_TOOLS=1.
func StartRedisServer(tb testing.TB) *RedisServer {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
			tb.Fatalf("redis-server not installed and TLDW_REQUIRE_TOOLS=1: %v", err)
		}
		tb.Skipf("redis-server not installed: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &RedisServer{tb: tb, port: ln.Addr().(*net.TCPAddr).Port}
	ln.Close()
	s.Start()
	tb.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *RedisServer) URL() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }

// Start runs the server and returns once it logs that it accepts connections.
func (s *RedisServer) Start() {
	s.tb.Helper()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--loglevel", "notice")
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- true
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			s.tb.Fatal("redis-server exited before accepting connections")
		}
	case <-time.After(10 * time.Second):
		s.tb.Fatal("redis-server not ready within 10s")
	}
}

// Stop kills the server, as a crash would, and waits for it to exit.
func (s *RedisServer) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}
