package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// liveServer serves s over real TCP through Listen(limits) and ConnContext, as App.Serve does.
func liveServer(t *testing.T, s http.Handler, limits ConnLimits, cfg func(*http.Server)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(s)
	srv.Listener = Listen(srv.Listener, limits)
	srv.Config.ConnContext = ConnContext
	if cfg != nil {
		cfg(srv.Config)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// rawRequest writes req on a new connection and reads one response.
func rawRequest(t *testing.T, addr, req string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, bufio.NewReader(c))
}

func readResponse(t *testing.T, br *bufio.Reader) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil && resp.Close {
		err = nil // the server closed after a complete body
	}
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// wantJSONError checks a JSON error body with code.
func wantJSONError(t *testing.T, what string, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var e struct{ Detail, Code string }
	if resp.StatusCode != status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
		json.Unmarshal(body, &e) != nil || e.Code != code || e.Detail == "" {
		t.Errorf("%s = %d %q %s, want %d JSON code %q", what, resp.StatusCode, resp.Header.Get("Content-Type"), body, status, code)
	}
}

// TestHeadOnEveryGetRoute: every GET route of the table answers HEAD like GET (status and
// Content-Type), never 405.
func TestHeadOnEveryGetRoute(t *testing.T) {
	ms := newMediaServer(t, true)
	ts := newTestServer(t, walkServer, withHTTP(func(o *Options) { o.Media = ms.Media }))
	ms.Media.Audit, ms.Media.Now = ts.Audit, ts.Clock.Now
	srv := httptest.NewServer(checkedHandler(t, ts.Server))
	defer srv.Close()
	n := 0
	for _, rt := range ts.routeTable() {
		if rt.Method != http.MethodGet {
			continue
		}
		for _, tpl := range rt.templates() {
			p, _ := docPath(tpl)
			target := pathVarRE.ReplaceAllString(p, ts.id(callerUser))
			n++
			do := func(method string) *http.Response {
				req, _ := http.NewRequest(method, srv.URL+target, nil)
				for k, v := range ts.credential(callerAdmin) {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp
			}
			get, head := do(http.MethodGet), do(http.MethodHead)
			if head.StatusCode == http.StatusMethodNotAllowed || head.StatusCode != get.StatusCode ||
				head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
				t.Errorf("HEAD %s = %d %q, GET = %d %q", target, head.StatusCode, head.Header.Get("Content-Type"),
					get.StatusCode, get.Header.Get("Content-Type"))
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d GET routes walked", n)
	}
}

// TestMediaFileRangeErrors: an unsatisfiable range, "bytes=-0" included, is a 416 JSON
// error with Content-Range "bytes */size" (ServeContent answered -0 with an inverted 206
// and other 416s in plain text); HEAD on the file answers its headers.
func TestMediaFileRangeErrors(t *testing.T) {
	ms := newMediaServer(t, true)
	rec := ms.add(t, callerUser, formField("media_type", "document"), formFile("files", "a.txt", "0123456789"))
	var res struct {
		Results []struct {
			MediaID int64 `json:"media_id"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || len(res.Results) != 1 {
		t.Fatalf("upload = %d %s", rec.Code, rec.Body)
	}
	path := fmt.Sprintf("/api/v1/media/%d/file", res.Results[0].MediaID)
	for _, rng := range []string{"bytes=-0", "bytes=-0, -0", "bytes=10-", "bytes=99-100"} {
		rec := ms.call(t, callerUser, http.MethodGet, path, "", map[string]string{"Range": rng})
		wantJSONError(t, rng, rec.Result(), rec.Body.Bytes(), http.StatusRequestedRangeNotSatisfiable, "requested_range_not_satisfiable")
		if cr := rec.Header().Get("Content-Range"); cr != "bytes */10" {
			t.Errorf("%s: Content-Range %q", rng, cr)
		}
	}
	rec = ms.call(t, callerUser, http.MethodGet, path, "", map[string]string{"Range": "bytes=-0,2-4"})
	if rec.Code != http.StatusPartialContent || rec.Body.String() != "234" || rec.Header().Get("Content-Range") != "bytes 2-4/10" {
		t.Errorf("bytes=-0,2-4 = %d %q %q", rec.Code, rec.Body, rec.Header().Get("Content-Range"))
	}
	rec = ms.call(t, callerUser, http.MethodHead, path, "", nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Length") != "10" {
		t.Errorf("HEAD file = %d, Content-Length %q", rec.Code, rec.Header().Get("Content-Length"))
	}
}

// TestNetHTTPErrorsAreJSON: the answers net/http writes itself for requests it cannot parse
// are rewritten into the JSON error body by Listen's connections.
func TestNetHTTPErrorsAreJSON(t *testing.T) {
	s, _ := newTest(t, Options{})
	srv := liveServer(t, s, ConnLimits{}, func(hs *http.Server) { hs.MaxHeaderBytes = 1024 })
	addr := srv.Listener.Addr().String()
	tests := []struct {
		name, req string
		status    int
		code      string
	}{
		{"bad request line", "GARBAGE\r\n\r\n", 400, "bad_request"},
		{"missing Host", "GET /health HTTP/1.1\r\n\r\n", 400, "bad_request"},
		{"oversize headers", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n",
			431, "request_header_fields_too_large"},
		{"unsupported Transfer-Encoding", "POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
			501, "not_implemented"},
	}
	for _, tc := range tests {
		resp, body := rawRequest(t, addr, tc.req)
		wantJSONError(t, tc.name, resp, body, tc.status, tc.code)
	}
	// A normal answer passes unchanged.
	if resp, _ := rawRequest(t, addr, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); resp.StatusCode != 200 {
		t.Errorf("GET /health = %d", resp.StatusCode)
	}
}

// TestBodyIdleTimeout: a body that stops sending is answered 408 JSON (the idle timeout is
// injected; the test asserts the answer, not its timing).
func TestBodyIdleTimeout(t *testing.T) {
	ts := newTestServer(t, withHTTP(func(o *Options) { o.BodyIdleTimeout = 20 * time.Millisecond }))
	srv := liveServer(t, ts, ConnLimits{}, nil)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Content-Length promises 100 bytes; 10 arrive, then nothing.
	io.WriteString(c, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\n\r\n{\"username\"")
	resp, body := readResponse(t, bufio.NewReader(c))
	wantJSONError(t, "stalled body", resp, body, http.StatusRequestTimeout, "request_timeout")
}

// TestOverCapUploadAlways413: an upload over MAX_UPLOAD_SIZE_MB gets its 413 JSON body 20
// times in a row: with Content-Length or chunked, with Expect: 100-continue (Go's client)
// and without (a client that writes the whole request before reading, like curl without
// Expect, which used to meet a reset connection).
func TestOverCapUploadAlways413(t *testing.T) {
	ms := newMediaServer(t, false)
	srv := liveServer(t, ms, ConnLimits{}, nil)
	auth := "Bearer " + ms.Accounts[callerUser].Access
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("media_type", "document")
	fw, _ := mw.CreateFormFile("files", "big.bin")
	fw.Write(bytes.Repeat([]byte("x"), testMaxUpload+mediaMaxFieldsBytes+(1<<20)))
	mw.Close()
	ct := mw.FormDataContentType()
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 10 * time.Second}}
	for i := range 20 {
		for _, chunked := range []bool{false, true} {
			// Go's client with Expect: 100-continue.
			var r io.Reader = bytes.NewReader(form.Bytes())
			if chunked {
				r = io.MultiReader(r) // hides the length: chunked
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/media/add", r)
			req.Header.Set("Authorization", auth)
			req.Header.Set("Content-Type", ct)
			req.Header.Set("Expect", "100-continue")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("#%d chunked=%v expect: %v", i, chunked, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantJSONError(t, fmt.Sprintf("#%d chunked=%v expect", i, chunked), resp, body, 413, "payload_too_large")

			// A raw client that sends everything, then reads.
			head := "POST /api/v1/media/add HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: " + auth +
				"\r\nContent-Type: " + ct + "\r\n"
			payload := form.Bytes()
			if chunked {
				head += "Transfer-Encoding: chunked\r\n\r\n"
				payload = append(fmt.Appendf(nil, "%x\r\n", len(payload)), payload...)
				payload = append(payload, "\r\n0\r\n\r\n"...)
			} else {
				head += fmt.Sprintf("Content-Length: %d\r\n\r\n", len(payload))
			}
			resp, body = rawRequest(t, srv.Listener.Addr().String(), head+string(payload))
			wantJSONError(t, fmt.Sprintf("#%d chunked=%v raw", i, chunked), resp, body, 413, "payload_too_large")
		}
	}
}

// TestConnectionCaps: past MAX_CONNECTIONS (or a peer's MAX_CONNECTIONS_PER_IP) health
// still answers on a reserve of overflow connections while other paths get 503
// too_many_connections; past the reserve a connection is answered 503 and closed.
func TestConnectionCaps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits ConnLimits
	}{
		{"total", ConnLimits{Total: 1}},
		{"per IP", ConnLimits{PerIP: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newTest(t, Options{})
			srv := liveServer(t, s, tc.limits, nil)
			addr := srv.Listener.Addr().String()
			var held []*bufio.ReadWriter
			open := func(path string) (*http.Response, []byte) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				rw := bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
				held = append(held, rw)
				rw.WriteString("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
				rw.Flush()
				return readResponse(t, rw.Reader)
			}
			if resp, _ := open("/api/v1/items/1"); resp.StatusCode != 200 {
				t.Fatalf("first connection = %d", resp.StatusCode)
			}
			for i := range ConnReserve {
				if resp, _ := open("/api/v1/health/live"); resp.StatusCode != 200 {
					t.Fatalf("health on overflow connection %d = %d", i, resp.StatusCode)
				}
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			resp, body := readResponse(t, bufio.NewReader(c))
			wantJSONError(t, "past the reserve", resp, body, http.StatusServiceUnavailable, "too_many_connections")
			// An overflow connection serves only health and metrics.
			rw := held[1]
			rw.WriteString("GET /api/v1/items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
			rw.Flush()
			resp, body = readResponse(t, rw.Reader)
			wantJSONError(t, "over the cap", resp, body, http.StatusServiceUnavailable, "too_many_connections")
		})
	}
	// Trusted proxies are not capped per address.
	s, _ := newTest(t, Options{})
	srv := liveServer(t, s, ConnLimits{PerIP: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, nil)
	for range 3 {
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET /api/v1/items/1 HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := readResponse(t, bufio.NewReader(c)); resp.StatusCode != 200 {
			t.Errorf("exempt peer = %d", resp.StatusCode)
		}
	}
}

// TestMediaAddInputCap: more than MEDIA_ADD_MAX_ITEMS inputs, or one over-long URL, is a
// 400 before anything is stored or a large answer is built; at the cap the answer streams.
func TestMediaAddInputCap(t *testing.T) {
	ms := newMediaServer(t, false)
	urls := func(n int) string { return strings.TrimSpace(strings.Repeat("https://example.com/v ", n)) }
	rec := ms.add(t, callerUser, formField("media_type", "video"), formField("urls", urls(101)))
	if rec.Code != http.StatusBadRequest || decodeJSON(t, rec)["code"] != "too_many_inputs" {
		t.Errorf("101 urls = %d %s", rec.Code, rec.Body)
	}
	rec = ms.add(t, callerUser, formField("media_type", "video"), formField("urls", strings.Repeat("a ", 30000)))
	if rec.Code != http.StatusBadRequest || decodeJSON(t, rec)["code"] != "too_many_inputs" || rec.Body.Len() > 1024 {
		t.Errorf("a huge urls field = %d, %d bytes", rec.Code, rec.Body.Len())
	}
	rec = ms.add(t, callerUser, formField("media_type", "video"), formField("urls", "https://example.com/"+strings.Repeat("a", 3000)))
	if rec.Code != http.StatusBadRequest || decodeJSON(t, rec)["code"] != "url_too_long" {
		t.Errorf("a long url = %d %s", rec.Code, rec.Body)
	}
	parts := []formPart{formField("media_type", "document"), formField("urls", urls(99))}
	parts = append(parts, formFile("files", "a.txt", "one file"), formFile("files", "b.txt", "one too many"))
	rec = ms.add(t, callerUser, parts...)
	var res struct {
		Results []struct {
			Status    string `json:"status"`
			ErrorCode string `json:"error_code"`
		} `json:"results"`
		ProcessedCount int `json:"processed_count"`
		ErrorsCount    int `json:"errors_count"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatalf("body: %v\n%s", err, rec.Body)
	}
	capped := 0
	for _, r := range res.Results {
		if r.ErrorCode == "too_many_inputs" {
			capped++
		}
	}
	if rec.Code != http.StatusMultiStatus || len(res.Results) != 101 || res.ProcessedCount != 1 || res.ErrorsCount != 100 ||
		capped != 1 {
		t.Errorf("99 urls + 2 files = %d: %d results, %d ok, %d errors, %d too_many_inputs", rec.Code, len(res.Results),
			res.ProcessedCount, res.ErrorsCount, capped)
	}
	ms.wantEmptyExcept(t, callerUser, 1)
}

// TestInvalidTextRejected: NUL and invalid UTF-8 in the path, the query, JSON bodies, form
// and multipart fields are a 400 invalid_text from the one check at decoding.
func TestInvalidTextRejected(t *testing.T) {
	ms := newMediaServer(t, false)
	form := func(v string) (string, string) {
		return "username=" + v + "&password=x", "application/x-www-form-urlencoded"
	}
	tests := []struct {
		name, kind, method, path, body, ct string
	}{
		{"query NUL", callerAdmin, "GET", "/api/v1/admin/users?search=a%00b", "", ""},
		{"query bad UTF-8", callerAdmin, "GET", "/api/v1/admin/audit-log?action=%ff", "", ""},
		{"path bad UTF-8", callerUser, "GET", "/api/v1/media/%ff", "", ""},
		{"JSON NUL", callerUser, "POST", "/api/v1/users/api-keys", `{"name":"k\u0000"}`, "application/json"},
		{"JSON key NUL", callerUser, "PUT", "/api/v1/users/me", `{"full_name\u0000":"x"}`, "application/json"},
		{"JSON bad UTF-8", callerAdmin, "POST", "/api/v1/admin/users", "{\"username\":\"\xff\xfe\"}", "application/json"},
		{"form NUL", callerAnonymous, "POST", "/api/v1/auth/login", "", ""},
	}
	for _, tc := range tests {
		body, ct := tc.body, tc.ct
		if tc.name == "form NUL" {
			body, ct = form("a%00b")
		}
		rec := ms.call(t, tc.kind, tc.method, tc.path, body, map[string]string{"Content-Type": ct})
		wantJSONError(t, tc.name, rec.Result(), rec.Body.Bytes(), http.StatusBadRequest, "invalid_text")
	}
	for _, v := range []string{"a\x00b", "\xff"} {
		rec := ms.add(t, callerUser, formField("media_type", "document"), formField("title", v), formFile("files", "a.txt", "x"))
		wantJSONError(t, fmt.Sprintf("multipart title %q", v), rec.Result(), rec.Body.Bytes(), http.StatusBadRequest, "invalid_text")
	}
	ms.wantEmptyExcept(t, callerUser, 0)
}

// TestQuotaRefusedBeforeContinue: a Content-Length that cannot fit the remaining quota is a
// 413 storage_quota_exceeded sent instead of 100 Continue (the body is never asked for).
func TestQuotaRefusedBeforeContinue(t *testing.T) {
	ms := newMediaServer(t, false)
	uid := ms.Accounts[callerUser].User.ID
	if err := ms.Media.SetLimit(t.Context(), uid, 1000); err != nil {
		t.Fatal(err)
	}
	srv := liveServer(t, ms, ConnLimits{}, nil)
	for _, size := range []int{mediaMaxFieldsBytes + 1001, testMaxUpload + mediaMaxFieldsBytes + 1} {
		resp, body := rawRequest(t, srv.Listener.Addr().String(), "POST /api/v1/media/add HTTP/1.1\r\nHost: x\r\n"+
			"Authorization: Bearer "+ms.Accounts[callerUser].Access+"\r\nContent-Type: multipart/form-data; boundary=b\r\n"+
			fmt.Sprintf("Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", size))
		code := "storage_quota_exceeded"
		if size > testMaxUpload+mediaMaxFieldsBytes {
			code = "payload_too_large"
		}
		wantJSONError(t, fmt.Sprintf("Content-Length %d", size), resp, body, http.StatusRequestEntityTooLarge, code)
	}
}
