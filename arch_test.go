package tldw_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"
)

// The architecture rules of ARCHITECTURE.md §2, as data. Every package of the module has a
// class; a class says which classes it may import; every third-party module in go.mod says
// which packages may import it. TestArchitecture checks the real module against them, and
// TestArchitectureCatches checks that planted violations are caught.

const module = "github.com/tldw-go/tldw"

// class is the architectural role of a package of the module.
type class string

const (
	domainClass  class = "domain"   // auth, quota, audit, media, storage and their *test siblings
	adapterClass class = "adapter"  // storage/<technology>, media/<technology>
	rootClass    class = "root"     // package tldw, the composition root
	httpClass    class = "internal" // internal/httpapi
	testenvClass class = "testenv"  // internal/testenv, for _test.go files only
	harnessClass class = "harness"  // internal/cmd/*: load and benchmark harnesses
	clientClass  class = "client"   // internal/apiclient: the generated client, for tests
	hostClass    class = "host"     // hosts/*
	exampleClass class = "example"  // examples/*
)

// domains maps each domain to the other domains it may import.
var domains = map[string][]string{
	"audit":   {},
	"quota":   {},
	"storage": {},
	"auth":    {"audit"},
	"media":   {"storage", "quota", "audit"},
}

// mayImport lists, per class, the classes of module packages its non-test code may import.
// Domain-to-domain imports are further limited by domains.
var mayImport = map[class][]class{
	domainClass:  {domainClass},
	adapterClass: {domainClass},
	rootClass:    {domainClass, adapterClass, httpClass},
	httpClass:    {domainClass},
	testenvClass: {},
	harnessClass: {rootClass, domainClass},
	clientClass:  {},
	hostClass:    {rootClass, domainClass},
	exampleClass: {rootClass, domainClass, adapterClass},
}

// thirdParty maps every direct requirement in go.mod to the packages that may import it
// (importers) and those whose tests alone may (tests). A module missing here fails the test.
var thirdParty = map[string]struct{ importers, tests []string }{
	"github.com/go-jose/go-jose/v4":                                {importers: []string{"auth"}},
	"golang.org/x/crypto":                                          {importers: []string{"auth"}},
	"golang.org/x/text":                                            {importers: []string{"auth", "media", "storage/sqlstore", "media/plaintext"}, tests: []string{"media/readability"}},
	"github.com/gabriel-vasile/mimetype":                           {importers: []string{"media/mimesniff"}},
	"github.com/google/uuid":                                       {importers: []string{"internal/httpapi", "storage/sqlstore", "auth", "auth/authtest", "media", "media/mediatest", "quota/quotatest"}},
	"codeberg.org/readeck/go-readability/v2":                       {importers: []string{"media/readability"}},
	"golang.org/x/net":                                             {importers: []string{"media/readability"}},
	"github.com/gorilla/mux":                                       {importers: []string{"internal/httpapi"}},
	"github.com/hashicorp/golang-lru/v2":                           {importers: []string{"auth"}},
	"github.com/prometheus/client_golang":                          {importers: []string{"internal/httpapi"}},
	"golang.org/x/sync":                                            {importers: []string{"internal/httpapi"}},
	"github.com/rs/cors":                                           {importers: []string{"internal/httpapi"}},
	"github.com/coder/websocket":                                   {importers: []string{"internal/httpapi"}},
	"github.com/jackc/pgx/v5":                                      {importers: []string{"storage/sqlstore", "internal/testenv"}},
	"github.com/uptrace/bun":                                       {importers: []string{"storage/sqlstore"}},
	"github.com/uptrace/bun/dialect/pgdialect":                     {importers: []string{"storage/sqlstore"}},
	"github.com/uptrace/bun/dialect/sqlitedialect":                 {importers: []string{"storage/sqlstore"}},
	"modernc.org/sqlite":                                           {importers: []string{"storage/sqlstore"}},
	"github.com/redis/rueidis":                                     {importers: []string{"storage/redisstore", "internal/testenv"}},
	"github.com/minio/minio-go/v7":                                 {importers: []string{"storage/s3blob"}},
	"github.com/joho/godotenv":                                     {importers: []string{"hosts/tldwd"}, tests: []string{""}},
	"github.com/testcontainers/testcontainers-go/modules/postgres": {importers: []string{"internal/testenv"}},
	"github.com/testcontainers/testcontainers-go/modules/redis":    {importers: []string{"internal/testenv"}},
	"github.com/johannesboyne/gofakes3":                            {tests: []string{"storage/s3blob"}},
	"github.com/getkin/kin-openapi":                                {importers: []string{"internal/httpapi"}, tests: []string{""}},
	"github.com/oapi-codegen/oapi-codegen/v2":                      {tests: []string{""}},
	"github.com/oapi-codegen/runtime":                              {importers: []string{"internal/apiclient"}},
	"golang.org/x/tools":                                           {tests: []string{""}},
	"github.com/klippa-app/go-pdfium":                              {importers: []string{"media/pdfium"}},
	"github.com/tetratelabs/wazero":                                {importers: []string{"media/pdfium"}},
	"github.com/pkoukk/tiktoken-go":                                {importers: []string{"media/tiktoken"}},
	"github.com/pkoukk/tiktoken-go-loader":                         {importers: []string{"media/tiktoken"}},
	"github.com/riverqueue/river":                                  {importers: []string{"storage/sqlstore"}},
	"github.com/riverqueue/river/riverdriver":                      {importers: []string{"storage/sqlstore"}},
	"github.com/riverqueue/river/riverdriver/riverdatabasesql":     {importers: []string{"storage/sqlstore"}},
	"github.com/riverqueue/river/riverdriver/riversqlite":          {importers: []string{"storage/sqlstore"}},
	"github.com/riverqueue/river/rivertype":                        {importers: []string{"storage/sqlstore"}},
}

// listedPackage is the part of `go list -json` the architecture rules read; paths are
// relative to the module ("" is package tldw), third-party ones are full.
type listedPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Deps         []string
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
		p.ImportPath = rel(p.ImportPath)
		for _, l := range []*[]string{&p.Imports, &p.TestImports, &p.XTestImports, &p.Deps} {
			for i, imp := range *l {
				(*l)[i] = rel(imp)
			}
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 5 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// rel makes a module path relative ("" for the module itself); other paths stay as they are.
func rel(path string) string {
	if path == module {
		return ""
	}
	return strings.TrimPrefix(path, module+"/")
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

func under(path, prefix string) bool { return path == prefix || strings.HasPrefix(path, prefix+"/") }

// isModule reports whether a path from rel is one of the module's packages.
func isModule(path string) bool {
	first := strings.SplitN(path, "/", 2)[0]
	return path == "" || (!strings.Contains(first, ".") && classOf(path) != "")
}

// classOf returns the class of a module package, or "" for one outside every class.
func classOf(p string) class {
	first := strings.SplitN(p, "/", 2)[0]
	switch {
	case p == "":
		return rootClass
	case domainOf(p) != "":
		return domainClass
	case first == "storage" || first == "media":
		return adapterClass
	case p == "internal/httpapi":
		return httpClass
	case p == "internal/testenv":
		return testenvClass
	case under(p, "internal/cmd"):
		return harnessClass
	case p == "internal/apiclient":
		return clientClass
	case first == "hosts":
		return hostClass
	case first == "examples":
		return exampleClass
	}
	return ""
}

// domainOf returns the domain of a domain package ("auth" for auth and auth/authtest), or "".
func domainOf(p string) string {
	first := strings.SplitN(p, "/", 2)[0]
	if _, ok := domains[first]; !ok {
		return ""
	}
	if p == first || p == first+"/"+first+"test" {
		return first
	}
	return ""
}

// moduleOf returns the go.mod requirement a third-party import path belongs to, or "".
func moduleOf(imp string) string {
	best := ""
	for m := range thirdParty {
		if under(imp, m) && len(m) > len(best) {
			best = m
		}
	}
	return best
}

// checkImports returns every violation of the import rules among pkgs.
func checkImports(pkgs []listedPackage) []string {
	var bad []string
	for _, pkg := range pkgs {
		p, c := pkg.ImportPath, classOf(pkg.ImportPath)
		if c == "" {
			bad = append(bad, fmt.Sprintf("package %q has no architectural class", p))
			continue
		}
		for _, imp := range pkg.Imports {
			switch {
			case isStd(imp) && !isModule(imp):
			case isModule(imp):
				bad = append(bad, checkModuleImport(p, c, imp)...)
			default:
				m := moduleOf(imp)
				if m == "" {
					bad = append(bad, fmt.Sprintf("%s imports %s, a module with no rule in thirdParty", p, imp))
				} else if !slices.Contains(thirdParty[m].importers, p) {
					bad = append(bad, fmt.Sprintf("%s imports %s; only %v may", p, imp, thirdParty[m].importers))
				}
			}
		}
		for _, imp := range append(slices.Clone(pkg.TestImports), pkg.XTestImports...) {
			switch {
			case isStd(imp) && !isModule(imp):
			case isModule(imp):
				if ic := classOf(imp); ic == hostClass || ic == exampleClass {
					bad = append(bad, fmt.Sprintf("tests of %s import %s: nothing imports hosts/ or examples/", p, imp))
				}
			default:
				m := moduleOf(imp)
				if m == "" {
					bad = append(bad, fmt.Sprintf("tests of %s import %s, a module with no rule in thirdParty", p, imp))
				} else if r := thirdParty[m]; !slices.Contains(r.importers, p) && !slices.Contains(r.tests, p) {
					bad = append(bad, fmt.Sprintf("tests of %s import %s; only %v (tests: %v) may", p, imp, r.importers, r.tests))
				}
			}
		}
		if c != testenvClass {
			for _, dep := range pkg.Deps {
				if under(dep, "github.com/testcontainers/testcontainers-go") {
					bad = append(bad, fmt.Sprintf("testcontainers-go is linked into non-test package %s", p))
					break
				}
			}
		}
	}
	return bad
}

// checkModuleImport checks one import of a module package by p (of class c).
func checkModuleImport(p string, c class, imp string) []string {
	ic := classOf(imp)
	if !slices.Contains(mayImport[c], ic) {
		return []string{fmt.Sprintf("%s (%s) imports %s (%s)", p, c, imp, ic)}
	}
	if c == domainClass {
		d, target := domainOf(p), domainOf(imp)
		if target != d && !slices.Contains(domains[d], target) {
			return []string{fmt.Sprintf("domain %s imports domain %s", p, imp)}
		}
		if target != d && imp != target {
			return []string{fmt.Sprintf("domain %s imports %s, another domain's test package", p, imp)}
		}
	}
	if c != domainClass && ic == domainClass && imp != domainOf(imp) {
		return []string{fmt.Sprintf("%s imports test package %s outside a _test.go file", p, imp)}
	}
	return nil
}

// TestArchitecture enforces ARCHITECTURE.md §2 on every package of the module.
func TestArchitecture(t *testing.T) {
	for _, v := range checkImports(listPackages(t)) {
		t.Error(v)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{if not .Indirect}}{{.Path}}{{end}}", "all").Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	for _, m := range strings.Fields(string(out)) {
		if _, ok := thirdParty[m]; !ok && m != module {
			t.Errorf("go.mod requires %s, which has no rule in thirdParty", m)
		}
	}
}

// TestArchitectureCatches plants violations the rules must catch.
func TestArchitectureCatches(t *testing.T) {
	for name, pkg := range map[string]listedPackage{
		"adapter imports internal/httpapi": {ImportPath: "storage/sqlstore", Imports: []string{"internal/httpapi"}},
		"adapter imports an adapter":       {ImportPath: "media/mimesniff", Imports: []string{"storage/fsblob"}},
		"adapter imports another's driver": {ImportPath: "storage/sqlstore", Imports: []string{"github.com/gabriel-vasile/mimetype"}},
		"adapter imports the root":         {ImportPath: "storage/fsblob", Imports: []string{""}},
		"domain imports an adapter":        {ImportPath: "media", Imports: []string{"storage/fsblob"}},
		"domain imports a driver":          {ImportPath: "quota", Imports: []string{"github.com/redis/rueidis"}},
		"leaf domain imports a domain":     {ImportPath: "audit", Imports: []string{"auth"}},
		"domain imports a test package":    {ImportPath: "media", Imports: []string{"storage/storagetest"}},
		"httpapi imports an adapter":       {ImportPath: "internal/httpapi", Imports: []string{"storage/sqlstore"}},
		"root imports testenv":             {ImportPath: "", Imports: []string{"internal/testenv"}},
		"host imports an example":          {ImportPath: "hosts/tldwd", Imports: []string{"examples/embed"}},
		"unknown third-party module":       {ImportPath: "internal/httpapi", Imports: []string{"example.com/unvetted"}},
		"test-only module in non-test":     {ImportPath: "storage/s3blob", Imports: []string{"github.com/johannesboyne/gofakes3"}},
		"test-only module in other tests":  {ImportPath: "auth", TestImports: []string{"github.com/johannesboyne/gofakes3"}},
		"testcontainers linked":            {ImportPath: "", Deps: []string{"github.com/testcontainers/testcontainers-go"}},
		"package with no class":            {ImportPath: "util"},
	} {
		if got := checkImports([]listedPackage{pkg}); len(got) == 0 {
			t.Errorf("%s: %+v passed the rules", name, pkg)
		}
	}
	ok := listedPackage{ImportPath: "storage/sqlstore", Imports: []string{"auth", "github.com/uptrace/bun/migrate", "context"},
		TestImports: []string{"internal/testenv", "auth/authtest"}}
	if got := checkImports([]listedPackage{ok}); len(got) != 0 {
		t.Errorf("a legal adapter failed the rules: %v", got)
	}
}

// foreignType reports whether a package path is third-party: neither the standard library
// nor this module.
func foreignType(path string) bool { return !isStd(path) && !under(path, module) }

// TestExportedSignatures checks that no exported API of a domain package, and no exported
// field or method of tldw.App, carries a third-party type (ARCHITECTURE.md §2.3).
func TestExportedSignatures(t *testing.T) {
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedTypes}
	var patterns []string
	for d := range domains {
		patterns = append(patterns, module+"/"+d, module+"/"+d+"/"+d+"test")
	}
	pkgs, err := packages.Load(cfg, append(patterns, module)...)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != len(patterns)+1 {
		t.Fatalf("loaded %d packages, want %d", len(pkgs), len(patterns)+1)
	}
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			t.Fatalf("%s: %v", p.PkgPath, p.Errors)
		}
		if p.PkgPath == module {
			app, _ := p.Types.Scope().Lookup("App").(*types.TypeName)
			if app == nil {
				t.Fatal("tldw.App not found")
			}
			for _, v := range exportedForeign(app, foreignType) {
				t.Error(v)
			}
			continue
		}
		for _, v := range packageForeign(p.Types, foreignType) {
			t.Error(v)
		}
	}
}

// TestExportedSignaturesCatches plants a third-party type in an exported signature, with
// container/list standing in for a third-party package.
func TestExportedSignaturesCatches(t *testing.T) {
	const src = `package scratch
import "container/list"
type Store struct{ Pool *list.List }
type Hidden struct{ pool *list.List }
func (Hidden) Len() int { return 0 }
type Opener interface{ Open() (map[string][]*list.Element, error) }
func New(f func(l *list.List)) {}
var Default Hidden`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "scratch.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	pkg, err := conf.Check("scratch", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(packageForeign(pkg, func(path string) bool { return path == "container/list" }), "\n")
	for _, want := range []string{"Store.Pool", "Opener.Open", "New"} {
		if !strings.Contains(got, want) {
			t.Errorf("violation in %s not reported; got:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Hidden") || strings.Contains(got, "Default") {
		t.Errorf("unexported field reported:\n%s", got)
	}
}

// packageForeign lists the exported objects of pkg whose API mentions a foreign type.
func packageForeign(pkg *types.Package, foreign func(string) bool) []string {
	var bad []string
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		if tn, ok := obj.(*types.TypeName); ok {
			bad = append(bad, exportedForeign(tn, foreign)...)
			continue
		}
		if n := foreignIn(obj.Type(), foreign, map[types.Type]bool{}); n != "" {
			bad = append(bad, fmt.Sprintf("%s.%s mentions %s", pkg.Path(), name, n))
		}
	}
	return bad
}

// exportedForeign lists the exported fields, interface methods and methods of a named type
// that mention a foreign type.
func exportedForeign(tn *types.TypeName, foreign func(string) bool) []string {
	var bad []string
	where := tn.Pkg().Path() + "." + tn.Name()
	report := func(member string, t types.Type) {
		if n := foreignIn(t, foreign, map[types.Type]bool{}); n != "" {
			bad = append(bad, fmt.Sprintf("%s.%s mentions %s", where, member, n))
		}
	}
	if tn.IsAlias() {
		report("(alias)", tn.Type())
		return bad
	}
	switch u := tn.Type().Underlying().(type) {
	case *types.Struct:
		for i := range u.NumFields() {
			if f := u.Field(i); f.Exported() {
				report(f.Name(), f.Type())
			}
		}
	case *types.Interface:
		for i := range u.NumMethods() {
			if m := u.Method(i); m.Exported() {
				report(m.Name(), m.Type())
			}
		}
	default:
		report("(underlying)", u)
	}
	if named, ok := tn.Type().(*types.Named); ok {
		for i := range named.NumMethods() {
			if m := named.Method(i); m.Exported() {
				report(m.Name(), m.Type())
			}
		}
	}
	return bad
}

// foreignIn returns the first foreign named type that t refers to, or "". Named types of the
// standard library and the module are not entered: their own APIs are checked where they live.
func foreignIn(t types.Type, foreign func(string) bool, seen map[types.Type]bool) string {
	if seen[t] {
		return ""
	}
	seen[t] = true
	switch t := t.(type) {
	case *types.Named:
		if obj := t.Obj(); obj.Pkg() != nil && foreign(obj.Pkg().Path()) {
			return obj.Pkg().Path() + "." + obj.Name()
		}
		for i := range t.TypeArgs().Len() {
			if n := foreignIn(t.TypeArgs().At(i), foreign, seen); n != "" {
				return n
			}
		}
	case *types.Alias:
		return foreignIn(types.Unalias(t), foreign, seen)
	case *types.Pointer:
		return foreignIn(t.Elem(), foreign, seen)
	case *types.Slice:
		return foreignIn(t.Elem(), foreign, seen)
	case *types.Array:
		return foreignIn(t.Elem(), foreign, seen)
	case *types.Chan:
		return foreignIn(t.Elem(), foreign, seen)
	case *types.Map:
		if n := foreignIn(t.Key(), foreign, seen); n != "" {
			return n
		}
		return foreignIn(t.Elem(), foreign, seen)
	case *types.Signature:
		for _, tuple := range []*types.Tuple{t.Params(), t.Results()} {
			for i := range tuple.Len() {
				if n := foreignIn(tuple.At(i).Type(), foreign, seen); n != "" {
					return n
				}
			}
		}
	case *types.Struct:
		for i := range t.NumFields() {
			if f := t.Field(i); f.Exported() {
				if n := foreignIn(f.Type(), foreign, seen); n != "" {
					return n
				}
			}
		}
	case *types.Interface:
		for i := range t.NumMethods() {
			if n := foreignIn(t.Method(i).Type(), foreign, seen); n != "" {
				return n
			}
		}
	}
	return ""
}
