package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/conformance"
	"github.com/sluicehq/sluice/conformance/report"
	"github.com/sluicehq/sluice/engine"
)

type certifyFlags struct {
	module, manifest, sandboxURL, tapes, level, out, html, cacheDir string
	secrets, config                                                 []string
	callTimeout                                                     time.Duration
	parallel                                                        int
}

func newCertifyCmd() *cobra.Command {
	f := &certifyFlags{}
	c := &cobra.Command{
		Use:   "certify",
		Short: "Run the conformance suite on a connector module and report the level it reaches",
		Long: "certify runs every conformance check (docs/certification.md) against a module, its manifest\n" +
			"and a sample tenant: a live sandbox URL, a directory of recorded tapes, or (with neither) a\n" +
			"sandbox started in process on 127.0.0.1. It exits 0 when the module reaches the level asked\n" +
			"for (default: the level its manifest claims), 1 naming each failed check otherwise, 2 on bad usage.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return runCertify(c, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.module, "module", "", "connector module (.wasm)")
	fl.StringVar(&f.manifest, "manifest", "", "connector manifest (connector.json)")
	fl.StringVar(&f.sandboxURL, "sandbox-url", "", "live sample tenant: a sandbox remote's base URL")
	fl.StringVar(&f.tapes, "tape", "", "tape mode: a directory of recorded tapes (*.json)")
	fl.StringVar(&f.level, "level", "", "level to reach: bronze, silver or gold (default: the manifest's claim)")
	fl.StringVar(&f.out, "out", "", "write the JSON report to this file")
	fl.StringVar(&f.html, "html", "", "write the HTML report to this file")
	fl.StringArrayVar(&f.secrets, "secret", nil, "credential name=value for --sandbox-url (repeatable; or SLUICE_SECRET_<NAME>)")
	fl.StringArrayVar(&f.config, "config", nil, "extra connection config key=value (repeatable)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "keep compiled Wasm code here between runs")
	fl.DurationVar(&f.callTimeout, "call-timeout", 0, "deadline of one export call (default 15s)")
	fl.IntVar(&f.parallel, "parallel", 4, "checks run at once")
	return c
}

func runCertify(c *cobra.Command, f *certifyFlags) error {
	if f.module == "" || f.manifest == "" {
		return usageError("--module and --manifest are required")
	}
	if f.sandboxURL != "" && f.tapes != "" {
		return usageError("give --sandbox-url or --tape, not both")
	}
	if f.parallel < 1 {
		return usageError("--parallel must be at least 1")
	}
	var opts []conformance.Option
	if f.level != "" {
		l, err := report.ParseLevel(f.level)
		if err != nil {
			return usageError("--level: %v", err)
		}
		opts = append(opts, conformance.WithLevel(l))
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
	wasm, err := os.ReadFile(f.module)
	if err != nil {
		return usageError("--module: %v", err)
	}
	mf, err := os.ReadFile(f.manifest)
	if err != nil {
		return usageError("--manifest: %v", err)
	}
	t := conformance.Target{Module: wasm, Manifest: mf, SandboxURL: f.sandboxURL, Tapes: f.tapes, Config: cfg}
	if len(secrets) > 0 {
		t.Secrets = secrets
	}
	out := c.OutOrStdout()
	opts = append(opts, conformance.WithProgress(newProgress(out, isTerminal(out))),
		conformance.WithParallel(f.parallel), conformance.WithCacheDir(f.cacheDir),
		conformance.WithLimits(engine.Limits{CallTimeout: f.callTimeout}))
	rep, err := conformance.Certify(c.Context(), t, opts...)
	if err != nil {
		return err
	}
	if err := writeReports(rep, f.out, f.html); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s %s: reached %s (asked %s) in %.1fs\n", rep.Connector, rep.ConnectorVersion, rep.Reached, rep.Requested, float64(rep.WallMS)/1000)
	if rep.Passed {
		return nil
	}
	var names []string
	for _, r := range rep.Failures() {
		names = append(names, fmt.Sprintf("%s (%s: %s)", r.ID, r.Status, r.Reason))
	}
	return &exitError{code: 1, err: fmt.Errorf("not certified at %s: %d required checks did not pass:\n  %s", rep.Requested, len(names), strings.Join(names, "\n  "))}
}

func writeReports(rep *conformance.Report, jsonPath, htmlPath string) error {
	if jsonPath != "" {
		b, err := rep.MarshalIndent()
		if err != nil {
			return err
		}
		if err := writeFile(jsonPath, b); err != nil {
			return err
		}
	}
	if htmlPath != "" {
		b, err := rep.HTML()
		if err != nil {
			return err
		}
		if err := writeFile(htmlPath, b); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress prints one line per finished check, or on a terminal one
// line per gate rewritten as its checks finish.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	total map[conformance.Gate]int
	done  map[conformance.Gate]int
	fails map[conformance.Gate]int
}

func newProgress(w io.Writer, tty bool) *progress {
	p := &progress{w: w, tty: tty, total: map[conformance.Gate]int{}, done: map[conformance.Gate]int{}, fails: map[conformance.Gate]int{}}
	for _, c := range conformance.Default().Checks() {
		p.total[c.Gate]++
	}
	return p
}

func (p *progress) Start(conformance.Check) {}

func (p *progress) Done(c conformance.Check, r conformance.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		fmt.Fprintf(p.w, "%-4s %-32s %6dms %s\n", r.Status, r.ID, r.DurationMS, r.Reason)
		return
	}
	p.done[c.Gate]++
	if r.Status != conformance.Pass {
		p.fails[c.Gate]++
	}
	total := max(p.total[c.Gate], p.done[c.Gate])
	fmt.Fprintf(p.w, "\r\033[K%-18s %d/%d checks, %d not passed", c.Gate.Title(), p.done[c.Gate], total, p.fails[c.Gate])
	if p.done[c.Gate] == total {
		fmt.Fprintln(p.w)
	}
}
