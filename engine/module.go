package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/hostfns"
)

// Module is a loaded connector: its manifest, the digest of its code and
// the compiled schemas of its object types. It is immutable and may be
// shared by runs of every tenant; instances are not.
type Module struct {
	Manifest *protocol.Manifest
	// Digest is "sha256:" + hex of the module bytes ("native:" + id for a
	// natively linked connector).
	Digest   string
	Imports  []Import
	schemas  *hostfns.Schemas
	guest    guest
	released atomic.Bool
}

// compiledEntry is one compiled module shared by every Module of its
// digest; refs counts those not yet released.
type compiledEntry struct {
	plugin *extism.CompiledPlugin
	refs   int
}

// Digest returns the digest string of module bytes as Module.Digest
// spells it.
func Digest(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Load checks a module's imports, compiles it (or reuses the compiled
// code of the same digest) and pairs it with its manifest, which must
// already be valid (see package manifest).
func (e *Engine) Load(ctx context.Context, wasm []byte, m *protocol.Manifest) (*Module, error) {
	if m == nil {
		return nil, fmt.Errorf("engine: load: manifest is required")
	}
	schemas, err := hostfns.CompileSchemas(m)
	if err != nil {
		return nil, fmt.Errorf("engine: load %s: %w", m.ID, err)
	}
	digest := Digest(wasm)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, fmt.Errorf("engine: closed")
	}
	cache, err := e.compilationCache()
	if err != nil {
		return nil, err
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(cache).
		WithMemoryLimitPages(e.limits.MemoryPages).
		WithCloseOnContextDone(!e.cfg.UnsafeNoInterrupts)
	checker := wazero.NewRuntimeWithConfig(ctx, rc)
	imports, err := checkImports(ctx, checker, wasm)
	_ = checker.Close(ctx)
	if err != nil {
		return nil, err
	}
	entry, ok := e.compiled[digest]
	if !ok {
		manifest := extism.Manifest{
			Wasm: []extism.Wasm{extism.WasmData{Data: wasm}},
			// Every limit explicit: a zero-valued Memory would leave HTTP
			// bodies and vars at Extism's defaults.
			Memory: &extism.ManifestMemory{
				MaxPages:             e.limits.MemoryPages,
				MaxHttpResponseBytes: 0,
				MaxVarBytes:          0,
			},
			AllowedHosts: nil,
			AllowedPaths: nil,
			Config:       nil,
			Timeout:      0,
		}
		compiled, err := extism.NewCompiledPlugin(ctx, manifest, extism.PluginConfig{
			RuntimeConfig: rc,
			EnableWasi:    true,
		}, hostfns.Functions())
		if err != nil {
			return nil, fmt.Errorf("%w: compile: %v", ErrInvalidModule, err)
		}
		entry = &compiledEntry{plugin: compiled}
		e.compiled[digest] = entry
	}
	entry.refs++
	return &Module{
		Manifest: m,
		Digest:   digest,
		Imports:  imports,
		schemas:  schemas,
		guest:    &wasmGuest{e: e, digest: digest, compiled: entry.plugin},
	}, nil
}

// LoadNative pairs a natively linked connector with its manifest. Runs of
// a native module go through the same host functions, store and receipts
// as a Wasm module; only the sandbox is absent. It exists to measure the
// sandbox's cost and to test connector logic; never load partner code
// this way.
func (e *Engine) LoadNative(m *protocol.Manifest, fn NativeFunc) (*Module, error) {
	if m == nil || fn == nil {
		return nil, fmt.Errorf("engine: load native: manifest and function are required")
	}
	schemas, err := hostfns.CompileSchemas(m)
	if err != nil {
		return nil, fmt.Errorf("engine: load native %s: %w", m.ID, err)
	}
	return &Module{
		Manifest: m,
		Digest:   "native:" + m.ID + "@" + m.Version,
		schemas:  schemas,
		guest:    &nativeGuest{fn: fn, limits: e.limits},
	}, nil
}

// compilationCache opens the on-disk cache once. Caller holds e.mu.
func (e *Engine) compilationCache() (wazero.CompilationCache, error) {
	if e.cache != nil {
		return e.cache, nil
	}
	if e.cfg.CacheDir == "" {
		e.cache = wazero.NewCompilationCache()
		return e.cache, nil
	}
	// The cache holds machine code and is not signed: owner-only.
	if err := os.MkdirAll(e.cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("engine: compilation cache: %w", err)
	}
	if err := os.Chmod(e.cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("engine: compilation cache: %w", err)
	}
	c, err := wazero.NewCompilationCacheWithDir(e.cfg.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("engine: compilation cache: %w", err)
	}
	e.cache = c
	return c, nil
}

// Release gives back a module from Load. When no loaded Module of the
// same digest remains, the compiled code and pooled instances are
// dropped (after a rejected upload, or when no connection uses a version
// any more); a later Load compiles it again from the disk cache.
func (e *Engine) Release(ctx context.Context, m *Module) error {
	g, ok := m.guest.(*wasmGuest)
	if !ok || m.released.Swap(true) {
		return nil
	}
	e.mu.Lock()
	entry, ok := e.compiled[g.digest]
	if !ok || entry.plugin != g.compiled {
		e.mu.Unlock()
		return nil
	}
	entry.refs--
	if entry.refs > 0 {
		e.mu.Unlock()
		return nil
	}
	delete(e.compiled, g.digest)
	e.mu.Unlock()
	e.pool.drop(ctx, g.digest)
	return entry.plugin.Close(ctx)
}
