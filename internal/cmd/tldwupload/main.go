package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tldw-go/tldw"
)

const password = "Upload-Harness-Pa55!"

func main() {
	if dir := os.Getenv("TLDWUPLOAD_SERVE"); dir != "" {
		serve(dir)
		return
	}
	sizeMB := flag.Int("size-mb", 1024, "size of the large upload in MiB")
	parallel := flag.Int("parallel", 100, "number of parallel small uploads")
	smallKB := flag.Int("small-kb", 1024, "size of each small upload in KiB")
	flag.Parse()

	dir, err := os.MkdirTemp("", "tldwupload")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	child, base := startChild(dir)
	defer func() { child.Process.Signal(os.Interrupt); child.Wait() }()
	token := login(base)
	idle := peakRSS(child.Process.Pid)
	// Return the argon2id login buffers to the OS and reset the peak, so VmHWM measures
	// the upload rather than startup and logins.
	child.Process.Signal(syscall.SIGUSR1)
	if _, err := childOut.ReadString('\n'); err != nil {
		log.Fatal(err)
	}
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", child.Process.Pid), []byte("5"), 0)
	size := int64(*sizeMB) << 20
	fmt.Printf("tldwupload: large %d MiB, %d x %d KiB parallel\n\n", *sizeMB, *parallel, *smallKB)

	// Raw baseline: the same bytes copied to a file in the same directory, then fsynced.
	start := time.Now()
	f, err := os.Create(filepath.Join(dir, "raw.bin"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(f, newPattern(size, 1)); err != nil {
		log.Fatal(err)
	}
	f.Sync()
	f.Close()
	raw := time.Since(start)
	os.Remove(filepath.Join(dir, "raw.bin"))

	start = time.Now()
	if code := upload(base, token, "large.bin", size, newPattern(size, 2)); code != 200 {
		log.Fatalf("large upload: status %d", code)
	}
	up := time.Since(start)
	mib := float64(size) / (1 << 20)
	fmt.Printf("large upload:  %7.1f MiB/s   raw io.Copy: %7.1f MiB/s   ratio %.2f (goal >= 0.70)\n",
		mib/up.Seconds(), mib/raw.Seconds(), raw.Seconds()/up.Seconds())
	fmt.Printf("server peak RSS (VmHWM): %.1f MiB (goal <= 64); peak before it (startup, argon2id logins) %.1f MiB\n",
		float64(peakRSS(child.Process.Pid))/(1<<10), float64(idle)/(1<<10))

	small := int64(*smallKB) << 10
	var wg sync.WaitGroup
	errs := make(chan error, *parallel)
	start = time.Now()
	for i := range *parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code := upload(base, token, fmt.Sprintf("small-%d.bin", i), small, newPattern(small, uint64(100+i))); code != 200 {
				errs <- fmt.Errorf("small upload %d: status %d", i, code)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		log.Fatal(err)
	}
	took := time.Since(start)
	fmt.Printf("%d parallel %d KiB uploads: %.2f s, %.0f uploads/s, %.1f MiB/s\n",
		*parallel, *smallKB, took.Seconds(), float64(*parallel)/took.Seconds(), float64(int64(*parallel)*small)/(1<<20)/took.Seconds())
}

// pattern yields n bytes: a random 1 MiB block repeated, with the seed and block number
// stamped into each block so no two uploads share a content hash.
type pattern struct {
	block     []byte
	left, off int64
	seed      uint64
}

var randomBlock = func() []byte {
	b := make([]byte, 1<<20)
	rand.Read(b)
	return b
}()

func newPattern(n int64, seed uint64) *pattern {
	return &pattern{block: append([]byte(nil), randomBlock...), left: n, seed: seed}
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	pos := p.off % int64(len(p.block))
	if pos == 0 {
		binary.LittleEndian.PutUint64(p.block, p.seed)
		binary.LittleEndian.PutUint64(p.block[8:], uint64(p.off))
	}
	n := copy(b, p.block[pos:])
	if int64(n) > p.left {
		n = int(p.left)
	}
	p.left -= int64(n)
	p.off += int64(n)
	return n, nil
}

// upload streams one file of size bytes through a multipart body with a Content-Length, as
// curl -F sends it (the server reserves quota from that length).
func upload(base, token, name string, size int64, r io.Reader) int {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.WriteField("media_type", "document")
	mw.CreateFormFile("files", name)
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	body := io.MultiReader(bytes.NewReader(head.Bytes()), r, strings.NewReader(tail))
	req, _ := http.NewRequest("POST", base+"/api/v1/media/add", body)
	req.ContentLength = int64(head.Len()) + size + int64(len(tail))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		log.Printf("upload %s: %s %s", name, resp.Status, b)
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func login(base string) string {
	resp, err := http.PostForm(base+"/api/v1/auth/login", url.Values{"username": {"admin"}, "password": {password}})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		log.Fatalf("login: %s", resp.Status)
	}
	return tok.AccessToken
}

// peakRSS reads the process's peak resident set size in KiB from /proc.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// childOut reads the child's announcements (its address, then "freed").
var childOut *bufio.Reader

// startChild re-executes this program as the server and waits for its address.
func startChild(dir string) (*exec.Cmd, string) {
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), "TLDWUPLOAD_SERVE="+dir)
	cmd.Stderr = os.Stderr
	if _, err := cmd.StdinPipe(); err != nil { // kept open: the child stops when it closes
		log.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	childOut = bufio.NewReader(out)
	line, err := childOut.ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	return cmd, "http://" + strings.TrimSpace(line)
}

// serve is the child: the embedded default server, printing its address.
func serve(dir string) {
	cfg := tldw.DefaultConfig()
	cfg.DataDir = dir
	cfg.AdminUsername, cfg.AdminEmail, cfg.AdminPassword = "admin", "admin@example.com", password
	cfg.MaxUploadSizeMB = 1 << 20
	cfg.DefaultStorageQuotaMB = 1 << 30
	cfg.LogLevel = 8
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	app := tldw.New(cfg)
	if err := app.Open(ctx); err != nil {
		log.Fatal(err)
	}
	defer app.Close()
	if _, _, _, err := app.BootstrapAdmin(ctx); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr())
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			debug.FreeOSMemory()
			fmt.Println("freed")
		}
	}()
	go func() {
		io.Copy(io.Discard, os.Stdin) // the parent closing stdin also ends the child
		cancel()
	}()
	app.Serve(ctx, ln)
}
