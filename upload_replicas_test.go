package tldw_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tldw-go/tldw"
	"github.com/tldw-go/tldw/auth"
	"github.com/tldw-go/tldw/internal/testenv"
	"github.com/tldw-go/tldw/media"
	"github.com/tldw-go/tldw/quota"
)

// TestConcurrentUploadsAcrossReplicas sends 50 concurrent 1 MiB uploads by one user, spread
// over three App instances sharing PostgreSQL and a media directory, with a quota of 10 MiB:
// the quota is never exceeded, every refused upload is a 413, and nothing is left behind (no
// stray objects, no reserved bytes, usage equal to what is stored). How many fit depends on
// timing (a request reserves its Content-Length, multipart overhead included, and commits the
// file's size), so the test asserts the invariant, not a count.
func TestConcurrentUploadsAcrossReplicas(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.Postgres(t)
	media := t.TempDir()
	var servers []*httptest.Server
	var apps []*tldw.App
	for range 3 {
		cfg := tldw.DefaultConfig()
		cfg.DataDir = t.TempDir()
		cfg.DatabaseURL = tldw.DSN(dbURL)
		cfg.MediaStoragePath = media
		cfg.JWTSecretKey = "replica-shared-secret-0123456789-abcdefghijklmnop"
		cfg.LogLevel = 8
		app := openApp(t, cfg)
		t.Cleanup(func() { app.Close() })
		apps = append(apps, app)
		srv := httptest.NewServer(app.Handler())
		t.Cleanup(srv.Close)
		servers = append(servers, srv)
	}
	const mib = 1 << 20
	quotaMB := int64(10) // storage_quota_mb is MiB: room for at most 10 files of 1 MiB
	u, err := apps[0].Accounts().CreateUser(ctx, auth.SystemPrincipal(), auth.NewUser{
		Username: "uploader", Email: "uploader@example.com", Password: "Brave-Falcon-92!",
		Role: auth.RoleUser, StorageQuotaMB: &quotaMB,
	}, auth.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.PostForm(servers[1].URL+"/api/v1/auth/login", url.Values{"username": {"uploader"}, "password": {"Brave-Falcon-92!"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body bytes.Buffer
			mw := multipart.NewWriter(&body)
			mw.WriteField("media_type", "document")
			mw.WriteField("async", "true") // 202 once stored: the status is about storage, not processing
			fw, _ := mw.CreateFormFile("files", fmt.Sprintf("f%d.bin", i))
			fw.Write(bytes.Repeat([]byte{byte(i)}, mib))
			mw.Close()
			req, _ := http.NewRequest("POST", servers[i%3].URL+"/api/v1/media/add", &body)
			req.Header.Set("Content-Type", mw.FormDataContentType())
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	stored := statuses[http.StatusAccepted]
	if stored+statuses[413] != 50 || stored == 0 || int64(stored) > quotaMB {
		t.Fatalf("statuses %v: want 1 to %d stored (202) and the rest 413", statuses, quotaMB)
	}
	t.Logf("statuses %v", statuses)

	files := 0
	filepath.WalkDir(media, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") {
				t.Errorf("temporary file left behind: %s", p)
			}
			files++
		}
		return nil
	})
	if files != stored {
		t.Errorf("%d objects on disk, %d uploads stored", files, stored)
	}
	usage, err := apps[2].Ledger.Usage(ctx, strconv.FormatInt(u.ID, 10))
	if err != nil || len(usage) != 1 {
		t.Fatalf("usage %v %v", usage, err)
	}
	if got := usage[0]; got.Resource != quota.ResourceStorage || got.Used != int64(stored)*mib || got.Reserved != 0 || got.Used > quotaMB*mib {
		t.Errorf("usage %+v after %d stored uploads", got, stored)
	}
	page, err := apps[1].Media().List(ctx, u.ID, mediaPage())
	if err != nil || page.Total != stored {
		t.Errorf("items listed %d, stored %d (%v)", page.Total, stored, err)
	}
}

func mediaPage() media.ListOptions { return media.ListOptions{Page: 1, PerPage: 100} }
