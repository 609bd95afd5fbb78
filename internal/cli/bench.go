package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/bench"
)

func newBenchCmd() *cobra.Command {
	c := &cobra.Command{Use: "bench", Short: "Run load generators and print figures against same-run baselines"}
	var cfg bench.IngestConfig
	var jsonOut bool
	var cpuProfile string
	ingest := &cobra.Command{
		Use:   "ingest",
		Short: "Sandbox over loopback → Wasm connector → host → Badger + receipt, against native and raw-Badger baselines",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if cfg.Users < 10 || cfg.Users > 1_000_000 {
				return usageError("--users %d: want 10 to 1000000", cfg.Users)
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
			rep, err := bench.Ingest(c.Context(), cfg)
			if err != nil {
				return err
			}
			if jsonOut {
				return json.NewEncoder(c.OutOrStdout()).Encode(rep)
			}
			fmt.Fprintf(c.OutOrStdout(), "users=%d e2e=%.0f rec/s native=%.0f rec/s badger=%.0f rec/s wasm/native=%.2f e2e/badger=%.2f cold p50=%.2fms p99=%.2fms call=%.1fus\n",
				rep.Users, rep.E2ERecordsPerS, rep.NativeRecordsPerS, rep.BadgerRecordsPerS, rep.WasmNativeRatio,
				rep.E2EBadgerRatio, rep.ColdStartP50Ms, rep.ColdStartP99Ms, rep.CallOverheadUs)
			return nil
		},
	}
	ingest.Flags().IntVar(&cfg.Users, "users", 100_000, "sandbox users to ingest")
	ingest.Flags().StringVar(&cfg.ModulePath, "module", "build/wasm/directory.wasm", "directory connector module")
	ingest.Flags().StringVar(&cfg.ManifestPath, "manifest", "connectors-wasm/directory/connector.json", "its manifest")
	ingest.Flags().IntVar(&cfg.PageSize, "page-size", 1000, "records per page")
	ingest.Flags().IntVar(&cfg.ColdStarts, "cold-starts", 50, "cold start samples")
	ingest.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object")
	ingest.Flags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole benchmark to this file")
	c.AddCommand(ingest)
	c.AddCommand(newBenchWebhooksCmd(), newBenchWebhooksLoadCmd())
	return c
}
