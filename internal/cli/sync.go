package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/store"
)

// runFlags are shared by sync and backfill.
type runFlags struct {
	module, manifest, tenant, data, connection string
	config, secrets, scopes, streams           []string
	jsonOut, full, allowPrivate, verbose       bool
	pageSize                                   int
	tapePath                                   string
	from, to                                   string
}

func (f *runFlags) register(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&f.module, "module", "", "connector module (.wasm)")
	fl.StringVar(&f.manifest, "manifest", "", "connector manifest (connector.json)")
	fl.StringVar(&f.tenant, "tenant", "", "tenant id")
	fl.StringVar(&f.data, "data", "", "data folder (Badger store, keys, compile cache)")
	fl.StringVar(&f.connection, "connection", "", "connection id (default: the connector id)")
	fl.StringArrayVar(&f.config, "config", nil, "connection config key=value (repeatable)")
	fl.StringArrayVar(&f.secrets, "secret", nil, "credential name=value (repeatable; or SLUICE_SECRET_<NAME> in the environment)")
	fl.StringArrayVar(&f.scopes, "scope", nil, "granted scope (repeatable; default: every scope in the manifest)")
	fl.StringArrayVar(&f.streams, "stream", nil, "only this stream (repeatable)")
	fl.BoolVar(&f.jsonOut, "json", false, "print one JSON object")
	fl.BoolVar(&f.allowPrivate, "allow-private", false, "allow the connector to reach loopback and private addresses (sandbox, tests)")
	fl.BoolVar(&f.verbose, "verbose", false, "log debug lines to stderr")
	fl.IntVar(&f.pageSize, "page-size", 500, "records per page asked of the connector")
	fl.StringVar(&f.tapePath, "tape", "", "record the run's tape to this file")
}

func newSyncCmd() *cobra.Command {
	f := &runFlags{}
	c := &cobra.Command{
		Use:   "sync",
		Short: "Run a connector's sync into the local store and sign a receipt",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runIngest(c, f, engine.KindSync)
		},
	}
	f.register(c)
	c.Flags().BoolVar(&f.full, "full", false, "full snapshot: every stream from the start; objects not seen are deleted")
	return c
}

func newBackfillCmd() *cobra.Command {
	f := &runFlags{}
	c := &cobra.Command{
		Use:   "backfill",
		Short: "Run a connector's backfill over a creation-time range",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runIngest(c, f, engine.KindBackfill)
		},
	}
	f.register(c)
	c.Flags().StringVar(&f.from, "from", "", "range start, RFC 3339 (inclusive)")
	c.Flags().StringVar(&f.to, "to", "", "range end, RFC 3339 (exclusive)")
	return c
}

// ingestOutput is the --json shape of sync and backfill.
type ingestOutput struct {
	RunID   string          `json:"run_id"`
	State   string          `json:"state"`
	Counts  countsJSON      `json:"counts"`
	Errors  []errorJSON     `json:"errors,omitempty"`
	Receipt json.RawMessage `json:"receipt"`
}

type countsJSON struct {
	Read    int64 `json:"read"`
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	Deleted int64 `json:"deleted"`
	Skipped int64 `json:"skipped"`
	Errors  int64 `json:"errors"`
}

type errorJSON struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Count   int64  `json:"count"`
}

func runIngest(c *cobra.Command, f *runFlags, kind string) error {
	ctx := c.Context()
	if f.tenant == "" {
		return usageError("--tenant is required")
	}
	if f.module == "" {
		return usageError("--module is required")
	}
	var rng protocol.Range
	if kind == engine.KindBackfill {
		if _, err := time.Parse(time.RFC3339, f.from); err != nil {
			return usageError("--from %q: want RFC 3339, e.g. 2024-01-01T00:00:00Z", f.from)
		}
		if _, err := time.Parse(time.RFC3339, f.to); err != nil {
			return usageError("--to %q: want RFC 3339, e.g. 2025-01-01T00:00:00Z", f.to)
		}
		rng = protocol.Range{From: f.from, To: f.to}
	}
	cfg, err := parsePairs("config", f.config)
	if err != nil {
		return err
	}
	secrets, err := parsePairs("secret", f.secrets)
	if err != nil {
		return err
	}
	secretsFromEnv(secrets)
	h, err := openHome(f.data, homeOptions{allowPrivate: f.allowPrivate, logger: newLogger(c.ErrOrStderr(), f.verbose)})
	if err != nil {
		return err
	}
	defer h.close(ctx)
	mod, err := h.loadModule(ctx, f.module, f.manifest)
	if err != nil {
		return err
	}
	tenant, err := h.db.Tenant(f.tenant)
	if err != nil {
		return usageError("--tenant: %v", err)
	}
	conn, err := h.connection(ctx, tenant, mod, connSpec{id: f.connection, config: cfg, secrets: secrets, scopes: f.scopes})
	if err != nil {
		return err
	}
	opts := engine.RunOptions{Full: f.full, Streams: f.streams, PageSize: f.pageSize, Record: f.tapePath != ""}
	var res *engine.Result
	var runErr error
	if kind == engine.KindBackfill {
		res, runErr = h.engine.Backfill(ctx, conn, rng, opts)
	} else {
		res, runErr = h.engine.Sync(ctx, conn, opts)
	}
	if res == nil {
		return runErr
	}
	if f.tapePath != "" && res.Tape != nil {
		b, err := json.MarshalIndent(res.Tape, "", "  ")
		if err == nil {
			err = os.WriteFile(f.tapePath, b, 0o600)
		}
		if err != nil {
			return fmt.Errorf("tape: %w", err)
		}
	}
	printRun(c.OutOrStdout(), f.jsonOut, kind, res)
	if runErr != nil {
		return &exitError{code: 1, err: runErr}
	}
	return nil
}

func printRun(w io.Writer, jsonOut bool, kind string, res *engine.Result) {
	r := res.Run
	cnt := countsJSON{Read: r.Counts.Read, Created: r.Counts.Created, Updated: r.Counts.Updated,
		Deleted: r.Counts.Deleted, Skipped: r.Counts.Skipped, Errors: r.Counts.Errors}
	if jsonOut {
		out := ingestOutput{RunID: r.ID, State: r.State, Counts: cnt, Receipt: res.Envelope, Errors: errorsJSON(r.Errors)}
		enc := json.NewEncoder(w)
		_ = enc.Encode(out)
		return
	}
	fmt.Fprintf(w, "%s %s: read=%d created=%d updated=%d deleted=%d skipped=%d errors=%d receipt=%s\n",
		kind, r.State, cnt.Read, cnt.Created, cnt.Updated, cnt.Deleted, cnt.Skipped, cnt.Errors, r.ReceiptID)
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  error %s (x%d): %s\n", e.Type, e.Count, e.Message)
	}
}

func errorsJSON(errs []store.RunError) []errorJSON {
	out := make([]errorJSON, 0, len(errs))
	for _, e := range errs {
		out = append(out, errorJSON{Type: e.Type, Message: e.Message, Count: e.Count})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}
