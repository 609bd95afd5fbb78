package sandbox

import "net/http"

func (s *Server) handleAccount(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.account())
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
