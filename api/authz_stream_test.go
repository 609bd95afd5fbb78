package api_test

// streamRows: the outbound stream of a connection (api/stream.go), a
// tenant admin's or an admin's. ?timeout= ends the long-lived response
// so the row's 200 can be read whole.
func (w *world) streamRows() []tableRow {
	row := get(conn+"/stream", crm+"/stream?timeout=1ms", tenantOnly(200))
	row.backend = "streams"
	return []tableRow{row}
}
