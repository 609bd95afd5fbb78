//go:build !wasip1

package main

// extismGet stands in for the Extism call outside Wasm, where go-pdk's
// host imports do not compile; the defect exists only as a module.
func extismGet(string) int { return 0 }
