package tldw_test

import (
	"go/ast"
	"go/token"
	"go/types"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/tools/go/packages"
)

// configFiles parse, format and validate Config. Their accessors (MediaDir, SQLitePath...)
// count as readers when code elsewhere calls them; checkOnly functions never do.
var (
	configFiles = []string{"config.go", "config_keys.go", "config_values.go"}
	checkOnly   = []string{"Validate", "Warnings", "Redacted", "FromEnv", "configKeys"}
)

// unreadExempt lists Config fields allowed to be read nowhere else, with the reason.
var unreadExempt = map[string]string{
	"SessionCookieHTTPOnly": "Validate rejects false: session cookies are always HttpOnly",
}

// TestConfigFieldsAreRead fails when a field of tldw.Config is read nowhere in the module's
// non-test code outside the config files: a key that is parsed but has no effect.
func TestConfigFieldsAreRead(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks the module")
	}
	pkgs, err := packages.Load(&packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
	}, "./...")
	if err != nil {
		t.Fatal(err)
	}
	var root *packages.Package
	for _, p := range pkgs {
		for _, e := range p.Errors {
			t.Fatalf("load %s: %v", p.PkgPath, e)
		}
		if p.PkgPath == module {
			root = p
		}
	}
	if root == nil {
		t.Fatal("package tldw not found")
	}
	config := root.Types.Scope().Lookup("Config").Type().Underlying().(*types.Struct)
	isField := map[types.Object]bool{}
	for i := range config.NumFields() {
		isField[config.Field(i)] = true
	}

	// Functions of the config files: the fields each reads and the functions it calls.
	type fn struct {
		reads map[string]bool
		calls []types.Object
	}
	funcs := map[types.Object]*fn{}
	read := map[string]bool{}
	var called []types.Object // config-file functions used elsewhere
	for _, p := range pkgs {
		for _, f := range p.Syntax {
			inConfig := p == root && slices.Contains(configFiles, filepath.Base(p.Fset.Position(f.Pos()).Filename))
			if !inConfig {
				collectReads(f, p.TypesInfo, isField, read)
				called = append(called, uses(f, p.TypesInfo)...)
				continue
			}
			for _, d := range f.Decls {
				if fd, ok := d.(*ast.FuncDecl); ok && !slices.Contains(checkOnly, fd.Name.Name) {
					x := &fn{reads: map[string]bool{}, calls: uses(fd, p.TypesInfo)}
					collectReads(fd, p.TypesInfo, isField, x.reads)
					funcs[p.TypesInfo.Defs[fd.Name]] = x
				}
			}
		}
	}
	seen := map[types.Object]bool{}
	for len(called) > 0 {
		o := called[len(called)-1]
		called = called[:len(called)-1]
		if x := funcs[o]; x != nil && !seen[o] {
			seen[o] = true
			maps.Copy(read, x.reads)
			called = append(called, x.calls...)
		}
	}

	for i := range config.NumFields() {
		name := config.Field(i).Name()
		_, exempt := unreadExempt[name]
		switch {
		case !read[name] && !exempt:
			t.Errorf("Config.%s is read nowhere outside the config files: wire it up, reject it in Validate or warn about it", name)
		case read[name] && exempt:
			t.Errorf("Config.%s is read now: remove it from unreadExempt", name)
		}
	}
}

// uses returns the functions and methods n refers to.
func uses(n ast.Node, info *types.Info) []types.Object {
	var out []types.Object
	ast.Inspect(n, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			if f, ok := info.Uses[id].(*types.Func); ok {
				out = append(out, f.Origin())
			}
		}
		return true
	})
	return out
}

// collectReads records the Config fields n reads; a field that is only assigned to
// (x.F = v) is not read.
func collectReads(n ast.Node, info *types.Info, isField map[types.Object]bool, read map[string]bool) {
	written := map[*ast.SelectorExpr]bool{}
	ast.Inspect(n, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && (as.Tok == token.ASSIGN || as.Tok == token.DEFINE) {
			for _, l := range as.Lhs {
				if sel, ok := l.(*ast.SelectorExpr); ok {
					written[sel] = true
				}
			}
		}
		if sel, ok := n.(*ast.SelectorExpr); ok && !written[sel] {
			if s := info.Selections[sel]; s != nil && s.Kind() == types.FieldVal && isField[s.Obj()] {
				read[s.Obj().Name()] = true
			}
		}
		return true
	})
}
