package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/bench"
)

// newBenchWebhooksCmd is `sluice bench webhooks`: the webhook intake
// driven over loopback by a second sluice process.
func newBenchWebhooksCmd() *cobra.Command {
	var cfg bench.WebhooksConfig
	var jsonOut, inProcess bool
	var cpuProfile string
	c := &cobra.Command{
		Use:   "webhooks",
		Short: "Signed deliveries over loopback from a second process → intake (verify, de-dup, durable write) → connector → objects, against HTTP and bare-Badger floors",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if cfg.Events < 100 || cfg.Events > 1_000_000 {
				return usageError("--events %d: want 100 to 1000000", cfg.Events)
			}
			if cfg.Concurrency < 1 || cfg.Concurrency > 1024 {
				return usageError("--concurrency %d: want 1 to 1024", cfg.Concurrency)
			}
			if !inProcess {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				cfg.Load = func(ctx context.Context, lc bench.LoadConfig) (bench.LoadResult, error) {
					return loadFromChild(ctx, exe, lc)
				}
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			rep, err := bench.Webhooks(c.Context(), cfg)
			if err != nil {
				return err
			}
			rep.ChildProcess = !inProcess
			if jsonOut {
				return json.NewEncoder(c.OutOrStdout()).Encode(rep)
			}
			fmt.Fprintf(c.OutOrStdout(), "events=%d accepted=%.0f ev/s p50=%.2fms p99=%.2fms http-noop=%.0f req/s badger=%.0f ev/s accept/http=%.2f accept/badger=%.2f e2e=%.0f ev/s (%s)\n",
				rep.Events, rep.AcceptedPerS, rep.AcceptP50Ms, rep.AcceptP99Ms, rep.HTTPNoopPerS, rep.BadgerPerS,
				rep.AcceptHTTPRate, rep.AcceptBadgerRatio, rep.E2EPerS, rep.Connector)
			return nil
		},
	}
	f := c.Flags()
	f.IntVar(&cfg.Events, "events", 20_000, "deliveries to send")
	f.IntVar(&cfg.Concurrency, "concurrency", 64, "load-generator connections")
	f.StringVar(&cfg.ModulePath, "module", "", "directory connector module for processing (default: the same connector linked natively)")
	f.StringVar(&cfg.ManifestPath, "manifest", "connectors-wasm/directory/connector.json", "its manifest")
	f.BoolVar(&jsonOut, "json", false, "print one JSON object")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the server side to this file")
	f.BoolVar(&inProcess, "in-process", false, "generate the load in this process instead of a second one")
	return c
}

// newBenchWebhooksLoadCmd is the hidden load generator the benchmark
// re-executes: a bench.LoadConfig as JSON on stdin, a bench.LoadResult
// as JSON on stdout.
func newBenchWebhooksLoadCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "webhooks-load",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var lc bench.LoadConfig
			if err := json.NewDecoder(c.InOrStdin()).Decode(&lc); err != nil {
				return usageError("load config on stdin: %v", err)
			}
			res, err := bench.RunLoad(c.Context(), lc)
			if err != nil {
				return err
			}
			return json.NewEncoder(c.OutOrStdout()).Encode(res)
		},
	}
}

// loadFromChild runs the load generator in a second sluice process.
func loadFromChild(ctx context.Context, exe string, lc bench.LoadConfig) (bench.LoadResult, error) {
	in, err := json.Marshal(lc)
	if err != nil {
		return bench.LoadResult{}, err
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "webhooks-load")
	cmd.Stdin = bytes.NewReader(in)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return bench.LoadResult{}, fmt.Errorf("load generator: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	var res bench.LoadResult
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		return bench.LoadResult{}, fmt.Errorf("load generator output: %w", err)
	}
	return res, nil
}
