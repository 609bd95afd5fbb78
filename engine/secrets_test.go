package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/store"
)

// A secret value never appears in logs, receipts, tapes, emitted objects
// or anywhere in the store's files, even when a module tries to leak it.
func TestSecretsNeverLeak(t *testing.T) {
	const canary = "canary-7f3a9d2e51c4b8"
	r := newRig(t, rigOptions{})
	_, base := startSandbox(t, sandboxConfig(100))
	ctx := context.Background()
	var blobs []string
	for _, name := range []string{"directory", "secret-log"} {
		mod := r.module(name, nil)
		conn := r.conn("acme", mod, base)
		conn.ID = name
		conn.Config["canary"] = canary // a secret pasted into config by mistake
		conn.Secrets = append(conn.Secrets, canary)
		res, _ := r.eng.Sync(ctx, conn, engine.RunOptions{Full: true, Record: true})
		if res == nil {
			t.Fatalf("%s: no result", name)
		}
		blobs = append(blobs, string(res.Envelope))
		if res.Tape == nil {
			t.Fatalf("%s: no tape recorded", name)
		}
		tb, _ := json.Marshal(res.Tape)
		blobs = append(blobs, string(tb))
		objs, _, err := conn.Tenant.Objects(ctx, store.ListOptions{Connection: name, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			blobs = append(blobs, string(o.Data))
		}
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "[REDACTED]") {
		t.Fatalf("the secret-log module's attempt was not visible as a redaction in the logs:\n%.2000s", logs)
	}
	blobs = append(blobs, logs)
	for _, secret := range []string{clientSecret, canary} {
		for i, b := range blobs {
			if strings.Contains(b, secret) {
				t.Fatalf("secret %q found in blob %d", secret, i)
			}
		}
	}
	// The canary is in the connection config, so it is in tapes' inputs
	// only redacted; the store's files hold no secret either.
	_ = r.db.Close()
	err := filepath.Walk(r.dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, secret := range []string{clientSecret, canary} {
			if strings.Contains(string(b), secret) {
				t.Errorf("secret %q found in %s", secret, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
