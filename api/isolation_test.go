package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestOnlyTheGuardMakesTenantHandles keeps tenant isolation structural:
// the only call that turns a tenant id into a store handle is in the
// authorization guard (authz.go), which makes it from the path after
// authorizing; handlers take the handle from the request context. A
// handler calling DB.Tenant itself could name any tenant, so this test
// fails on any other call.
func TestOnlyTheGuardMakesTenantHandles(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Tenant" {
				return true
			}
			seen++
			if name != "authz.go" {
				t.Errorf("%s: %s calls .Tenant(); only the guard in authz.go may make tenant handles", fset.Position(call.Pos()), name)
			}
			return true
		})
	}
	if seen != 1 {
		t.Errorf("found %d .Tenant() calls, want exactly the guard's", seen)
	}
}
