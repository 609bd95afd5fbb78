package secrets_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
)

// Every operation, failing ones included, with logs at Debug: no error
// and no log line holds a secret value; the logs do name the secrets.
func TestNoSecretValueInErrorsOrLogs(t *testing.T) {
	values := []string{
		"sk_live_HYGIENE-1-b7e2", "HYGIENE-2-client-secret", "HYGIENE-3-rotated",
		"HYGIENE-4-huge-" + strings.Repeat("z", secrets.MaxValueBytes),
	}
	eachBackendLog(t, func(t *testing.T, k1, k2 secrets.KMS, serverLog func() string) {
		var logs logBuffer
		db := memDB(t)
		ck := &countingKMS{KMS: k1}
		v := newVault(t, secrets.Config{Store: db, KMS: ck, Logger: debugLogger(&logs), CacheSize: 1})
		acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
		var errs []error
		try := func(err error) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		open := func(tn *store.Tenant, conn string) {
			m, err := v.Open(ctx, tn, conn)
			if err == nil && len(m) == 0 && conn == "c1" {
				t.Errorf("Open(%s, c1) found nothing", tn.ID())
			}
			try(err)
		}

		try(v.Put(ctx, acme, "c1", "api_key", values[0]))
		try(v.Put(ctx, acme, "c1", "client_secret", values[1]))
		try(v.Rotate(ctx, acme, "c1", "client_secret", values[2]))
		try(v.Put(ctx, globex, "c1", "api_key", values[1]))
		open(acme, "c1")
		open(globex, "c1")
		_, err := v.Names(ctx, acme, "c1")
		try(err)
		try(v.RewrapDEK(ctx, acme, k2))
		// Failures.
		try(v.Put(ctx, acme, "c1", "too_big", values[3]))
		try(v.Put(ctx, acme, "BAD", "api_key", values[0]))
		try(v.Put(ctx, acme, "c1", "bad/name", values[0]))
		try(v.Rotate(ctx, acme, "c1", "missing", values[0]))
		blob, _ := acme.Secret(ctx, "c1", "api_key")
		mustNil(t, acme.PutSecret(ctx, "c1", "moved", blob))
		mustNil(t, globex.PutSecret(ctx, "c1", "moved", blob))
		open(acme, "c1")
		open(globex, "c1")
		down := errKMSDown
		ck.fail.Store(&down)
		try(v.Put(ctx, tenant(t, db, "initech"), "c1", "api_key", values[0]))
		open(globex, "c1") // acme's key is the cached one
		ck.fail.Store(nil)
		try(v.Delete(ctx, acme, "c1", "missing"))
		try(v.DeleteConnection(ctx, acme, "c1"))

		if len(errs) < 9 {
			t.Fatalf("only %d errors collected; the failing calls did not fail: %v", len(errs), errs)
		}
		for _, err := range errs {
			for _, val := range values {
				if strings.Contains(err.Error(), val[:16]) {
					t.Errorf("error holds a secret value: %v", err)
				}
			}
		}
		out := logs.String()
		for _, want := range []string{"tenant data key created", "tenant data key rewrapped", `"secret":"client_secret"`} {
			if !strings.Contains(out, want) {
				t.Errorf("logs lack %q: the capture is not working\n%s", want, out)
			}
		}
		if serverLog != nil {
			// The KMS server logged the data-key calls, never a secret.
			srv := serverLog()
			if !strings.Contains(srv, "Encryption called") {
				t.Errorf("the KMS server log lacks the data-key wraps:\n%s", srv)
			}
			out += srv
		}
		for _, val := range values {
			if strings.Contains(out, val[:16]) {
				t.Errorf("logs hold a secret value:\n%s", out)
			}
		}
	})
}

// After Put, no file of the Badger folder holds a secret value in
// plain text. Badger compresses its tables (Snappy), which can hide a
// string from a byte scan, so the scan is made three ways: the raw files
// while the store is open (the write-ahead log is not compressed, and the
// same scan must find the secret names, so it reads the data), the raw
// files after Close, and every version of every key and value read back
// through Badger after Close.
func TestStoreFilesHoldNoPlaintext(t *testing.T) {
	values := []string{"sk_live_SCAN-1-4d9f0a", "SCAN-2-refresh-token-77", "SCAN-3-rotated-value"}
	names := []string{"api_key_scan", "refresh_token_scan"}
	eachBackend(t, func(t *testing.T, k1, _ secrets.KMS) {
		dir := t.TempDir()
		// Small files: the scan reads a few MiB, not a sparse 1 GiB value log.
		db, err := store.Open(store.Options{Dir: dir, SyncWrites: true, ValueLogFileSize: 1 << 20, MemTableSize: 1 << 20})
		mustNil(t, err)
		v := newVault(t, secrets.Config{Store: db, KMS: k1})
		acme := tenant(t, db, "acme")
		mustNil(t, v.Put(ctx, acme, "c1", names[0], values[0]))
		mustNil(t, v.Put(ctx, acme, "c1", names[1], values[1]))
		mustNil(t, v.Rotate(ctx, acme, "c1", names[0], values[2]))

		open := readFiles(t, dir)
		for _, name := range names {
			if !bytes.Contains(open, []byte(name)) {
				t.Fatalf("the raw scan does not find the secret name %q: it cannot be reading the data", name)
			}
		}
		mustNil(t, db.Close())
		closed := readFiles(t, dir)
		logical := readBadger(t, dir)
		if !bytes.Contains(logical, []byte(names[1])) {
			t.Fatalf("the Badger scan does not find the secret name %q", names[1])
		}
		for _, val := range values {
			for what, b := range map[string][]byte{"open store": open, "closed store": closed, "Badger entries": logical} {
				if bytes.Contains(b, []byte(val)) {
					t.Errorf("%s: the secret value %q is in plain text", what, val)
				}
			}
		}
	})
}

// readFiles concatenates every file under dir.
func readFiles(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all = append(all, b...)
		return err
	})
	mustNil(t, err)
	if len(all) == 0 {
		t.Fatal("the Badger folder is empty")
	}
	return all
}

// readBadger opens the closed store's folder with Badger itself and
// concatenates every version of every key and value, deleted ones too.
func readBadger(t *testing.T, dir string) []byte {
	t.Helper()
	bdb, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	mustNil(t, err)
	defer bdb.Close()
	var all []byte
	err = bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			all = append(all, it.Item().KeyCopy(nil)...)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			all = append(all, v...)
		}
		return nil
	})
	mustNil(t, err)
	return all
}
