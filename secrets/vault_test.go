package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/kms"
	"github.com/sluicehq/sluice/secrets"
	"github.com/sluicehq/sluice/store"
)

var ctx = context.Background()

func TestRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, k1, _ secrets.KMS) {
		db := memDB(t)
		v := newVault(t, secrets.Config{Store: db, KMS: k1})
		acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
		put := map[string]map[string]string{
			"c1":  {"client_id": "id-acme", "client_secret": "cs-acme-Zq9", "api_key": "ak-acme-1"},
			"c10": {"api_key": "ak-acme-c10"}, // c1 is a prefix of c10
		}
		for conn, kv := range put {
			for name, val := range kv {
				mustNil(t, v.Put(ctx, acme, conn, name, val))
			}
		}
		mustNil(t, v.Put(ctx, globex, "c1", "api_key", "ak-globex"))

		names, err := v.Names(ctx, acme, "c1")
		mustNil(t, err)
		if want := []string{"api_key", "client_id", "client_secret"}; !slices.Equal(names, want) {
			t.Errorf("Names = %v, want %v", names, want)
		}
		wantOpen(t, v, acme, "c1", put["c1"])
		wantOpen(t, v, acme, "c10", put["c10"])
		wantOpen(t, v, globex, "c1", map[string]string{"api_key": "ak-globex"})

		// Put replaces.
		mustNil(t, v.Put(ctx, acme, "c1", "api_key", "ak-acme-2"))
		put["c1"]["api_key"] = "ak-acme-2"
		wantOpen(t, v, acme, "c1", put["c1"])

		// No secrets: empty, no data key needed.
		wantOpen(t, v, acme, "c2", map[string]string{})
		wantOpen(t, v, tenant(t, db, "initech"), "c1", map[string]string{})

		// One data key per tenant, wrapped by the configured KMS, bound
		// to the tenant.
		for _, tn := range []*store.Tenant{acme, globex} {
			rec := dekRecord(t, tn)
			if rec.KMS != k1.KeyID() || len(rec.Wrapped) == 0 || len(rec.ID) != 16 {
				t.Errorf("%s: DEK record %+v", tn.ID(), rec)
			}
		}
		if _, err := tenant(t, db, "initech").Key(ctx, "dek"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a tenant without secrets has a data key: %v", err)
		}
	})
}

type record struct {
	V       int    `json:"v"`
	ID      string `json:"id"`
	KMS     string `json:"kms"`
	Wrapped []byte `json:"wrapped"`
}

func dekRecord(t *testing.T, tn *store.Tenant) record {
	t.Helper()
	raw, err := tn.Key(ctx, "dek")
	mustNil(t, err)
	var r record
	mustNil(t, json.Unmarshal(raw, &r))
	return r
}

// A sealed blob, or a wrapped data key, copied anywhere else does not
// open, and the error names the secret, never its value.
func TestBinding(t *testing.T) {
	const value = "sk_live_binding-VALUE-7f3a"
	eachBackend(t, func(t *testing.T, k1, _ secrets.KMS) {
		for name, c := range map[string]struct {
			tenant, conn, name string
			copyDEK            bool // also copy acme's DEK record
			want               error
		}{
			"other name":                 {"acme", "c1", "client_secret", false, secrets.ErrSealed},
			"other connection":           {"acme", "c2", "api_key", false, secrets.ErrSealed},
			"other tenant":               {"globex", "c1", "api_key", false, secrets.ErrSealed},
			"other tenant, no data key":  {"initech", "c1", "api_key", false, secrets.ErrDataKey},
			"other tenant with data key": {"umbrella", "c1", "api_key", true, secrets.ErrDataKey},
		} {
			t.Run(name, func(t *testing.T) {
				db := memDB(t)
				v := newVault(t, secrets.Config{Store: db, KMS: k1})
				acme, dst := tenant(t, db, "acme"), tenant(t, db, c.tenant)
				mustNil(t, v.Put(ctx, acme, "c1", "api_key", value))
				mustNil(t, v.Put(ctx, tenant(t, db, "globex"), "c9", "x", "globex-has-a-dek"))
				blob, err := acme.Secret(ctx, "c1", "api_key")
				mustNil(t, err)
				mustNil(t, dst.PutSecret(ctx, c.conn, c.name, blob))
				if c.copyDEK {
					rec, err := acme.Key(ctx, "dek")
					mustNil(t, err)
					mustNil(t, dst.PutKey(ctx, "dek", rec))
				}
				got, err := v.Open(ctx, dst, c.conn)
				if !errors.Is(err, c.want) || got != nil {
					t.Fatalf("Open = %v, %v; want %v", got, err, c.want)
				}
				if strings.Contains(err.Error(), value) {
					t.Errorf("error shows the value: %v", err)
				}
				if c.want == secrets.ErrSealed && !strings.Contains(err.Error(), `"`+c.name+`"`) {
					t.Errorf("error does not name the secret %q: %v", c.name, err)
				}
				if c.copyDEK && !errors.Is(err, kms.ErrDecrypt) && !errors.Is(err, kms.ErrWrongKey) {
					t.Errorf("copied data key: the KMS did not refuse it: %v", err)
				}
				// The original still opens.
				mustNil(t, dst.DeleteSecret(ctx, c.conn, c.name))
				wantOpen(t, v, acme, "c1", map[string]string{"api_key": value})
			})
		}
	})
}

func TestTampered(t *testing.T) {
	const value = "sk_live_tamper-VALUE-91c"
	eachBackend(t, func(t *testing.T, k1, _ secrets.KMS) {
		db := memDB(t)
		v := newVault(t, secrets.Config{Store: db, KMS: k1})
		acme := tenant(t, db, "acme")
		mustNil(t, v.Put(ctx, acme, "c1", "api_key", value))
		good, err := acme.Secret(ctx, "c1", "api_key")
		mustNil(t, err)

		t.Run("sealed secret", func(t *testing.T) {
			for name, bad := range map[string][]byte{
				"version":   flip(good, 0),
				"data key":  flip(good, 3),
				"nonce":     flip(good, 12),
				"body":      flip(good, 22),
				"tag":       flip(good, len(good)-1),
				"truncated": good[:len(good)-1],
				"header":    good[:9],
			} {
				mustNil(t, acme.PutSecret(ctx, "c1", "api_key", bad))
				got, err := v.Open(ctx, acme, "c1")
				if !errors.Is(err, secrets.ErrSealed) || got != nil {
					t.Errorf("%s: Open = %v, %v; want ErrSealed", name, got, err)
				} else if strings.Contains(err.Error(), value) {
					t.Errorf("%s: error shows the value: %v", name, err)
				}
			}
			mustNil(t, acme.PutSecret(ctx, "c1", "api_key", good))
			wantOpen(t, v, acme, "c1", map[string]string{"api_key": value})
		})

		t.Run("wrapped data key", func(t *testing.T) {
			rec := dekRecord(t, acme)
			orig, err := acme.Key(ctx, "dek")
			mustNil(t, err)
			for name, mutate := range map[string]func(r *record){
				"last byte":  func(r *record) { r.Wrapped = flip(r.Wrapped, len(r.Wrapped)-1) },
				"first byte": func(r *record) { r.Wrapped = flip(r.Wrapped, 0) },
				"truncated":  func(r *record) { r.Wrapped = r.Wrapped[:len(r.Wrapped)-1] },
			} {
				bad := rec
				mutate(&bad)
				raw, _ := json.Marshal(bad)
				mustNil(t, acme.PutKey(ctx, "dek", raw))
				fresh := newVault(t, secrets.Config{Store: db, KMS: k1}) // no cached key
				_, err := fresh.Open(ctx, acme, "c1")
				if !errors.Is(err, secrets.ErrDataKey) || (!errors.Is(err, kms.ErrDecrypt) && !errors.Is(err, kms.ErrWrongKey)) {
					t.Errorf("%s: Open = %v; want ErrDataKey from a KMS refusal", name, err)
				}
			}
			for name, raw := range map[string]string{
				"not json":      "{",
				"unknown field": `{"v":1,"id":"0011223344556677","kms":"k","wrapped":"AA==","x":1}`,
				"version 2":     `{"v":2,"id":"0011223344556677","kms":"k","wrapped":"AA=="}`,
				"short id":      `{"v":1,"id":"00","kms":"k","wrapped":"AA=="}`,
				"no kms":        `{"v":1,"id":"0011223344556677","kms":"","wrapped":"AA=="}`,
				"no key":        `{"v":1,"id":"0011223344556677","kms":"k"}`,
			} {
				mustNil(t, acme.PutKey(ctx, "dek", []byte(raw)))
				fresh := newVault(t, secrets.Config{Store: db, KMS: k1})
				if _, err := fresh.Open(ctx, acme, "c1"); !errors.Is(err, secrets.ErrDataKey) {
					t.Errorf("%s record: Open = %v; want ErrDataKey", name, err)
				}
			}
			mustNil(t, acme.PutKey(ctx, "dek", orig))
			wantOpen(t, newVault(t, secrets.Config{Store: db, KMS: k1}), acme, "c1", map[string]string{"api_key": value})
		})
	})
}

func flip(b []byte, i int) []byte {
	out := slices.Clone(b)
	out[i] ^= 0x01
	return out
}

func TestRotation(t *testing.T) {
	eachBackend(t, func(t *testing.T, k1, k2 secrets.KMS) {
		db := memDB(t)
		v := newVault(t, secrets.Config{Store: db, KMS: k1})
		acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
		mustNil(t, v.Put(ctx, acme, "c1", "api_key", "ak-old"))
		mustNil(t, v.Put(ctx, globex, "c1", "api_key", "ak-globex"))

		t.Run("secret value", func(t *testing.T) {
			mustNil(t, v.Rotate(ctx, acme, "c1", "api_key", "ak-new"))
			wantOpen(t, v, acme, "c1", map[string]string{"api_key": "ak-new"})
			err := v.Rotate(ctx, acme, "c1", "missing", "x")
			var se *secrets.SecretError
			if !errors.Is(err, secrets.ErrNotFound) || !errors.As(err, &se) || se.Name != "missing" {
				t.Errorf("Rotate(missing) = %v, want a *SecretError matching ErrNotFound", err)
			}
			if names, _ := v.Names(ctx, acme, "c1"); !slices.Equal(names, []string{"api_key"}) {
				t.Errorf("Rotate(missing) created a secret: %v", names)
			}
		})

		t.Run("KMS key", func(t *testing.T) {
			before := dekRecord(t, acme)
			mustNil(t, v.RewrapDEK(ctx, acme, k2))
			after := dekRecord(t, acme)
			if after.KMS != k2.KeyID() || after.ID != before.ID || slices.Equal(after.Wrapped, before.Wrapped) {
				t.Fatalf("after RewrapDEK: record %+v, before %+v", after, before)
			}
			want := map[string]string{"api_key": "ak-new"}
			wantOpen(t, v, acme, "c1", want)                                               // cached
			wantOpen(t, newVault(t, secrets.Config{Store: db, KMS: k2}), acme, "c1", want) // new key only
			_, err := newVault(t, secrets.Config{Store: db, KMS: k1}).Open(ctx, acme, "c1")
			if !errors.Is(err, secrets.ErrUnknownKey) || !strings.Contains(err.Error(), k2.KeyID()) {
				t.Errorf("vault with the old key only: %v, want ErrUnknownKey naming %s", err, k2.KeyID())
			}

			// The rotation procedure: new KMS, old one retired, RewrapAll.
			rv := newVault(t, secrets.Config{Store: db, KMS: k2, Retired: []secrets.KMS{k1}})
			wantOpen(t, rv, globex, "c1", map[string]string{"api_key": "ak-globex"}) // still under k1
			mustNil(t, tenant(t, db, "initech").PutSecret(ctx, "c1", "foreign", []byte("no dek here")))
			n, err := rv.RewrapAll(ctx, k2)
			if err != nil || n != 2 {
				t.Fatalf("RewrapAll = %d, %v; want 2 tenants (initech has no data key)", n, err)
			}
			if got := dekRecord(t, globex).KMS; got != k2.KeyID() {
				t.Errorf("globex still wrapped by %s", got)
			}
			again, _ := globex.Key(ctx, "dek")
			if n, err := rv.RewrapAll(ctx, k2); err != nil || n != 2 {
				t.Errorf("second RewrapAll = %d, %v", n, err)
			}
			if now, _ := globex.Key(ctx, "dek"); !slices.Equal(now, again) {
				t.Error("a second RewrapAll rewrote an already rewrapped key")
			}
			wantOpen(t, newVault(t, secrets.Config{Store: db, KMS: k2}), globex, "c1", map[string]string{"api_key": "ak-globex"})
			if err := rv.RewrapDEK(ctx, tenant(t, db, "initech"), k2); !errors.Is(err, secrets.ErrNotFound) {
				t.Errorf("RewrapDEK without a data key = %v, want ErrNotFound", err)
			}
		})
	})
}

func TestDelete(t *testing.T) {
	eachBackend(t, func(t *testing.T, k1, _ secrets.KMS) {
		db := memDB(t)
		v := newVault(t, secrets.Config{Store: db, KMS: k1})
		acme := tenant(t, db, "acme")
		for _, n := range []string{"a", "b", "c"} {
			mustNil(t, v.Put(ctx, acme, "c1", n, "val-"+n))
		}
		mustNil(t, v.Put(ctx, acme, "c10", "a", "keep"))

		mustNil(t, v.Delete(ctx, acme, "c1", "b"))
		wantOpen(t, v, acme, "c1", map[string]string{"a": "val-a", "c": "val-c"})
		if err := v.Delete(ctx, acme, "c1", "b"); !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("second Delete = %v, want ErrNotFound", err)
		}

		mustNil(t, v.DeleteConnection(ctx, acme, "c1"))
		if names, err := v.Names(ctx, acme, "c1"); err != nil || len(names) != 0 {
			t.Errorf("Names after DeleteConnection = %v, %v", names, err)
		}
		if raw, err := acme.Secrets(ctx, "c1"); err != nil || len(raw) != 0 {
			t.Errorf("store still holds %d sealed secrets of c1 (%v)", len(raw), err)
		}
		wantOpen(t, v, acme, "c10", map[string]string{"a": "keep"})
		mustNil(t, v.DeleteConnection(ctx, acme, "c1")) // nothing left: no error
	})
}

func TestInvalid(t *testing.T) {
	db := memDB(t)
	k := openLocal(t, t.TempDir()+"/kms.key")
	v := newVault(t, secrets.Config{Store: db, KMS: k})
	acme := tenant(t, db, "acme")
	for name, c := range map[string]struct {
		err   error
		field string
		store bool // also a store.ErrInvalid
	}{
		"empty value":       {v.Put(ctx, acme, "c1", "a", ""), "value", false},
		"large value":       {v.Put(ctx, acme, "c1", "a", strings.Repeat("x", secrets.MaxValueBytes+1)), "value", false},
		"empty rotate":      {v.Rotate(ctx, acme, "c1", "a", ""), "value", false},
		"bad connection":    {v.Put(ctx, acme, "C1", "a", "v"), "connection", true},
		"bad name":          {v.Put(ctx, acme, "c1", "a/b", "v"), "secret name", true},
		"names bad conn":    {func() error { _, err := v.Names(ctx, acme, "c/1"); return err }(), "connection", true},
		"open bad conn":     {func() error { _, err := v.Open(ctx, acme, ""); return err }(), "connection", true},
		"delete bad name":   {v.Delete(ctx, acme, "c1", ""), "secret name", true},
		"rewrap nil":        {v.RewrapDEK(ctx, acme, nil), "newKMS", false},
		"nil tenant put":    {v.Put(ctx, nil, "c1", "a", "v"), "tenant", false},
		"nil tenant open":   {func() error { _, err := v.Open(ctx, nil, "c1"); return err }(), "tenant", false},
		"nil tenant del":    {v.DeleteConnection(ctx, nil, "c1"), "tenant", false},
		"nil tenant rewrap": {v.RewrapDEK(ctx, nil, k), "tenant", false},
		"no store":          {newErr(secrets.Config{KMS: k}), "config.Store", false},
		"no kms":            {newErr(secrets.Config{Store: db}), "config.KMS", false},
		"nil retired":       {newErr(secrets.Config{Store: db, KMS: k, Retired: []secrets.KMS{nil}}), "config.Retired[0]", false},
		"negative cache":    {newErr(secrets.Config{Store: db, KMS: k, CacheSize: -1}), "config.CacheSize", false},
	} {
		var fe *secrets.FieldError
		if !errors.As(c.err, &fe) || fe.Field != c.field || !errors.Is(c.err, secrets.ErrInvalid) {
			t.Errorf("%s: %v, want a *FieldError for %q", name, c.err, c.field)
			continue
		}
		if errors.Is(c.err, store.ErrInvalid) != c.store {
			t.Errorf("%s: errors.Is(store.ErrInvalid) = %v", name, !c.store)
		}
	}
}

func newErr(cfg secrets.Config) error {
	v, err := secrets.New(cfg)
	if v != nil {
		return errors.New("New returned a vault")
	}
	return err
}

func TestDataKeyCacheIsBounded(t *testing.T) {
	db := memDB(t)
	k := &countingKMS{KMS: openLocal(t, t.TempDir()+"/kms.key")}
	v := newVault(t, secrets.Config{Store: db, KMS: k, CacheSize: 2})
	ids := []string{"acme", "globex", "initech"}
	for _, id := range ids {
		mustNil(t, v.Put(ctx, tenant(t, db, id), "c1", "a", "v-"+id))
	}
	if n := k.encrypts.Load(); n != 3 {
		t.Fatalf("%d wraps for 3 tenants, want 3", n)
	}
	unwraps := func() int64 { return k.decrypts.Swap(0) }
	unwraps()
	// Cache (most recent first): initech, globex. acme was evicted.
	for i, step := range []struct {
		tenant string
		want   int64
	}{
		{"initech", 0}, {"globex", 0}, {"acme", 1}, {"acme", 0}, {"initech", 1}, {"globex", 1},
	} {
		wantOpen(t, v, tenant(t, db, step.tenant), "c1", map[string]string{"a": "v-" + step.tenant})
		if got := unwraps(); got != step.want {
			t.Errorf("step %d (%s): %d unwraps, want %d", i, step.tenant, got, step.want)
		}
	}
}

// Concurrent first Puts of a tenant make one data key: none of the
// secrets is sealed under a key that a racing Put then replaced.
func TestConcurrentFirstPut(t *testing.T) {
	db := memDB(t)
	k := &countingKMS{KMS: openLocal(t, t.TempDir()+"/kms.key")}
	v := newVault(t, secrets.Config{Store: db, KMS: k})
	acme := tenant(t, db, "acme")
	want := map[string]string{}
	var wg sync.WaitGroup
	for i := range 16 {
		name := "s" + string(rune('a'+i))
		want[name] = "value-" + name
		wg.Go(func() {
			if err := v.Put(ctx, acme, "c1", name, "value-"+name); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := k.encrypts.Load(); n != 1 {
		t.Errorf("%d data keys wrapped, want 1", n)
	}
	wantOpen(t, newVault(t, secrets.Config{Store: db, KMS: k}), acme, "c1", want)
}

func TestKMSDown(t *testing.T) {
	db := memDB(t)
	k := &countingKMS{KMS: openLocal(t, t.TempDir()+"/kms.key")}
	v := newVault(t, secrets.Config{Store: db, KMS: k, CacheSize: 1})
	acme, globex := tenant(t, db, "acme"), tenant(t, db, "globex")
	mustNil(t, v.Put(ctx, acme, "c1", "a", "v"))
	down := errKMSDown
	k.fail.Store(&down)

	err := v.Put(ctx, globex, "c1", "a", "sk-down-VALUE")
	if !errors.Is(err, secrets.ErrDataKey) || !errors.Is(err, errKMSDown) {
		t.Errorf("Put with the KMS down = %v", err)
	}
	if raw, _ := globex.Secrets(ctx, "c1"); len(raw) != 0 {
		t.Error("a secret was stored without a data key")
	}
	if _, err := globex.Key(ctx, "dek"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a data key record was stored though wrapping failed: %v", err)
	}
	// Nothing was cached for globex, so acme's cached key still serves.
	wantOpen(t, v, acme, "c1", map[string]string{"a": "v"})
	_, err = newVault(t, secrets.Config{Store: db, KMS: k}).Open(ctx, acme, "c1")
	if !errors.Is(err, secrets.ErrDataKey) || !errors.Is(err, errKMSDown) {
		t.Errorf("Open with the KMS down and no cached key = %v", err)
	}
}
