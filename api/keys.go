package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/sluicehq/sluice/store"
)

// KeyRequest is the body of POST /v1/keys.
type KeyRequest struct {
	// Role is admin, partner, tenant_admin or reviewer.
	Role string `json:"role"`
	// Partner is required for (and only for) a partner key.
	Partner string `json:"partner,omitempty"`
	// Tenant is required for (and only for) a tenant_admin key.
	Tenant string `json:"tenant,omitempty"`
	// Name is a label for people, at most 200 bytes.
	Name string `json:"name,omitempty"`
}

// KeyInfo is an API key as listed: never the key, never its hash.
type KeyInfo struct {
	ID        string    `json:"id"`
	Role      string    `json:"role"`
	Partner   string    `json:"partner,omitempty"`
	Tenant    string    `json:"tenant,omitempty"`
	Name      string    `json:"name,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// CreatedKey is the answer to POST /v1/keys: the only time the key is
// shown.
type CreatedKey struct {
	KeyInfo
	Key string `json:"key"`
}

func keyInfo(k store.APIKey) KeyInfo {
	return KeyInfo{ID: k.ID, Role: k.Role, Partner: k.Partner, Tenant: k.Tenant, Name: k.Name, CreatedAt: k.CreatedAt, RevokedAt: k.RevokedAt}
}

// keyFieldNames maps the store's field names to the request's.
var keyFieldNames = map[string]string{
	"api key role": "body.role", "api key partner": "body.partner",
	"api key tenant": "body.tenant", "api key name": "body.name",
}

// newKeyRecord draws a key for req and builds its record; the store
// validates the record and names the offending field.
func (s *Server) newKeyRecord(req KeyRequest) (key string, rec store.APIKey, err error) {
	key, id, hash, err := newKey(s.rand)
	if err != nil {
		return "", rec, err
	}
	return key, store.APIKey{
		ID: id, Role: req.Role, Partner: req.Partner, Tenant: req.Tenant, Name: req.Name,
		Hash: hash, CreatedAt: s.now().UTC(),
	}, nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) {
	var req KeyRequest
	if err := decodeBody(r, &req, false); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Role == "" {
		s.writeError(w, r, invalidField("body.role", "is required: admin, partner, tenant_admin or reviewer"))
		return
	}
	// A fresh 64-bit id collides with an existing one about never; try
	// a couple of times rather than fail on that chance.
	for range 3 {
		key, rec, err := s.newKeyRecord(req)
		if err == nil {
			err = s.db.Platform().CreateAPIKey(r.Context(), rec)
		}
		if errors.Is(err, store.ErrExists) {
			continue
		}
		if err != nil {
			s.writeError(w, r, renameFields(err, keyFieldNames))
			return
		}
		w.Header().Set("Location", "/v1/keys/"+rec.ID)
		writeJSON(w, http.StatusCreated, CreatedKey{KeyInfo: keyInfo(rec), Key: key})
		return
	}
	s.writeError(w, r, errors.New("api: could not draw an unused key id"))
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.db.Platform().APIKeys(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]KeyInfo, len(keys))
	for i, k := range keys {
		out[i] = keyInfo(k)
	}
	writeJSON(w, http.StatusOK, newList(out))
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	_, err := s.db.Platform().RevokeAPIKey(r.Context(), param(r, "key"), s.now())
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.key"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// pathNotFound turns a miss, or a malformed id in the path, into a 404
// naming the path parameter: a malformed id names nothing that could
// exist. Other errors pass through.
func pathNotFound(err error, field string) error {
	if err == nil {
		return nil
	}
	var sve *store.ValidationError
	malformed := errors.As(err, &sve) && storeIDFields[sve.Field]
	if malformed || classify(err).Status == http.StatusNotFound {
		return newProblem(http.StatusNotFound, "no such resource", FieldError{Field: field, Message: "names nothing that exists"})
	}
	return err
}

// storeIDFields are the store's names for ids that come from a path.
var storeIDFields = map[string]bool{
	"entity id": true, "receipt id": true, "run id": true, "api key id": true, "connection": true,
}
