package api

// hookRoutes lists the routes of this file; see routeTable.
func (s *Server) hookRoutes() []route { return nil }
