package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startNginx runs Debian's nginx with the shipped site config, rewritten only where a test
// must differ (ports, certificate, media directory, upstream address).
func startNginx(t *testing.T, upstream, mediaDir string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("TLDW_REQUIRE_TOOLS") == "1" {
			t.Fatal("nginx not installed")
		}
		t.Skip("nginx not installed")
	}
	dir := t.TempDir()
	site, err := os.ReadFile("deploy/nginx/tldw.conf")
	if err != nil {
		t.Fatal(err)
	}
	cert, key := writeSelfSigned(t, dir)
	port := freePort(t)
	conf := strings.NewReplacer(
		"server 127.0.0.1:8000;", "server "+upstream+";",
		"/etc/letsencrypt/live/yourdomain.com/fullchain.pem", cert,
		"/etc/letsencrypt/live/yourdomain.com/privkey.pem", key,
		"listen 80;", fmt.Sprintf("listen 127.0.0.1:%d;", freePort(t)),
		"listen 443 ssl http2;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", port),
		"alias /var/lib/tldw/media/;", "alias "+mediaDir+"/;",
	).Replace(string(site))
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root root;\n" // workers must read the 0640 media files the server writes
	}
	main := user + "daemon off;\npid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\nevents {}\nhttp {\naccess_log " + dir + "/access.log;\n" +
		"client_body_temp_path " + dir + "/body;\nproxy_temp_path " + dir + "/proxy;\nfastcgi_temp_path " + dir + "/fcgi;\nuwsgi_temp_path " + dir + "/uwsgi;\nscgi_temp_path " + dir + "/scgi;\n" +
		"include " + dir + "/site.conf;\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second) // a hang guard, not a latency bound
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %s\n%s", out.String(), logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "https://" + addr
}

// TestNginxInFront puts the shipped nginx config in front of tldwd: uploads pass through,
// and /media/<uid>/... is served by nginx only to its owner (auth_request to /auth/verify).
func TestNginxInFront(t *testing.T) {
	data := t.TempDir()
	media := filepath.Join(data, "media")
	s := startServer(t, map[string]string{
		"TLDW_DATA_DIR": data, "MEDIA_STORAGE_PATH": media,
		"TLDW_ADMIN_USERNAME": "admin", "TLDW_ADMIN_EMAIL": "admin@example.com", "TLDW_ADMIN_PASSWORD": testAdminPassword,
		"TRUSTED_PROXIES": "127.0.0.1/32",
	})
	base := startNginx(t, strings.TrimPrefix(s.url, "http://"), media)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	http.DefaultClient = client // the call helpers use it
	t.Cleanup(func() { http.DefaultClient = &http.Client{} })

	_, admin := formLogin(t, base, "admin", testAdminPassword)
	if admin.AccessToken == "" {
		t.Fatal("admin login through nginx failed")
	}
	for _, u := range []string{"alice", "bob"} {
		body := `{"username":"` + u + `","email":"` + u + `@example.com","password":"Un1que-Passphrase!","role":"user"}`
		if code, _ := call(t, "POST", base+"/api/v1/admin/users", admin.AccessToken, "application/json", body, nil); code != 201 && code != 200 {
			t.Fatalf("create %s = %d", u, code)
		}
	}
	_, alice := formLogin(t, base, "alice", "Un1que-Passphrase!")
	_, bob := formLogin(t, base, "bob", "Un1que-Passphrase!")

	// Upload through nginx.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("media_type", "document")
	fw, _ := mw.CreateFormFile("files", "notes.txt")
	content := strings.Repeat("hello through nginx\n", 1000)
	io.WriteString(fw, content)
	mw.Close()
	var added map[string]any
	code, _ := call(t, "POST", base+"/api/v1/media/add", alice.AccessToken, mw.FormDataContentType(), buf.String(), &added)
	if code != 200 {
		t.Fatalf("upload through nginx = %d %v", code, added)
	}

	// Find the stored object (the API never reveals storage paths).
	var rel string
	filepath.WalkDir(media, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
			rel, _ = filepath.Rel(media, p)
		}
		return nil
	})
	if rel == "" || !strings.HasPrefix(rel, fmt.Sprint(idOf(t, base, alice.AccessToken))+"/") {
		t.Fatalf("stored object %q not under alice's directory", rel)
	}
	u := base + "/media/" + filepath.ToSlash(rel)
	get := func(token string) (int, string) {
		req, _ := http.NewRequest("GET", u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(alice.AccessToken); code != 200 || body != content {
		t.Errorf("owner GET %s = %d (%d bytes)", u, code, len(body))
	}
	if code, _ := get(""); code != 401 {
		t.Errorf("anonymous GET = %d, want 401", code)
	}
	if code, _ := get(bob.AccessToken); code != 403 {
		t.Errorf("other user's GET = %d, want 403", code)
	}
	if code, _ := get(admin.AccessToken); code != 200 {
		t.Errorf("admin GET = %d, want 200", code)
	}
}

// idOf returns the user id behind a token.
func idOf(t *testing.T, base, token string) int64 {
	var me struct {
		ID int64 `json:"id"`
	}
	call(t, "GET", base+"/api/v1/auth/me", token, "", "", &me)
	return me.ID
}
