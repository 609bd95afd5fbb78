package api

// actionRoutes lists the routes of this file; see routeTable.
func (s *Server) actionRoutes() []route { return nil }
