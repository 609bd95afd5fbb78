package wasmbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Root returns the repository root: the nearest directory at or above
// the working directory that holds go.work. Test binaries run in their
// package's directory, so this finds the repository from any test.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	for {
		if fi, err := os.Stat(filepath.Join(dir, "go.work")); err == nil && fi.Mode().IsRegular() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoRoot
		}
		dir = parent
	}
}

// inflight serialises builds of the same output within a process, so
// parallel tests of one binary build a module once; across processes
// the atomic rename makes concurrent builds safe, only redundant. It is
// package state because the go command's work is per process, whatever
// caller asked for it.
var inflight sync.Map // output path -> *sync.Mutex

// Build builds package pkg (a path relative to moduleDir, such as
// "./directory") of the Go module in moduleDir as a wasip1 reactor and
// returns the path of the .wasm file. A relative moduleDir is taken
// relative to Root. The build runs
//
//	go build -buildmode=c-shared -trimpath -o OUT PKG
//
// in moduleDir with GOOS=wasip1 GOARCH=wasm GOWORK=off (every module of
// the repository resolves its siblings through replace directives), and
// is skipped when the cache already holds the output for the current
// sources. A failed build is a *BuildError carrying the compiler output.
func Build(ctx context.Context, moduleDir, pkg string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(moduleDir) {
		moduleDir = filepath.Join(root, moduleDir)
	}
	goVersion, err := goEnv(ctx, moduleDir, "GOVERSION")
	if err != nil {
		return "", err
	}
	digest, err := sourceDigest(goVersion+"\x00"+pkg, moduleDir, filepath.Join(root, "guest-sdk"))
	if err != nil {
		return "", err
	}
	cacheDir := filepath.Join(root, "build", "wasm-cache")
	out := filepath.Join(cacheDir, cacheName(moduleDir, pkg)+"-"+digest+".wasm")

	mu, _ := inflight.LoadOrStore(out, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	tmp, err := os.CreateTemp(cacheDir, filepath.Base(out)+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpPath) // a no-op once renamed

	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-trimpath", "-o", tmpPath, pkg)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOWORK=off", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", &BuildError{Pkg: pkg, Output: string(output), Err: err}
	}
	if err := os.Rename(tmpPath, out); err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	return out, nil
}

func goEnv(ctx context.Context, dir, name string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", name)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &BuildError{Pkg: "go env " + name, Output: stderr.String(), Err: err}
	}
	return strings.TrimSpace(string(out)), nil
}

// cacheName names a build after the last element of its package path,
// or of the module directory for ".": "directory", "endless-loop".
func cacheName(moduleDir, pkg string) string {
	name := filepath.Base(filepath.Clean(filepath.FromSlash(pkg)))
	if name == "." || name == string(filepath.Separator) {
		name = filepath.Base(moduleDir)
	}
	return name
}

// sourceDigest hashes salt and every file of dirs that can change a
// build, by path relative to its dir and content: .go files, go.mod,
// go.sum, and any other file, because //go:embed can put it in the
// module (the defect corpus embeds its connector.json). _test.go files
// are left out, since they never reach a module, and so are directories
// the go command ignores (testdata, names starting with "." or "_"),
// except a dir itself.
func sourceDigest(salt string, dirs ...string) (string, error) {
	h := sha256.New()
	writeField := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	writeField(salt)
	for _, dir := range dirs {
		var files []string
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != dir && ignoredDir(d.Name()) {
					return filepath.SkipDir
				}
				return nil
			}
			if buildInput(d.Name()) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("wasmbuild: hashing %s: %w", dir, err)
		}
		slices.Sort(files)
		writeField(filepath.Base(dir))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("wasmbuild: hashing: %w", err)
			}
			rel, _ := filepath.Rel(dir, f)
			writeField(filepath.ToSlash(rel))
			writeField(string(data))
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func ignoredDir(name string) bool {
	return name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

func buildInput(name string) bool {
	return !strings.HasSuffix(name, "_test.go") && !strings.HasPrefix(name, ".")
}
