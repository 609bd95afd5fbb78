package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluicehq/sluice/store"
	"github.com/sluicehq/sluice/webhooks"
)

// Webhooks is the webhook intake (package webhooks).
type Webhooks interface {
	// RotateEndpoint creates the connection's endpoint or rotates its
	// secret; the answer holds the new secret, the only time it is shown.
	RotateEndpoint(ctx context.Context, t *store.Tenant, connection string) (webhooks.Endpoint, error)
	// Endpoint shows the endpoint without its secrets.
	Endpoint(ctx context.Context, t *store.Tenant, connection string) (webhooks.Endpoint, error)
	// Accept verifies a delivery and stores it durably before returning.
	Accept(ctx context.Context, hook string, h http.Header, body []byte) (webhooks.Accepted, error)
	// MaxBodyBytes caps a delivery's body.
	MaxBodyBytes() int64
}

// defaultHookBody caps deliveries when no intake is wired (the route
// answers 501 anyway).
const defaultHookBody = 256 << 10

// hookRoutes lists the routes of this file; see routeTable.
func (s *Server) hookRoutes() []route {
	const conn = "/v1/tenants/{tenant}/connections/{connection}"
	limit := int64(defaultHookBody)
	if s.webhooks != nil {
		limit = s.webhooks.MaxBodyBytes()
	}
	return []route{
		{method: http.MethodPost, pattern: conn + "/webhook", access: accessTenant, handler: s.rotateWebhook},
		{method: http.MethodGet, pattern: conn + "/webhook", access: accessTenant, handler: s.getWebhook},
		// Public: the sender authenticates with its signature.
		{method: http.MethodPost, pattern: "/v1/hooks/{hook}", access: accessPublic, maxBody: limit, handler: s.deliverWebhook},
	}
}

// WebhookEndpoint is the answer of the endpoint routes. Secret is only
// in the answer of the POST that made it.
type WebhookEndpoint struct {
	webhooks.Endpoint
	// URL is where the remote system delivers events.
	URL string `json:"url"`
}

func (s *Server) webhooksOrErr() (Webhooks, error) {
	if s.webhooks == nil {
		return nil, notWired("webhooks")
	}
	return s.webhooks, nil
}

// hookURL is the public delivery URL of a hook.
func (s *Server) hookURL(r *http.Request, hook string) string {
	base := s.baseURL
	if base == "" {
		base = "http://" + r.Host
	}
	return base + "/v1/hooks/" + url.PathEscape(hook)
}

func (s *Server) rotateWebhook(w http.ResponseWriter, r *http.Request) {
	wh, err := s.webhooksOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ep, err := wh.RotateEndpoint(r.Context(), tenantFrom(r.Context()), param(r, "connection"))
	if err != nil {
		s.writeError(w, r, webhookProblem(err))
		return
	}
	status := http.StatusOK
	if ep.RotatedAt.IsZero() {
		status = http.StatusCreated
	}
	writeJSON(w, status, WebhookEndpoint{Endpoint: ep, URL: s.hookURL(r, ep.Hook)})
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request) {
	wh, err := s.webhooksOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ep, err := wh.Endpoint(r.Context(), tenantFrom(r.Context()), param(r, "connection"))
	if err != nil {
		s.writeError(w, r, webhookProblem(err))
		return
	}
	writeJSON(w, http.StatusOK, WebhookEndpoint{Endpoint: ep, URL: s.hookURL(r, ep.Hook)})
}

// deliverWebhook is the public intake: 202 once the delivery is stored,
// 200 for a redelivery of a webhook-id already stored.
func (s *Server) deliverWebhook(w http.ResponseWriter, r *http.Request) {
	wh, err := s.webhooksOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.writeError(w, r, err) // *http.MaxBytesError → 413
		return
	}
	acc, err := wh.Accept(r.Context(), param(r, "hook"), r.Header, body)
	if err != nil {
		var qf *webhooks.QueueFullError
		if errors.As(err, &qf) {
			w.Header().Set("Retry-After", strconv.Itoa(qf.RetryAfterSeconds()))
		}
		s.writeError(w, r, webhookProblem(err))
		return
	}
	status := http.StatusAccepted
	if acc.Duplicate {
		status = http.StatusOK
	}
	writeJSON(w, status, acc)
}

// webhookProblem maps the errors of package webhooks to answers; other
// errors go to classify as they are.
func webhookProblem(err error) error {
	var (
		se *webhooks.SignatureError
		qf *webhooks.QueueFullError
	)
	switch {
	case errors.As(err, &se):
		return newProblem(http.StatusUnauthorized, "the webhook signature does not verify",
			FieldError{Field: "header." + se.Header, Message: se.Reason})
	case errors.Is(err, webhooks.ErrUnknownHook):
		return newProblem(http.StatusNotFound, "no such hook", FieldError{Field: "path.hook", Message: "names no webhook endpoint"})
	case errors.Is(err, webhooks.ErrBadBody):
		return newProblem(http.StatusBadRequest, "the webhook body is not JSON", FieldError{Field: "body", Message: "must be one JSON value"})
	case errors.As(err, &qf):
		return &StatusError{Status: http.StatusTooManyRequests, Detail: "the webhook queue is full; retry after " + strconv.Itoa(qf.RetryAfterSeconds()) + " s", Err: err}
	case errors.Is(err, webhooks.ErrUnavailable):
		return &StatusError{Status: http.StatusServiceUnavailable, Detail: "the webhook intake is not running", Err: err}
	case errors.Is(err, webhooks.ErrNotFound):
		return newProblem(http.StatusNotFound, "no such resource", FieldError{Field: "path.connection", Message: "names no connection with a webhook endpoint"})
	}
	return err
}
