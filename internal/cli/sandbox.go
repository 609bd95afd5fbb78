package cli

import (
	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/conformance/sandbox"
)

func newSandboxCmd() *cobra.Command {
	var (
		addr      string
		cfg       sandbox.Config
		rateLimit float64
	)
	c := &cobra.Command{
		Use:   "sandbox",
		Short: "Run the sandbox remote: a fake identity-directory SaaS on loopback",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if cfg.Users < 10 || cfg.Users > 1_000_000 {
				return usageError("--users %d: want 10 to 1000000", cfg.Users)
			}
			cfg.RateLimit = rateLimit
			return sandbox.Run(c.Context(), addr, cfg, c.OutOrStdout())
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8081", "listen address (loopback only)")
	c.Flags().IntVar(&cfg.Users, "users", 1000, "number of users (10 to 1,000,000)")
	c.Flags().Int64Var(&cfg.Seed, "seed", 1, "data seed")
	c.Flags().Float64Var(&rateLimit, "rate-limit", 0, "requests per second per credential (0 = unlimited)")
	c.Flags().IntVar(&cfg.RateBurst, "rate-burst", 10, "rate limit burst")
	return c
}
