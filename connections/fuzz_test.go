package connections

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
)

// FuzzCheckRedirect: a redirect URI comes from the API caller. What is
// accepted is an absolute http(s) URL without fragment or user info.
func FuzzCheckRedirect(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1:8080/v1/oauth/callback", "https://sluice.example/cb?x=1", "/relative",
		"https://u:p@host/cb", "https://host/cb#frag", "javascript:alert(1)", "http://[::1", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := checkRedirect(raw)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "redirect_uri" {
				t.Fatalf("%q: error %v is not a FieldError on redirect_uri", raw, err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.User != nil {
			t.Fatalf("accepted %q", raw)
		}
	})
}

// FuzzCallback: the state and code of the OAuth callback are whatever
// the browser brings. Unknown states fail cleanly, never panic, and never
// echo the input back at length.
func FuzzCallback(f *testing.F) {
	db, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key)})
	if err != nil {
		f.Fatal(err)
	}
	m, err := New(Config{Store: db, Engine: eng, Modules: noModules{}, Secrets: noSecrets{}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "x", strings.Repeat("a", 5000), "../../p/conn/oauth", "\x00\xff", "state with spaces"} {
		f.Add(s, "code")
	}
	f.Fuzz(func(t *testing.T, state, code string) {
		ctx := context.Background()
		_, _, err := m.CompleteOAuth(ctx, state, code)
		if !errors.Is(err, ErrOAuthState) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("CompleteOAuth(%q, %q) = %v, want ErrOAuthState or ErrInvalid", state, code, err)
		}
		_, _, err = m.DenyOAuth(ctx, state, code, code)
		if !errors.Is(err, ErrOAuthState) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("DenyOAuth(%q) = %v", state, err)
		}
		if len(state) > 64 && strings.Contains(err.Error(), state) {
			t.Fatalf("the error echoes the state: %v", err)
		}
	})
}

type noModules struct{}

func (noModules) Load(context.Context, string, string) (*engine.Module, error) {
	return nil, errors.New("no modules")
}

type noSecrets struct{}

func (noSecrets) Put(context.Context, *store.Tenant, string, string, string) error { return nil }
func (noSecrets) Open(context.Context, *store.Tenant, string) (map[string]string, error) {
	return map[string]string{}, nil
}
func (noSecrets) DeleteConnection(context.Context, *store.Tenant, string) error { return nil }
