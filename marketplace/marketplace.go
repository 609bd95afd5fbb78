package marketplace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/conformance"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/store"
)

// DefaultTimeout bounds one submission when Config.Timeout is zero.
const DefaultTimeout = 3 * time.Minute

// Config configures a Service.
type Config struct {
	// Store holds the certification records (Platform handle). Required.
	Store *store.DB
	// Registry holds the versions submitted. Required.
	Registry *registry.Registry
	// SandboxURL is the sample tenant: a running sandbox remote. Empty
	// starts an in-process sandbox on 127.0.0.1 for each submission.
	SandboxURL string
	// SandboxSecrets are the credentials for SandboxURL (client_id and
	// client_secret, or api_key); nil means the sandbox's defaults.
	SandboxSecrets map[string]string
	// Timeout bounds one submission; 0 means DefaultTimeout.
	Timeout time.Duration
	// Options tune the suite (conformance.WithCacheDir for a compile
	// cache, WithSandbox, WithOnly in tests); the service adds
	// WithLevel(Gold) first, so every check runs and the report shows
	// what each level lacks.
	Options []conformance.Option
	// Logger receives one line per submission; nil discards.
	Logger *slog.Logger
	// Now is the clock of submitted_at and finished_at; nil means time.Now.
	Now func() time.Time
}

// Service runs submissions and answers the directory and badges. It is
// safe for concurrent use.
type Service struct {
	cfg Config
	p   *store.Platform
	log *slog.Logger

	mu      sync.Mutex
	running map[string]bool // connector@version being certified
}

// New returns a Service. It does no I/O.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("marketplace: Config.Store is required")
	}
	if cfg.Registry == nil {
		return nil, errors.New("marketplace: Config.Registry is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, p: cfg.Store.Platform(), log: log, running: map[string]bool{}}, nil
}

// Request is one submission.
type Request struct {
	Connector, Version string
	// Partner is the submitting partner; empty for an admin, who may
	// submit any connector.
	Partner string
	// By is the id of the key that submitted (recorded).
	By string
}

// Submission is the outcome of a finished submission.
type Submission struct {
	ID        string `json:"id"`
	Connector string `json:"connector"`
	Version   string `json:"version"`
	// Level is the highest level reached: bronze, silver, gold or none.
	Level string `json:"level"`
	// Failed and Skipped list the checks that did not pass (a skipped
	// check fails every level that requires it).
	Failed      []string  `json:"failed"`
	Skipped     []string  `json:"skipped"`
	Report      string    `json:"report"` // the API path of the report
	SubmittedBy string    `json:"submitted_by"`
	SubmittedAt time.Time `json:"submitted_at"`
	FinishedAt  time.Time `json:"finished_at"`
}

// ReportPath is the API path of a version's report.
func ReportPath(connector, version string) string {
	return "/v1/connectors/" + url.PathEscape(connector) + "/versions/" + url.PathEscape(version) + "/report"
}

// BadgePath is the API path of a connector's badge.
func BadgePath(connector string) string { return "/badges/" + url.PathEscape(connector) + ".svg" }

// Submit certifies a version and stores the outcome: the report, the
// certification record, and the version's level. It refuses a partner
// that does not own the connector (ErrForbidden), an unknown connector or
// version (ErrNotFound), a submission of a version already being
// certified (ErrConflict), and one that does not finish in time
// (ErrTimeout, nothing stored).
func (s *Service) Submit(ctx context.Context, req Request) (Submission, error) {
	c, err := s.cfg.Registry.Connector(ctx, req.Connector)
	if err != nil {
		return Submission{}, registryErr(err, "connector", "no connector %q", req.Connector)
	}
	if req.Partner != "" && c.Owner != req.Partner {
		return Submission{}, refuse(ErrForbidden, "connector", "connector %q belongs to another partner", req.Connector)
	}
	v, err := s.cfg.Registry.Version(ctx, req.Connector, req.Version)
	if err != nil {
		return Submission{}, registryErr(err, "version", "no version %s of connector %q", req.Version, req.Connector)
	}
	key := v.Connector + "@" + v.Version
	s.mu.Lock()
	if s.running[key] {
		s.mu.Unlock()
		return Submission{}, refuse(ErrConflict, "version", "version %s of %q is being certified; wait for its report", v.Version, v.Connector)
	}
	s.running[key] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, key)
		s.mu.Unlock()
	}()

	module, err := s.cfg.Registry.Module(ctx, v.Connector, v.Version)
	if err != nil {
		return Submission{}, fmt.Errorf("marketplace: module of %s: %w", key, err)
	}
	sub := Submission{ID: newID(), Connector: v.Connector, Version: v.Version, SubmittedBy: req.By,
		SubmittedAt: s.cfg.Now().UTC(), Report: ReportPath(v.Connector, v.Version)}
	cctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	opts := append([]conformance.Option{conformance.WithLevel(conformance.Gold)}, s.cfg.Options...)
	rep, err := conformance.Certify(cctx, conformance.Target{Module: module, Manifest: v.Manifest,
		SandboxURL: s.cfg.SandboxURL, Secrets: s.cfg.SandboxSecrets}, opts...)
	switch {
	case errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return Submission{}, refuse(ErrTimeout, "version", "the suite did not finish within %s; nothing was stored", s.cfg.Timeout)
	case ctx.Err() != nil:
		return Submission{}, ctx.Err() // the caller gave up: a cut-short report is no verdict
	case err != nil:
		return Submission{}, fmt.Errorf("marketplace: certify %s: %w", key, err)
	}
	body, err := rep.MarshalIndent()
	if err != nil {
		return Submission{}, fmt.Errorf("marketplace: encode report of %s: %w", key, err)
	}
	sub.Level = rep.Reached.String()
	sub.FinishedAt = s.cfg.Now().UTC()
	sub.Failed, sub.Skipped = []string{}, []string{}
	for _, r := range rep.Results {
		switch r.Status {
		case conformance.Fail:
			sub.Failed = append(sub.Failed, r.ID)
		case conformance.Skip:
			sub.Skipped = append(sub.Skipped, r.ID)
		}
	}
	rec := store.Certification{Connector: v.Connector, Version: v.Version, Submission: sub.ID, Level: sub.Level,
		ModuleDigest: v.Digest, SubmittedBy: req.By, SubmittedAt: sub.SubmittedAt, FinishedAt: sub.FinishedAt}
	if err := s.p.PutCertification(context.WithoutCancel(ctx), rec, body); err != nil {
		return Submission{}, fmt.Errorf("marketplace: store the certification of %s: %w", key, err)
	}
	s.log.Info("connector version certified", "connector", v.Connector, "version", v.Version,
		"submission", sub.ID, "level", sub.Level, "failed", sub.Failed, "wall_ms", rep.WallMS)
	return sub, nil
}

// Report returns the stored report of a version (JSON, package
// conformance/report's format); ErrNotFound until a submission of it
// finished.
func (s *Service) Report(ctx context.Context, connector, version string) ([]byte, error) {
	if _, err := s.cfg.Registry.Version(ctx, connector, version); err != nil {
		return nil, registryErr(err, "version", "no version %s of connector %q", version, connector)
	}
	b, err := s.p.CertificationReport(ctx, connector, version)
	if errors.Is(err, store.ErrNotFound) {
		e := refuse(ErrNotFound, "version", "version %s of %q has no report: it was not submitted, or its submission has not finished", version, connector)
		e.Err = err
		return nil, e
	}
	return b, err
}

// registryErr turns the registry's not-found and invalid-argument
// refusals into the package's; anything else is the server's.
func registryErr(err error, field, format string, args ...any) error {
	kind := error(nil)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		kind = ErrNotFound
	case errors.Is(err, registry.ErrInvalid):
		kind = ErrInvalid
		var re *registry.Error
		if errors.As(err, &re) && len(re.Errors) > 0 {
			field, format, args = re.Errors[0].Field, "%s", []any{re.Errors[0].Message}
		}
	default:
		return fmt.Errorf("marketplace: %w", err)
	}
	e := refuse(kind, field, format, args...)
	e.Err = err
	return e
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
