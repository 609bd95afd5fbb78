package connections

import (
	"fmt"
	"slices"
	"time"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

const (
	maxInterval    = 366 * 24 * time.Hour
	maxSecretBytes = 16 << 10
	maxNameLen     = 128
)

// requiredCredentials are the credentials each auth kind cannot do
// without.
var requiredCredentials = map[string][]string{
	protocol.AuthOAuth2ClientCredentials: {engine.SecretClientID, engine.SecretClientSecret},
	protocol.AuthOAuth2AuthorizationCode: {engine.SecretClientID},
	protocol.AuthAPIKey:                  {engine.SecretAPIKey},
}

func (m *Manager) validateCreate(mf *protocol.Manifest, req *CreateRequest) error {
	if req.ID != "" && !validID(req.ID) {
		return &FieldError{Field: "id", Reason: "must match ^[a-z0-9][a-z0-9_-]{0,62}$"}
	}
	if err := checkScopes(mf, req.Scopes); err != nil {
		return err
	}
	if err := m.checkInterval(req.Interval); err != nil {
		return err
	}
	if err := checkCredentialNames(req.Credentials); err != nil {
		return err
	}
	if err := checkMinimisation(mf, req.Fields, req.PersistentIndexing); err != nil {
		return err
	}
	if err := checkRetention(mf, req.RetentionDays); err != nil {
		return err
	}
	for _, name := range requiredCredentials[mf.Auth.Kind] {
		if req.Credentials[name] == "" {
			return &FieldError{Field: "credentials." + name, Reason: "is required by auth " + mf.Auth.Kind}
		}
	}
	return m.checkConfig(mf, req.Config)
}

func (m *Manager) validateUpdate(mf *protocol.Manifest, req *UpdateRequest) error {
	if req.Scopes != nil {
		if err := checkScopes(mf, req.Scopes); err != nil {
			return err
		}
	}
	if req.Interval != nil {
		if err := m.checkInterval(*req.Interval); err != nil {
			return err
		}
	}
	if err := checkMinimisation(mf, req.Fields, req.PersistentIndexing); err != nil {
		return err
	}
	if err := checkRetention(mf, req.RetentionDays); err != nil {
		return err
	}
	if req.Config != nil {
		return m.checkConfig(mf, req.Config)
	}
	return nil
}

// checkScopes: granted scopes are a non-empty subset of the manifest's
// (empty only for a connector that declares none), without repeats.
func checkScopes(mf *protocol.Manifest, scopes []string) error {
	if len(scopes) == 0 && len(mf.Scopes) > 0 {
		return &FieldError{Field: "scopes", Reason: "grant at least one of the connector's scopes"}
	}
	for i, s := range scopes {
		field := fmt.Sprintf("scopes[%d]", i)
		if !slices.ContainsFunc(mf.Scopes, func(ms protocol.Scope) bool { return ms.Name == s }) {
			return &FieldError{Field: field, Reason: fmt.Sprintf("%q is not a scope of connector %s %s", s, mf.ID, mf.Version)}
		}
		if slices.Contains(scopes[:i], s) {
			return &FieldError{Field: field, Reason: fmt.Sprintf("%q is granted twice", s)}
		}
	}
	return nil
}

func (m *Manager) checkInterval(d time.Duration) error {
	if d != 0 && (d < m.cfg.MinInterval || d > maxInterval) {
		return &FieldError{Field: "interval", Reason: fmt.Sprintf("must be 0 (no scheduled syncs) or between %v and %v", m.cfg.MinInterval, maxInterval)}
	}
	return nil
}

// checkConfig fills the manifest's OAuth endpoints from cfg, so a missing
// {{config:KEY}} or a non-https endpoint is refused now, not at the first
// run.
func (m *Manager) checkConfig(mf *protocol.Manifest, cfg protocol.Config) error {
	switch mf.Auth.Kind {
	case protocol.AuthOAuth2ClientCredentials, protocol.AuthOAuth2AuthorizationCode:
		if _, err := m.cfg.Engine.OAuthClient(mf, cfg); err != nil {
			return &FieldError{Field: "config", Reason: err.Error()}
		}
	}
	return nil
}

func checkCredentialNames(creds map[string]string) error {
	for name, v := range creds {
		field := "credentials." + name
		switch {
		case !validName(name):
			return &FieldError{Field: "credentials", Reason: fmt.Sprintf("name %q must be 1-128 characters of [A-Za-z0-9._:-], starting with a letter or digit", truncate(name, 80))}
		case name == tokenSecret:
			return &FieldError{Field: field, Reason: "is reserved for the tokens of the OAuth flow"}
		case v == "":
			return &FieldError{Field: field, Reason: "must not be empty"}
		case len(v) > maxSecretBytes:
			return &FieldError{Field: field, Reason: fmt.Sprintf("must be at most %d bytes", maxSecretBytes)}
		}
	}
	return nil
}

// validID matches the store's ^[a-z0-9][a-z0-9_-]{0,62}$.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-')) {
			return false
		}
	}
	return true
}

// validName matches the store's secret names.
func validName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '.' || c == '_' || c == ':' || c == '-')) {
			return false
		}
	}
	return true
}
