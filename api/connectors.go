package api

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sluicehq/sluice/engine"
	"github.com/sluicehq/sluice/manifest"
	"github.com/sluicehq/sluice/store"
)

// manifestSchema serves the JSON Schema that POST /v1/connectors
// validates connector.json against.
func (s *Server) manifestSchema(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/schema+json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(manifest.Schema)
}

// registryOrErr returns the registry, or a 501 if none is wired.
func (s *Server) registryOrErr() (Registry, error) {
	if s.registry == nil {
		return nil, notWired("registry")
	}
	return s.registry, nil
}

func (s *Server) uploadConnector(w http.ResponseWriter, r *http.Request) {
	reg, err := s.registryOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	partner := r.URL.Query().Get("partner")
	switch {
	case p.Role == store.RolePartner && partner != "" && partner != p.Partner:
		writeProblem(w, r, http.StatusForbidden, "a partner key uploads for its own partner only",
			FieldError{Field: "query.partner", Message: "must be empty or " + p.Partner})
		return
	case p.Role == store.RolePartner:
		partner = p.Partner
	case partner == "":
		s.writeError(w, r, invalidField("query.partner", "an admin upload names the partner that owns the connector"))
		return
	}
	// A backend may report the failed read of a body past the limit
	// (Config.MaxBundleBytes, when the body hides its length) as a
	// malformed bundle, its cause flattened to text (the registry's
	// parser does): the limit's error wins, so the answer is 413.
	body := &bodyReader{r: r.Body}
	v, err := reg.Upload(r.Context(), Upload{Partner: partner, UploadedBy: p.KeyID, ContentType: r.Header.Get("Content-Type"), Body: body})
	var tooLarge *http.MaxBytesError
	if err != nil && errors.As(body.err, &tooLarge) {
		err = body.err
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", versionPath(v.Connector, v.Version))
	writeJSON(w, http.StatusCreated, v)
}

// bodyReader remembers the error that ended the reading of a request
// body.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

func versionPath(connector, version string) string {
	return "/v1/connectors/" + url.PathEscape(connector) + "/versions/" + url.PathEscape(version)
}

func (s *Server) listConnectors(w http.ResponseWriter, r *http.Request) {
	reg, err := s.registryOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	partner := ""
	if p.Role == store.RolePartner {
		partner = p.Partner
	}
	cs, err := reg.Connectors(r.Context(), partner)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(cs))
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) {
	reg, err := s.registryOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	vs, err := reg.Versions(r.Context(), param(r, "connector"))
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.connector"))
		return
	}
	writeJSON(w, http.StatusOK, newList(vs))
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) {
	v, err := s.version(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) version(r *http.Request) (Version, error) {
	reg, err := s.registryOrErr()
	if err != nil {
		return Version{}, err
	}
	v, err := reg.Version(r.Context(), param(r, "connector"), param(r, "version"))
	return v, pathNotFound(err, "path.version")
}

func (s *Server) getModule(w http.ResponseWriter, r *http.Request) {
	reg, err := s.registryOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, v := param(r, "connector"), param(r, "version")
	wasm, err := reg.Module(r.Context(), c, v)
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.version"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/wasm")
	h.Set("Content-Length", strconv.Itoa(len(wasm)))
	h.Set("Content-Disposition", `attachment; filename="`+safeFilename(c+"-"+v)+`.wasm"`)
	// The digest is the module's identity: the ETag lets a reviewer
	// check the bytes against the version record and its receipts.
	h.Set("ETag", `"`+engine.Digest(wasm)+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(wasm)
}

// runbookRef is one runbook of a version.
type runbookRef struct {
	Name string `json:"name"`
	Href string `json:"href"`
}

func (s *Server) listRunbooks(w http.ResponseWriter, r *http.Request) {
	v, err := s.version(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]runbookRef, len(v.Runbooks))
	for i, name := range v.Runbooks {
		out[i] = runbookRef{Name: name, Href: versionPath(v.Connector, v.Version) + "/runbooks/" + url.PathEscape(name)}
	}
	writeJSON(w, http.StatusOK, newList(out))
}

func (s *Server) getRunbook(w http.ResponseWriter, r *http.Request) {
	reg, err := s.registryOrErr()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	md, err := reg.Runbook(r.Context(), param(r, "connector"), param(r, "version"), param(r, "runbook"))
	if err != nil {
		s.writeError(w, r, pathNotFound(err, "path.runbook"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/markdown; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(md)
}

// safeFilename keeps a header-safe subset of a file name.
func safeFilename(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
