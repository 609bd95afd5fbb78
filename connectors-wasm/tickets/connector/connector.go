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

// New returns the tickets connector's handlers: ingest only. Replay uses
// the SDK's default (re-run the failed sync page or webhook event), which
// is safe because both are idempotent.
func New() sdk.Connector {
	return sdk.Connector{
		Discover:  func(*sdk.Host) (protocol.DiscoverResponse, error) { return Discovery(), nil },
		Authorize: authorize,
		Sync:      syncPage,
		Health:    health,
		Webhook:   webhook,
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
		ID string `json:"id"`
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

// health reports whether the remote answers its health endpoint; an
// unreachable remote is a result, a missing base_url an error.
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
	return protocol.HealthResponse{
		Reachable: resp.Status == 200 && body.Status == "ok",
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
