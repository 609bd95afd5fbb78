package connector

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// ConfigBaseURL is the config key of the remote's base URL, for example
// "http://127.0.0.1:8080" for a local sandbox.
const ConfigBaseURL = "base_url"

// New returns the directory connector's handlers. Replay uses the SDK's
// default: re-run the failed export, which is safe because every handler
// is idempotent (sync and backfill pages, webhook upserts, and actions
// whose repeats change nothing more).
func New() sdk.Connector {
	return sdk.Connector{
		Discover:  func(*sdk.Host) (protocol.DiscoverResponse, error) { return Discovery(), nil },
		Authorize: authorize,
		Sync:      syncPage,
		Backfill:  backfillPage,
		Health:    health,
		Webhook:   webhook,
		Execute:   execute,
		Verify:    verify,
	}
}

// authorize reads the remote account the credential belongs to (the
// tenancy binding) and answers the scopes it needs out of those granted.
func authorize(h *sdk.Host, req protocol.AuthorizeRequest) (protocol.AuthorizeResponse, error) {
	base, err := baseURL(req.Config)
	if err != nil {
		return protocol.AuthorizeResponse{}, err
	}
	var acct struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := h.GetJSON(base+"/api/v1/account", &acct); err != nil {
		return protocol.AuthorizeResponse{}, fmt.Errorf("reading account: %w", err)
	}
	if acct.ID == "" {
		return protocol.AuthorizeResponse{}, fmt.Errorf("%w: account without id", ErrBadRemote)
	}
	needed := []string{}
	for _, s := range Discovery().Scopes {
		if slices.Contains(req.GrantedScopes, s.Name) {
			needed = append(needed, s.Name)
		}
	}
	return protocol.AuthorizeResponse{AccountID: acct.ID, NeededScopes: needed}, nil
}

// health reports whether the remote answers its health endpoint. An
// unreachable or unhealthy remote is a result, not an error; a missing
// base_url is an error, because then nothing was checked.
func health(h *sdk.Host) (protocol.HealthResponse, error) {
	base, err := baseURL(h.Config())
	if err != nil {
		return protocol.HealthResponse{}, err
	}
	resp, err := h.Get(base + "/api/v1/health")
	if err != nil {
		var he *sdk.HostError
		if errors.As(err, &he) {
			return protocol.HealthResponse{Details: map[string]string{"error_type": he.Type, "error": he.Message}}, nil
		}
		return protocol.HealthResponse{}, err
	}
	var body struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(resp.Body, &body) // an undecodable body leaves status empty: unhealthy
	ok := resp.Status == 200 && body.Status == "ok"
	return protocol.HealthResponse{
		Reachable: ok,
		Details:   map[string]string{"http_status": strconv.Itoa(resp.Status), "status": body.Status},
	}, nil
}

// baseURL returns the configured base URL without a trailing slash.
func baseURL(cfg protocol.Config) (string, error) {
	raw := strings.TrimRight(cfg[ConfigBaseURL], "/")
	if raw == "" {
		return "", fmt.Errorf("%w: %s is not set", ErrConfig, ConfigBaseURL)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: %s %q is not an absolute http(s) URL", ErrConfig, ConfigBaseURL, raw)
	}
	return raw, nil
}
