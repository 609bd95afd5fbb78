package connections_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/engine"
)

func TestAuthorizationCodeFlow(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	c := must(r.m.Create(ctx, acme, r.authorizationCode("dir")))(t)
	if c.State != connections.StatePending || c.AccountID != "" {
		t.Fatalf("created = %+v, want pending", c)
	}
	if _, err := r.m.Connection(ctx, acme, "dir"); !errors.Is(err, connections.ErrState) {
		t.Errorf("Connection of a pending connection: %v, want ErrState", err)
	}
	authURL := must(r.m.StartOAuth(ctx, acme, "dir", callback))(t)
	u := must(url.Parse(authURL))(t)
	q := u.Query()
	if u.Path != "/oauth/authorize" || q.Get("response_type") != "code" || q.Get("client_id") != clientID ||
		q.Get("redirect_uri") != callback || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
		len(q.Get("state")) < 43 || q.Has("code_verifier") {
		t.Fatalf("authorization URL = %s", authURL)
	}
	state, code := r.consent(authURL)
	if state != q.Get("state") {
		t.Fatalf("state came back as %q", state)
	}
	tenant, conn, err := r.m.CompleteOAuth(ctx, state, code)
	if err != nil || tenant != "acme" || conn != "dir" {
		t.Fatalf("CompleteOAuth = %q, %q, %v", tenant, conn, err)
	}
	c = must(r.m.Get(ctx, acme, "dir"))(t)
	if c.State != connections.StateActive || c.AccountID != r.sb.Account().ID {
		t.Fatalf("after the flow = %+v", c)
	}
	tok := storedToken(t, r, "dir")
	if tok.AccessToken == "" || tok.RefreshToken == "" || !tok.Expiry.Equal(r.clock.Now().Add(time.Hour)) {
		t.Errorf("stored token = %+v, want both tokens, expiring in an hour on the manager's clock", tok)
	}
	// The state was spent.
	if _, _, err := r.m.CompleteOAuth(ctx, state, code); !errors.Is(err, connections.ErrOAuthState) {
		t.Errorf("state reused: %v, want ErrOAuthState", err)
	}
	// The engine's view carries the access token by reference.
	ec := must(r.m.Connection(ctx, acme, "dir"))(t)
	if _, v, err := ec.Credentials.Authorization(ctx, "default"); err != nil || v != "Bearer "+tok.AccessToken {
		t.Errorf("Authorization = %q, %v", v, err)
	}
	if got := ec.Scrub.String("x " + tok.AccessToken + " " + tok.RefreshToken); strings.Contains(got, tok.AccessToken) || strings.Contains(got, tok.RefreshToken) {
		t.Errorf("the scrubber does not know the tokens: %s", got)
	}
}

// PKCE: the sandbox checks the verifier, so a code redeemed with another
// flow's verifier fails, and the connection says why.
func TestAuthorizationCodeWrongVerifier(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	must(r.m.Create(ctx, acme, r.authorizationCode("dir")))(t)
	urlA := must(r.m.StartOAuth(ctx, acme, "dir", callback))(t)
	urlB := must(r.m.StartOAuth(ctx, acme, "dir", callback))(t)
	_, codeA := r.consent(urlA)
	stateB := must(url.Parse(urlB))(t).Query().Get("state")
	// State B's verifier goes with code A: the challenge does not match.
	_, _, err := r.m.CompleteOAuth(ctx, stateB, codeA)
	var ae *connections.AuthError
	if !errors.As(err, &ae) || !strings.Contains(ae.Reason, "PKCE") {
		t.Fatalf("wrong verifier: %v, want an AuthError about PKCE", err)
	}
	c := must(r.m.Get(ctx, acme, "dir"))(t)
	if c.State != connections.StateError || !strings.Contains(c.StateReason, "PKCE") {
		t.Errorf("connection = %+v, want error with the reason", c)
	}
	// A new, untampered flow recovers.
	state, code := r.consent(must(r.m.StartOAuth(ctx, acme, "dir", callback))(t))
	if _, _, err := r.m.CompleteOAuth(ctx, state, code); err != nil {
		t.Fatal(err)
	}
	if c := must(r.m.Get(ctx, acme, "dir"))(t); c.State != connections.StateActive {
		t.Errorf("after a good flow: %+v", c)
	}
}

func TestOAuthStateRules(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme, globex := r.tenant("acme"), r.tenant("globex")
	must(r.m.Create(ctx, acme, r.authorizationCode("dir")))(t)
	must(r.m.Create(ctx, globex, r.authorizationCode("dir")))(t)

	t.Run("other tenant", func(t *testing.T) {
		state, code := r.consent(must(r.m.StartOAuth(ctx, acme, "dir", callback))(t))
		if _, err := r.m.CompleteOAuthFor(ctx, globex, state, code); !errors.Is(err, connections.ErrOAuthState) {
			t.Fatalf("globex completing acme's state: %v, want ErrOAuthState", err)
		}
		if c := must(r.m.Get(ctx, globex, "dir"))(t); c.State != connections.StatePending {
			t.Errorf("globex's connection moved: %+v", c)
		}
		// The state was not spent by the wrong tenant.
		if conn, err := r.m.CompleteOAuthFor(ctx, acme, state, code); err != nil || conn != "dir" {
			t.Fatalf("acme completing its own state: %q, %v", conn, err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		state, code := r.consent(must(r.m.StartOAuth(ctx, globex, "dir", callback))(t))
		r.clock.Advance(10 * time.Minute)
		if _, _, err := r.m.CompleteOAuth(ctx, state, code); !errors.Is(err, connections.ErrOAuthState) || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("expired state: %v", err)
		}
	})
	t.Run("forged", func(t *testing.T) {
		if _, _, err := r.m.CompleteOAuth(ctx, "forged-state", "code"); !errors.Is(err, connections.ErrOAuthState) {
			t.Fatalf("forged state: %v", err)
		}
		if _, _, err := r.m.CompleteOAuth(ctx, "", "code"); !errors.Is(err, connections.ErrInvalid) {
			t.Fatalf("empty state: %v", err)
		}
	})
	t.Run("connection deleted and made again", func(t *testing.T) {
		state, code := r.consent(must(r.m.StartOAuth(ctx, globex, "dir", callback))(t))
		noErr(t, r.m.Delete(ctx, globex, "dir"))
		r.clock.Advance(time.Second) // a new life of the id
		must(r.m.Create(ctx, globex, r.authorizationCode("dir")))(t)
		if _, _, err := r.m.CompleteOAuth(ctx, state, code); !errors.Is(err, connections.ErrOAuthState) {
			t.Fatalf("state of a deleted connection: %v", err)
		}
	})
	t.Run("denied", func(t *testing.T) {
		state := must(url.Parse(must(r.m.StartOAuth(ctx, globex, "dir", callback))(t)))(t).Query().Get("state")
		_, conn, err := r.m.DenyOAuth(ctx, state, "access_denied", "the admin said no")
		if !errors.Is(err, connections.ErrAuthorization) || conn != "dir" {
			t.Fatalf("DenyOAuth = %q, %v", conn, err)
		}
		if c := must(r.m.Get(ctx, globex, "dir"))(t); c.State != connections.StateError || !strings.Contains(c.StateReason, "access_denied") {
			t.Errorf("denied connection = %+v", c)
		}
	})
	t.Run("not an oauth connection", func(t *testing.T) {
		must(r.m.Create(ctx, acme, r.clientCredentials("cc")))(t)
		if _, err := r.m.StartOAuth(ctx, acme, "cc", callback); !errors.Is(err, connections.ErrState) {
			t.Errorf("StartOAuth on client credentials: %v, want ErrState", err)
		}
		if _, err := r.m.StartOAuth(ctx, acme, "dir", "/relative"); !errors.Is(err, connections.ErrInvalid) {
			t.Errorf("relative redirect: %v, want ErrInvalid", err)
		}
	})
}

// An expired access token is refreshed exactly once however many runs
// find it stale at the same time, and the new tokens are stored.
func TestRefreshOnceUnderConcurrency(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	r.activeCode(acme, "dir")
	old := storedToken(t, r, "dir")
	r.clock.Advance(time.Hour) // the sandbox now refuses the access token

	const users = 8
	var wg sync.WaitGroup
	errs := make([]error, users)
	accounts := make([]string, users)
	views := make([]engine.Connection, users)
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ec, err := r.m.Connection(ctx, acme, "dir")
			if err != nil {
				errs[i] = err
				return
			}
			views[i] = ec
			resp, err := r.eng.Authorize(ctx, ec)
			accounts[i], errs[i] = resp.AccountID, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil || accounts[i] != r.sb.Account().ID {
			t.Errorf("user %d: account %q, %v", i, accounts[i], err)
		}
	}
	if n := r.sb.Stats().TokensRefreshed; n != 1 {
		t.Fatalf("refreshed %d times, want 1", n)
	}
	tok := storedToken(t, r, "dir")
	if tok.AccessToken == old.AccessToken || tok.RefreshToken == old.RefreshToken || !tok.Expiry.After(r.clock.Now()) {
		t.Errorf("stored after refresh = %+v (old %+v)", tok, old)
	}
	// Every run scrubs the new tokens, also the seven that did not
	// refresh them.
	for i, ec := range views {
		if got := ec.Scrub.String(tok.AccessToken + " " + tok.RefreshToken); strings.Contains(got, tok.AccessToken) || strings.Contains(got, tok.RefreshToken) {
			t.Errorf("run %d does not scrub the refreshed token", i)
		}
	}
	// A fresh token is not refreshed again.
	ec := must(r.m.Connection(ctx, acme, "dir"))(t)
	must(r.eng.Authorize(ctx, ec))(t)
	if n := r.sb.Stats().TokensRefreshed; n != 1 {
		t.Errorf("refreshed %d times after a use of a fresh token, want 1", n)
	}
}

// A refresh token the provider no longer takes moves the connection to
// error: only a new consent helps.
func TestRefreshRefused(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	acme := r.tenant("acme")
	r.activeCode(acme, "dir")
	old := storedToken(t, r, "dir")
	r.clock.Advance(time.Hour)
	ec := must(r.m.Connection(ctx, acme, "dir"))(t)
	if _, _, err := ec.Credentials.Authorization(ctx, "default"); err != nil { // rotates: the old refresh token is spent
		t.Fatal(err)
	}
	// Another process (a new manager over the same store) still holds
	// the spent refresh token: put it back, as a stale replica would.
	raw, _ := json.Marshal(old)
	if err := r.vault.Put(ctx, acme, "dir", "oauth_token", string(raw)); err != nil {
		t.Fatal(err)
	}
	m2 := must(connections.New(connections.Config{Store: r.db, Engine: r.eng, Modules: r.mods, Secrets: r.vault, Now: r.clock.Now}))(t)
	ec2 := must(m2.Connection(ctx, acme, "dir"))(t)
	_, _, err := ec2.Credentials.Authorization(ctx, "default")
	if !errors.Is(err, connections.ErrAuthorization) || strings.Contains(err.Error(), old.RefreshToken) {
		t.Fatalf("refresh with a spent token: %v", err)
	}
	c := must(m2.Get(ctx, acme, "dir"))(t)
	if c.State != connections.StateError || !strings.Contains(c.StateReason, "invalid_grant") {
		t.Errorf("connection = %+v, want error naming invalid_grant", c)
	}
	if _, err := m2.Connection(ctx, acme, "dir"); !errors.Is(err, connections.ErrState) {
		t.Errorf("Connection in error: %v, want ErrState", err)
	}
}

type token struct {
	AccessToken  string    `json:"access_token"`
	RefreshToken string    `json:"refresh_token"`
	Expiry       time.Time `json:"expiry"`
}

// storedToken reads the token secret through the vault.
func storedToken(t *testing.T, r *rig, conn string) token {
	t.Helper()
	secrets := must(r.vault.Open(context.Background(), r.tenant("acme"), conn))(t)
	var tok token
	if err := json.Unmarshal([]byte(secrets["oauth_token"]), &tok); err != nil {
		t.Fatalf("oauth_token secret: %v", err)
	}
	return tok
}
