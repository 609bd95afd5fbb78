package api

import (
	"errors"
	"net/http"

	"github.com/sluicehq/sluice/connections"
	"github.com/sluicehq/sluice/registry"
	"github.com/sluicehq/sluice/scheduler"
	"github.com/sluicehq/sluice/secrets"
)

// classifyDomain maps the sentinels and typed errors of the domain
// packages to statuses, as each package documents them. It is the one
// place that knows them; the handlers only pass errors through.
func classifyDomain(err error) *StatusError {
	// Connections first: its errors may wrap a registry error (a
	// connection naming a connector that does not exist is a field
	// error of the connection request, not a missing connector).
	if p := connectionsProblem(err); p != nil {
		return p
	}
	var rerr *registry.Error
	if errors.As(err, &rerr) {
		return registryProblem(rerr)
	}
	if p := schedulerProblem(err); p != nil {
		return p
	}
	return secretsProblem(err)
}

// registryStatus gives each registry sentinel its status; the bundle
// sentinels also match registry.ErrInvalid, so they come first.
var registryStatus = []struct {
	kind   error
	status int
}{
	{registry.ErrBadBundle, http.StatusBadRequest},
	{registry.ErrTooLarge, http.StatusRequestEntityTooLarge},
	{registry.ErrUnsupportedMediaType, http.StatusUnsupportedMediaType},
	{registry.ErrInvalid, http.StatusUnprocessableEntity},
	{registry.ErrConflict, http.StatusConflict},
	{registry.ErrForbidden, http.StatusForbidden},
	{registry.ErrNotFound, http.StatusNotFound},
}

// registryProblem names every problem the registry found; its fields
// already name the bundle file or the manifest pointer.
func registryProblem(e *registry.Error) *StatusError {
	p := &StatusError{Status: http.StatusInternalServerError, Detail: "internal error", Err: e}
	for _, rs := range registryStatus {
		if errors.Is(e.Kind, rs.kind) {
			p.Status, p.Detail = rs.status, e.Message
			break
		}
	}
	for _, f := range e.Errors {
		field, ok := registryParams[f.Field]
		if !ok {
			field = f.Field
		}
		p.Fields = append(p.Fields, FieldError{Field: field, Message: f.Message})
	}
	return p
}

// registryParams maps the registry's parameter names to the request's;
// its other fields name a bundle file or a manifest pointer already.
var registryParams = map[string]string{
	"partner": "query.partner", "id": "path.connector", "version": "path.version", "error_type": "path.runbook",
}

func connectionsProblem(err error) *StatusError {
	var (
		fe   *connections.FieldError
		auth *connections.AuthError
	)
	switch {
	case errors.As(err, &fe):
		return newProblem(http.StatusUnprocessableEntity, "the request has invalid fields", FieldError{Field: "body." + fe.Field, Message: fe.Reason})
	case errors.As(err, &auth):
		// Reason is scrubbed of the connection's secrets by package
		// connections.
		return newProblem(http.StatusUnprocessableEntity, "the connection did not authorize", FieldError{Field: "body.credentials", Message: auth.Reason})
	case errors.Is(err, connections.ErrOAuthState):
		return newProblem(http.StatusBadRequest, "the OAuth state is unknown, used or expired", FieldError{Field: "query.state", Message: "start the flow again"})
	case errors.Is(err, connections.ErrNotFound):
		return newProblem(http.StatusNotFound, "no such connection")
	case errors.Is(err, connections.ErrConflict), errors.Is(err, connections.ErrState):
		return newProblem(http.StatusConflict, err.Error())
	case errors.Is(err, connections.ErrInvalid):
		return newProblem(http.StatusUnprocessableEntity, err.Error())
	}
	return nil
}

// schedulerFields maps the scheduler's field names to the request's.
var schedulerFields = map[string]string{"range.from": "body.from", "range.to": "body.to", "range": "body", "full": "body.full"}

func schedulerProblem(err error) *StatusError {
	var fe *scheduler.FieldError
	switch {
	case errors.As(err, &fe):
		field, ok := schedulerFields[fe.Field]
		if !ok {
			field = "body." + fe.Field
		}
		return newProblem(http.StatusUnprocessableEntity, "the request has invalid fields", FieldError{Field: field, Message: fe.Reason})
	case errors.Is(err, scheduler.ErrBusy):
		return newProblem(http.StatusConflict, err.Error())
	case errors.Is(err, scheduler.ErrQueueFull):
		return newProblem(http.StatusTooManyRequests, "too many runs are queued; retry later")
	case errors.Is(err, scheduler.ErrClosed):
		return &StatusError{Status: http.StatusServiceUnavailable, Detail: "the scheduler is shutting down", Err: err}
	case errors.Is(err, scheduler.ErrNotFound):
		return newProblem(http.StatusNotFound, "no such run")
	}
	return nil
}

// secretsFields maps the vault's field names to the request's.
var secretsFields = map[string]string{"value": "body.value", "secret name": "path.secret", "connection": "path.connection"}

func secretsProblem(err error) *StatusError {
	var fe *secrets.FieldError
	switch {
	case errors.As(err, &fe):
		field, ok := secretsFields[fe.Field]
		if !ok {
			field = "body." + fe.Field
		}
		return newProblem(http.StatusUnprocessableEntity, "the request has invalid fields", FieldError{Field: field, Message: fe.Reason})
	case errors.Is(err, secrets.ErrNotFound):
		return newProblem(http.StatusNotFound, "no such secret")
	}
	return nil // ErrSealed, ErrDataKey: server-side, a logged 500
}
