package api

// dlqRoutes lists the routes of this file; see routeTable.
func (s *Server) dlqRoutes() []route { return nil }
