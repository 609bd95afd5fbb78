package connector

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/guest-sdk/sdk"
)

// Actions.
const (
	ActionCreateUser     = "create_user"
	ActionGrantGroup     = "grant_group"
	ActionRevokeGroup    = "revoke_group"
	ActionDeactivateUser = "deactivate_user"
)

// Error types the connector reports beyond the SDK's, each naming a
// runbook (see the package documentation).
const (
	ErrorTypeConflict         = "conflict"
	ErrorTypeNotFound         = "not_found"
	ErrorTypeUnsupportedEvent = "unsupported_event"
	ErrorTypeBadEvent         = "bad_event"
)

// maxField mirrors the remote's own limit on text fields, so a bad
// parameter is refused before anything is sent.
const maxField = 256

const createUserParams = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["email", "name"],
  "properties": {
    "email": {"type": "string", "format": "email", "minLength": 3, "maxLength": 256},
    "name": {"type": "string", "minLength": 1, "maxLength": 256},
    "department": {"type": "string", "minLength": 1, "maxLength": 256},
    "title": {"type": "string", "minLength": 1, "maxLength": 256}
  }
}`

const membershipParams = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["user_id", "group_id"],
  "properties": {
    "user_id": {"type": "string", "minLength": 1, "maxLength": 256},
    "group_id": {"type": "string", "minLength": 1, "maxLength": 256}
  }
}`

const userParams = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "required": ["user_id"],
  "properties": {
    "user_id": {"type": "string", "minLength": 1, "maxLength": 256}
  }
}`

func actions() []protocol.Action {
	return []protocol.Action{
		{Name: ActionCreateUser, Description: "Create an active directory user.",
			Scopes: []string{ScopeUsersWrite}, Params: json.RawMessage(createUserParams)},
		{Name: ActionGrantGroup, Description: "Add a user to a group; a repeat changes nothing.",
			Scopes: []string{ScopeGroupsWrite}, Params: json.RawMessage(membershipParams), Inverse: ActionRevokeGroup},
		{Name: ActionRevokeGroup, Description: "Remove a user from a group; revoking a membership that is gone changes nothing.",
			Destructive: true, Scopes: []string{ScopeGroupsWrite}, Params: json.RawMessage(membershipParams)},
		{Name: ActionDeactivateUser, Description: "Suspend a user: they can no longer sign in.",
			Destructive: true, Scopes: []string{ScopeUsersWrite}, Params: json.RawMessage(userParams)},
	}
}

// actionParams holds every action's parameters; which are required
// depends on the action.
type actionParams struct {
	Email      string `json:"email,omitempty"`
	Name       string `json:"name,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
	UserID     string `json:"user_id,omitempty"`
	GroupID    string `json:"group_id,omitempty"`
}

// parseParams decodes and checks the parameters of action against the
// same rules as its JSON Schema (the host validates too; the connector
// does not trust that it did).
func parseParams(action string, raw json.RawMessage) (actionParams, error) {
	var p actionParams
	bad := func(format string, args ...any) error {
		return &sdk.TypedError{Type: sdk.ErrorTypeBadInput, Err: fmt.Errorf("%w: %s: %s", ErrBadParams, action, fmt.Sprintf(format, args...))}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage(`{}`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, bad("%v", err)
	}
	if dec.More() {
		return p, bad("trailing data after the parameters")
	}
	var required, allowed []string
	switch action {
	case ActionCreateUser:
		required, allowed = []string{"email", "name"}, []string{"department", "title"}
	case ActionGrantGroup, ActionRevokeGroup:
		required = []string{"user_id", "group_id"}
	case ActionDeactivateUser:
		required = []string{"user_id"}
	}
	fields := map[string]string{"email": p.Email, "name": p.Name, "department": p.Department, "title": p.Title, "user_id": p.UserID, "group_id": p.GroupID}
	for _, f := range required {
		if strings.TrimSpace(fields[f]) == "" {
			return p, bad("%s is required", f)
		}
	}
	for f, v := range fields {
		switch {
		case v == "":
		case !slices.Contains(required, f) && !slices.Contains(allowed, f):
			return p, bad("%s is not a parameter of this action", f)
		case len(v) > maxField:
			return p, bad("%s is longer than %d bytes", f, maxField)
		case strings.TrimSpace(v) == "":
			return p, bad("%s is blank", f)
		}
	}
	if p.Email != "" {
		local, domain, ok := strings.Cut(p.Email, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(p.Email, " \t\r\n") || strings.Contains(domain, "@") {
			return p, bad("email %q is not an email address", p.Email)
		}
	}
	return p, nil
}

// execute runs one action. A dry run checks the parameters and, for an
// existing user, that the remote knows them, with GETs only.
func execute(h *sdk.Host, req protocol.ExecuteRequest) (protocol.ExecuteResponse, error) {
	base, err := baseURL(req.Config)
	if err != nil {
		return protocol.ExecuteResponse{}, err
	}
	switch req.Action {
	case ActionCreateUser, ActionGrantGroup, ActionRevokeGroup, ActionDeactivateUser:
	default:
		return protocol.ExecuteResponse{}, &sdk.TypedError{Type: sdk.ErrorTypeUnsupported, Err: fmt.Errorf("%w: %q", ErrUnknownAction, req.Action)}
	}
	p, err := parseParams(req.Action, req.Params)
	if err != nil {
		return protocol.ExecuteResponse{}, err
	}
	if req.DryRun {
		return dryRun(h, base, req.Action, p)
	}
	w := writer{h: h, correlation: req.CorrelationID}
	switch req.Action {
	case ActionCreateUser:
		body, _ := json.Marshal(p) // strings only: cannot fail
		var out struct {
			ID       string `json:"id"`
			ChangeID string `json:"change_id"`
		}
		if _, err := w.send("POST", base+"/api/v1/users", body, &out); err != nil {
			return protocol.ExecuteResponse{}, err
		}
		return answer(out.ChangeID, map[string]string{"user_id": out.ID})
	case ActionGrantGroup:
		body, _ := json.Marshal(map[string]string{"user_id": p.UserID})
		var out struct {
			ChangeID string `json:"change_id"`
		}
		status, err := w.send("POST", base+"/api/v1/groups/"+url.PathEscape(p.GroupID)+"/members", body, &out)
		if err != nil {
			return protocol.ExecuteResponse{}, err
		}
		return answer(out.ChangeID, map[string]string{"user_id": p.UserID, "group_id": p.GroupID,
			"already_member": strconv.FormatBool(status == 200)})
	case ActionRevokeGroup:
		var out struct {
			ChangeID string `json:"change_id"`
		}
		_, err := w.send("DELETE", base+"/api/v1/groups/"+url.PathEscape(p.GroupID)+"/members/"+url.PathEscape(p.UserID), nil, &out)
		if code := problemCode(err); code == "not_member" {
			// Already revoked (a retry, or an expiry after a manual
			// removal): the desired state holds, nothing changed.
			return answer("", map[string]string{"user_id": p.UserID, "group_id": p.GroupID, "was_member": "false"})
		}
		if err != nil {
			return protocol.ExecuteResponse{}, err
		}
		return answer(out.ChangeID, map[string]string{"user_id": p.UserID, "group_id": p.GroupID, "was_member": "true"})
	default: // ActionDeactivateUser
		var out struct {
			ChangeID string `json:"change_id"`
			User     struct {
				Status string `json:"status"`
			} `json:"user"`
		}
		if _, err := w.send("POST", base+"/api/v1/users/"+url.PathEscape(p.UserID)+"/deactivate", nil, &out); err != nil {
			return protocol.ExecuteResponse{}, err
		}
		return answer(out.ChangeID, map[string]string{"user_id": p.UserID, "status": out.User.Status})
	}
}

func answer(changeID string, outputs map[string]string) (protocol.ExecuteResponse, error) {
	r := protocol.ExecuteResponse{Outputs: outputs}
	if changeID != "" {
		r.RemoteChangeIDs = []string{changeID}
	}
	return r, nil
}

// dryRun changes nothing: it reports what would be done, after checking
// that the user an action names exists.
func dryRun(h *sdk.Host, base, action string, p actionParams) (protocol.ExecuteResponse, error) {
	out := map[string]string{"dry_run": "true", "action": action}
	if p.UserID != "" {
		resp, err := h.Get(base + "/api/v1/users/" + url.PathEscape(p.UserID))
		if err != nil {
			return protocol.ExecuteResponse{}, err
		}
		if resp.Status == 404 {
			return protocol.ExecuteResponse{}, &sdk.TypedError{Type: ErrorTypeNotFound, Err: fmt.Errorf("%w: user %q", ErrRemoteRefused, p.UserID)}
		}
		if resp.Status/100 != 2 {
			return protocol.ExecuteResponse{}, &sdk.StatusError{Method: "GET", URL: base + "/api/v1/users/" + p.UserID, Status: resp.Status}
		}
		out["user_id"] = p.UserID
	}
	return protocol.ExecuteResponse{Outputs: out}, nil
}

// writer sends the writes of one action with its correlation id. The
// host sets X-Correlation-Id too; sending it here keeps the id on the
// remote's change log when the connector runs outside the host (tests).
type writer struct {
	h           *sdk.Host
	correlation string
}

// send makes one write and decodes a 2xx body into out. A refusal of
// the remote is an error typed by its status and problem code.
func (w writer) send(method, target string, body []byte, out any) (int, error) {
	headers := map[string]string{"Accept": "application/json"}
	if body != nil {
		headers["Content-Type"] = "application/json"
	}
	if w.correlation != "" {
		headers["X-Correlation-Id"] = w.correlation
	}
	resp, err := w.h.HTTP(protocol.HTTPRequest{Method: method, URL: target, Headers: headers, Body: body, Auth: "default"})
	if err != nil {
		return 0, err
	}
	if resp.Status/100 != 2 {
		return resp.Status, refusal(method, target, resp)
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return resp.Status, fmt.Errorf("%w: %s %s: %v", ErrBadRemote, method, target, err)
	}
	return resp.Status, nil
}

// remoteProblem is the part of the remote's RFC 9457 answer the
// connector reads. Detail is not copied into errors: it may hold data.
type remoteProblem struct {
	Code string `json:"code"`
}

// RemoteError is a write the remote refused with a 4xx the connector
// can name. It unwraps to ErrRemoteRefused.
type RemoteError struct {
	Method, URL string
	Status      int
	Code        string // the problem's code, e.g. "not_member"
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%v: %s %s: %d %s", ErrRemoteRefused, e.Method, e.URL, e.Status, e.Code)
}

func (e *RemoteError) Unwrap() error { return ErrRemoteRefused }

// refusal types a non-2xx answer: 404 not_found (and not_member), 409
// conflict and 400 bad_input name their runbooks; other statuses are a
// StatusError, which the SDK classifies (unauthorized, rate_limited,
// remote_unavailable, remote_error).
func refusal(method, target string, resp protocol.HTTPResponse) error {
	var p remoteProblem
	_ = json.Unmarshal(resp.Body, &p) // a body that is not a problem leaves the code empty
	re := &RemoteError{Method: method, URL: target, Status: resp.Status, Code: p.Code}
	switch resp.Status {
	case 404, 410:
		return &sdk.TypedError{Type: ErrorTypeNotFound, Err: re}
	case 409:
		return &sdk.TypedError{Type: ErrorTypeConflict, Err: re}
	case 400, 422:
		return &sdk.TypedError{Type: sdk.ErrorTypeBadInput, Err: re}
	}
	return &sdk.StatusError{Method: method, URL: target, Status: resp.Status}
}

// problemCode returns the remote problem code an error carries, or "".
func problemCode(err error) string {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}
