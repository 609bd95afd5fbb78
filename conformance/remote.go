package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

// Remote is a sample tenant the suite can observe and, through the
// sandbox control plane, inject faults into: an in-process sandbox
// server or a sandbox at a URL (its /_sandbox routes answer loopback
// clients only).
type Remote struct {
	URL     string
	Secrets map[string]string
	server  *sandbox.Server // nil for a URL
	client  *http.Client
}

// SetFaults replaces the faults in force.
func (r *Remote) SetFaults(ctx context.Context, f sandbox.Faults) error {
	if r.server != nil {
		return r.server.SetFaults(f)
	}
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return r.control(ctx, http.MethodPost, "/_sandbox/faults", body, nil)
}

// Stats returns what the remote observed.
func (r *Remote) Stats(ctx context.Context) (sandbox.Stats, error) {
	if r.server != nil {
		return r.server.Stats(), nil
	}
	var st sandbox.Stats
	err := r.control(ctx, http.MethodGet, "/_sandbox/stats", nil, &st)
	return st, err
}

// Server is the in-process sandbox, nil for a URL.
func (r *Remote) Server() *sandbox.Server { return r.server }

func (r *Remote) control(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(r.URL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox control plane %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("sandbox control plane %s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// startSandbox starts an in-process sandbox on 127.0.0.1 with the
// suite's credentials (the client secret is a canary).
func startSandbox(cfg sandbox.Config, secrets map[string]string) (*Remote, func(), error) {
	cfg.ClientID, cfg.ClientSecret = secrets["client_id"], secrets["client_secret"]
	sb := sandbox.New(cfg)
	base, err := sb.Start("127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("conformance: sandbox: %w", err)
	}
	return &Remote{URL: base, Secrets: secrets, server: sb}, func() { _ = sb.Close() }, nil
}

func urlRemote(url string, secrets map[string]string) *Remote {
	return &Remote{URL: strings.TrimRight(url, "/"), Secrets: secrets, client: &http.Client{Timeout: 10 * time.Second}}
}
