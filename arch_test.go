package tldw_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/tldw-go/tldw"

// listedPackage is the part of `go list -json` the architecture rules read.
type listedPackage struct {
	ImportPath  string
	Imports     []string
	Deps        []string
	TestImports []string
}

func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

// domain maps each domain package (and its *test sibling) to the module packages it may import.
var domain = map[string][]string{
	"audit":   {},
	"quota":   {},
	"storage": {},
	"auth":    {"audit"},
	"media":   {"storage", "quota", "audit"},
}

// pureLibs are the third-party modules domain packages may import.
var pureLibs = map[string][]string{
	"auth": {"golang.org/x/crypto", "golang.org/x/text", "github.com/go-jose/go-jose/v4"},
}

// drivers may be imported only by the packages listed with them.
var drivers = map[string][]string{
	"github.com/uptrace/bun":                      {"storage/sqlstore"},
	"github.com/jackc/pgx":                        {"storage/sqlstore", "internal/testenv"},
	"modernc.org/sqlite":                          {"storage/sqlstore"},
	"github.com/redis/rueidis":                    {"storage/redisstore", "internal/testenv"},
	"github.com/gorilla/mux":                      {"internal/httpapi"},
	"github.com/coder/websocket":                  {"internal/httpapi"},
	"github.com/testcontainers/testcontainers-go": {"internal/testenv"},
	"github.com/minio/minio-go":                   {"storage/s3blob"},
}

var adapters = []string{"storage/sqlstore", "storage/redisstore", "storage/fsblob", "storage/s3blob"}

// domainOf returns the domain a package belongs to ("auth" for auth and auth/authtest), or "".
// Technology-named subpackages of media are adapters, not domain.
func domainOf(p string) string {
	first := strings.SplitN(p, "/", 2)[0]
	if _, ok := domain[first]; !ok {
		return ""
	}
	if p == first || p == first+"/"+first+"test" {
		return first
	}
	return ""
}

// TestArchitecture enforces ARCHITECTURE.md §2 on every package of the module.
func TestArchitecture(t *testing.T) {
	for _, pkg := range listPackages(t) {
		p := rel(pkg.ImportPath)
		for _, imp := range pkg.Imports {
			r := rel(imp)
			internalImp := strings.HasPrefix(imp, module)
			if internalImp && (under(r, "hosts") || under(r, "examples")) {
				t.Errorf("%s imports %s: nothing may import hosts/ or examples/", p, imp)
			}
			if internalImp && r == "internal/testenv" {
				t.Errorf("%s imports internal/testenv outside a _test.go file", p)
			}
			for drv, allowed := range drivers {
				if under(imp, drv) && !contains(allowed, p) {
					t.Errorf("%s imports driver %s; only %v may", p, imp, allowed)
				}
			}
			if d := domainOf(p); d != "" {
				switch {
				case isStd(imp):
				case internalImp:
					target := strings.SplitN(r, "/", 2)[0]
					if domainOf(r) == "" || (target != d && !contains(domain[d], target)) {
						t.Errorf("domain package %s imports %s", p, imp)
					}
				default:
					if !hasPrefixIn(imp, pureLibs[d]) {
						t.Errorf("domain package %s imports third-party %s", p, imp)
					}
				}
			}
			if contains(adapters, p) && internalImp {
				for _, a := range adapters {
					if under(r, a) && a != p {
						t.Errorf("adapter %s imports adapter %s", p, imp)
					}
				}
			}
		}
		for _, dep := range pkg.Deps {
			if p != "internal/testenv" && under(dep, "github.com/testcontainers/testcontainers-go") {
				t.Errorf("testcontainers-go is linked into non-test package %s", p)
				break
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasPrefixIn(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if under(path, p) {
			return true
		}
	}
	return false
}
