package cli

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sync"

	"github.com/sluicehq/sluice/marketplace"
	"github.com/sluicehq/sluice/registry"
)

// certifyDemo submits the demo's example connector to the marketplace in
// the background, so /v1/directory and its badge show a level without
// delaying the server's start (the suite takes about 10 s). A version
// certified by an earlier start is not submitted again. The returned stop
// cancels a submission still running and waits for it, so it ends before
// the store closes; a cancelled submission stores nothing.
func certifyDemo(ctx context.Context, svc *marketplace.Service, reg *registry.Registry, manifestPath string, logger *slog.Logger) (stop func()) {
	var spec struct{ ID, Version string }
	b, err := os.ReadFile(manifestPath)
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		logger.Warn("demo: not certifying the example connector", "err", err)
		return func() {}
	}
	if v, err := reg.Version(ctx, spec.ID, spec.Version); err != nil || v.Certification != "" {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() {
		sub, err := svc.Submit(ctx, marketplace.Request{Connector: spec.ID, Version: spec.Version, By: "demo"})
		switch {
		case errors.Is(err, context.Canceled):
		case err != nil:
			logger.Warn("demo: certifying the example connector failed", "err", err)
		default:
			logger.Info("demo: example connector certified", "connector", sub.Connector, "version", sub.Version, "level", sub.Level)
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}
