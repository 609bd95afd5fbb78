package cli

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/receipt"
	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/tape"
)

type replayOptions struct {
	tape, module, manifest string
	cacheDir               string
	jsonOut                bool
}

func newReplayCmd() *cobra.Command {
	var o replayOptions
	c := &cobra.Command{
		Use:   "replay",
		Short: "Replay a recorded tape on a module, offline; exit 1 with a diff if anything differs",
		Long: `Replay every call of a tape (sluice sync --tape, or a dead-letter item's
GET …/dlq/{item}/tape) on a module, with nothing but the two files: no data
folder, no server, no network. Each call gets its recorded input, clock and
random seed; its sluice_http requests are answered from the tape. The
emitted batches, log lines, output, error and requests must match the
recording.

The manifest comes from the tape (recorded with it) unless --manifest is
given. Exit 0: identical. Exit 1: a readable diff of every difference (or
the replay could not run). Exit 2: usage (a missing flag, a file that is
not a tape, a module that does not load).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runReplay(c, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.tape, "tape", "", "the tape (JSON)")
	f.StringVar(&o.module, "module", "", "the connector module (.wasm)")
	f.StringVar(&o.manifest, "manifest", "", "its connector.json (default: the manifest recorded in the tape)")
	f.BoolVar(&o.jsonOut, "json", false, "print the replay report as one JSON object")
	f.StringVar(&o.cacheDir, "cache-dir", "", "keep compiled code in this folder between replays (default: compile in memory)")
	return c
}

// replayJSON is the --json output.
type replayJSON struct {
	Identical bool `json:"identical"`
	// Digest is the replay's digest: two replays of one tape by one
	// module print the same.
	Digest string `json:"digest"`
	*engine.ReplayReport
}

func runReplay(c *cobra.Command, o replayOptions) error {
	if o.tape == "" || o.module == "" {
		return usageError("--tape and --module are required")
	}
	tb, err := os.ReadFile(o.tape)
	if err != nil {
		return usageError("--tape: %v", err)
	}
	tp, err := tape.Parse(tb)
	if err != nil {
		return usageError("--tape %s: %v", o.tape, err)
	}
	wasm, err := os.ReadFile(o.module)
	if err != nil {
		return usageError("--module: %v", err)
	}
	mb := []byte(tp.Manifest)
	if o.manifest != "" {
		if mb, err = os.ReadFile(o.manifest); err != nil {
			return usageError("--manifest: %v", err)
		}
	}
	if len(mb) == 0 {
		return usageError("the tape records no manifest: pass --manifest connector.json")
	}
	m, err := manifest.Parse(mb)
	if err != nil {
		return usageError("manifest: %v", err)
	}
	ctx := c.Context()
	eng, closeEng, err := offlineEngine(o.cacheDir)
	if err != nil {
		return err
	}
	defer closeEng(context.WithoutCancel(ctx))
	mod, err := eng.Load(ctx, wasm, m)
	if err != nil {
		return usageError("--module %s: %v", o.module, err)
	}
	rep, err := eng.Replay(ctx, mod, tp)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	out := c.OutOrStdout()
	if o.jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(replayJSON{Identical: rep.Identical(), Digest: rep.Digest(), ReplayReport: rep}); err != nil {
			return err
		}
	} else {
		fmt.Fprint(out, rep.Diff())
	}
	if !rep.Identical() {
		return &exitError{code: 1, err: fmt.Errorf("the replay differs from the tape in %d places", len(rep.Differences))}
	}
	return nil
}

// offlineEngine is an engine with nothing on disk: an in-memory store it
// never writes (a replay writes nothing) and a throwaway signing key (a
// replay signs nothing). Code is compiled in memory unless cacheDir is
// set.
func offlineEngine(cacheDir string) (*engine.Engine, func(context.Context), error) {
	db, err := store.Open(store.Options{InMemory: true})
	if err != nil {
		return nil, nil, fmt.Errorf("store: %w", err)
	}
	key, err := receipt.GenerateKey(rand.Reader)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	eng, err := engine.New(engine.Config{Store: db, Signer: receipt.NewSigner(key), CacheDir: cacheDir})
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return eng, func(ctx context.Context) {
		_ = errors.Join(eng.Close(ctx), db.Close())
	}, nil
}
