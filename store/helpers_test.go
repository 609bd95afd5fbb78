package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// t0 is the fixed clock of the tests.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 600, time.UTC)

const testConnector = "acme-crm"

// openDB opens a store in t.TempDir() with small Badger tables, so tests
// stay light; extra tweaks the options.
func openDB(t testing.TB, extra ...func(*Options)) *DB {
	t.Helper()
	opts := Options{Dir: t.TempDir(), ValueLogFileSize: 16 << 20, MemTableSize: 8 << 20}
	for _, f := range extra {
		f(&opts)
	}
	db, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func tenant(t testing.TB, db *DB, id string) *Tenant {
	t.Helper()
	tn, err := db.Tenant(id)
	if err != nil {
		t.Fatalf("Tenant(%q): %v", id, err)
	}
	return tn
}

func digestOf(data string) string {
	s := sha256.Sum256([]byte(data))
	return hex.EncodeToString(s[:])
}

// obj builds a valid object of tenant tn for connection conn.
func obj(tn *Tenant, typ, src, data string) Object {
	return Object{
		EntityID:   EntityID(tn.ID(), testConnector, typ, src),
		Connector:  testConnector,
		Type:       typ,
		SourceID:   src,
		Data:       []byte(data),
		Digest:     digestOf(data),
		UpdatedAt:  "2024-12-31T00:00:00Z",
		ObservedAt: t0,
	}
}

func edge(from, to Object, typ string) Edge {
	return Edge{
		Type: typ, From: from.EntityID, To: to.EntityID,
		FromRef:    protocol.Ref{Type: from.Type, ID: from.SourceID},
		ToRef:      protocol.Ref{Type: to.Type, ID: to.SourceID},
		Confidence: 1, ObservedAt: t0,
	}
}

func run(id, conn string) Run {
	return Run{
		ID: id, Connection: conn, Connector: testConnector, Version: "1.0.0",
		ModuleDigest: "sha256:abc", Kind: "sync", State: RunRunning, Full: true,
		Streams: []string{"contacts"}, StartedAt: t0,
	}
}

func commit(t testing.TB, tn *Tenant, p Page) PageResult {
	t.Helper()
	res, err := tn.CommitPage(context.Background(), p)
	if err != nil {
		t.Fatalf("CommitPage: %v", err)
	}
	return res
}

// dump returns every key and value in the database, in key order, one
// line each: "key = value" for a printable value, "key =" for an empty
// one, and "key =q" plus the Go-quoted bytes for any other.
func dump(t testing.TB, db *DB) []string {
	t.Helper()
	var out []string
	err := db.Badger().View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			out = append(out, string(it.Item().Key())+showValue(v))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return out
}

func showValue(v []byte) string {
	s := string(v)
	switch {
	case s == "":
		return " ="
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Sprintf(" =q %q", v)
	}
	return " = " + s
}
