package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"sort"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/store"
)

func isFinal(c Check) bool { return c.Final }

func contains(list []string, s string) bool { return slices.Contains(list, s) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// load checks the module's imports and loads it, once, before any check
// runs; static.imports reports the outcome.
func (e *Env) load(ctx context.Context) {
	if e.Manifest == nil || e.Module != nil || e.LoadErr != nil {
		return
	}
	e.Module, e.LoadErr = e.Engine.Load(ctx, e.Wasm, e.Manifest)
}

// limitError reports whether err is the host stopping a module at one of
// its limits (deadline, memory or other trap, output or record cap).
func limitError(err error) bool {
	return errors.Is(err, engine.ErrDeadline) || errors.Is(err, engine.ErrTrap) ||
		errors.Is(err, engine.ErrOutputTooLarge) || errors.Is(err, engine.ErrTooManyRecords)
}

// allObjects lists every object of a tenant's connection.
func allObjects(ctx context.Context, t *store.Tenant) ([]store.Object, error) {
	var out []store.Object
	after := ""
	for {
		objs, next, err := t.Objects(ctx, store.ListOptions{Connection: ConnID, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// allEdges lists every edge of a tenant's connection.
func allEdges(ctx context.Context, t *store.Tenant) ([]store.Edge, error) {
	var out []store.Edge
	after := ""
	for {
		edges, next, err := t.Edges(ctx, store.ListOptions{Connection: ConnID, After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		out = append(out, edges...)
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// sourceKey names an object by what the remote calls it.
func sourceKey(o store.Object) string { return o.Type + "/" + o.SourceID }

func sourceSet(objs []store.Object) map[string]string {
	m := make(map[string]string, len(objs))
	for _, o := range objs {
		m[sourceKey(o)] = o.EntityID
	}
	return m
}

// diffKeys lists up to n keys of a missing from b.
func diffKeys[V any](a, b map[string]V, n int) []string {
	var out []string
	for _, k := range sortedKeys(a) {
		if _, ok := b[k]; !ok {
			out = append(out, k)
			if len(out) == n {
				break
			}
		}
	}
	return out
}
