//go:build wasip1

package main

import pdk "github.com/extism/go-pdk"

// extismGet sends a GET through Extism's own http_request host function,
// the import this defect exists to carry.
func extismGet(url string) int {
	return int(pdk.NewHTTPRequest(pdk.MethodGet, url).Send().Status())
}
