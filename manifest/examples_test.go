package manifest_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/manifest"
)

// TestExampleConnectorsShipARunbookPerErrorType holds every example
// connector (connectors-wasm/NAME) to its runbooks: each error type its
// code declares (an ErrorType… constant of package connector, or the Type
// of an sdk.TypedError it returns) has a runbooks entry in connector.json
// whose file exists beside it and is a page about that type, and every
// runbooks/*.md is named (the registry refuses an unnamed runbook). A new
// error type without a runbook fails here, before an operator meets a
// dead-letter item that links nothing.
func TestExampleConnectorsShipARunbookPerErrorType(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "connectors-wasm", "*", "connector.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no example connector found (%v)", err)
	}
	sdkConsts, _ := stringConsts(t, filepath.Join("..", "guest-sdk", "sdk"))
	for _, path := range paths {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			doc, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			m, err := manifest.Parse(doc)
			if err != nil {
				t.Fatalf("connector.json: %v", err)
			}
			named := map[string]string{} // error type → runbook path
			for _, rb := range m.Runbooks {
				named[rb.ErrorType] = rb.Path
			}
			declared := declaredErrorTypes(t, filepath.Join(dir, "connector"), sdkConsts)
			if len(declared) == 0 {
				t.Fatal("found no error type in the connector's code")
			}
			for _, typ := range slices.Sorted(maps.Keys(declared)) {
				if named[typ] == "" {
					t.Errorf("error type %q (%s) has no runbook in connector.json", typ, declared[typ])
				}
			}
			for typ, rel := range named {
				md, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
				switch {
				case err != nil:
					t.Errorf("runbook of %q: %v", typ, err)
				case !bytes.HasPrefix(md, []byte("# ")) || !bytes.Contains(md, []byte("`"+typ+"`")):
					t.Errorf("%s: want a Markdown page with a title, about error type `%s`", rel, typ)
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "runbooks", "*"))
			for _, f := range files {
				if rel := "runbooks/" + filepath.Base(f); !slices.Contains(slices.Collect(maps.Values(named)), rel) {
					t.Errorf("%s is not named by connector.json: the registry refuses the bundle", rel)
				}
			}
		})
	}
}

// declaredErrorTypes maps each error type the non-test Go files of pkgDir
// declare to where: its ErrorType… constants, and the Type of every
// sdk.TypedError literal, resolved through the package's constants or
// the SDK's (sdkConsts). A Type that is not a constant fails the test: a
// variable would hide an error type from this check.
func declaredErrorTypes(t *testing.T, pkgDir string, sdkConsts map[string]string) map[string]string {
	t.Helper()
	local, files := stringConsts(t, pkgDir)
	declared := map[string]string{}
	for name, v := range local {
		if strings.HasPrefix(name, "ErrorType") {
			declared[v] = "constant " + name
		}
	}
	for _, f := range files {
		sdkName := importName(f.file, "/guest-sdk/sdk")
		ast.Inspect(f.file, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || !isSelector(lit.Type, sdkName, "TypedError") {
				return true
			}
			for _, el := range lit.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok || !isIdent(kv.Key, "Type") {
					continue
				}
				var v string
				switch x := kv.Value.(type) {
				case *ast.Ident:
					v, ok = local[x.Name]
				case *ast.SelectorExpr:
					v, ok = sdkConsts[x.Sel.Name]
					ok = ok && isIdent(x.X, sdkName)
				case *ast.BasicLit:
					var err error
					v, err = strconv.Unquote(x.Value)
					ok = err == nil
				}
				if !ok {
					t.Errorf("%s: sdk.TypedError's Type is not a constant this test can read", f.fset.Position(kv.Pos()))
					continue
				}
				declared[v] = "returned at " + filepath.Base(f.fset.Position(kv.Pos()).String())
			}
			return true
		})
	}
	return declared
}

type goFile struct {
	fset *token.FileSet
	file *ast.File
}

// stringConsts parses the non-test Go files of dir and returns its
// string constants by name, and the files.
func stringConsts(t *testing.T, dir string) (map[string]string, []goFile) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var files []goFile
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, goFile{fset, f})
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return consts, files
}

// importName is the name file f gives the import whose path ends with
// suffix ("" if it has none).
func importName(f *ast.File, suffix string) string {
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if !strings.HasSuffix(p, suffix) {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return p[strings.LastIndex(p, "/")+1:]
	}
	return ""
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && name != "" && id.Name == name
}

func isSelector(e ast.Expr, pkg, name string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == name && isIdent(sel.X, pkg)
}
